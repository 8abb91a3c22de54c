#pragma once
// A small scripted HTTP/1.1 server on 127.0.0.1 for telemetry tests: every request is answered by
// a callback (status, body, delay, or dropping the connection). Keep-alive, one thread per
// connection. stop() takes it down (later connections are refused), as a crashed server would.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace llmbench::telemetry::testing {

struct ScriptedResponse {
  int status = 200;
  std::string body;
  int delay_ms = 0;
  bool drop_connection = false;  // close without answering
};

class MetricsServer {
 public:
  // `respond(n, target)`: n counts requests from 0. Called on connection threads.
  explicit MetricsServer(std::function<ScriptedResponse(uint64_t n, const std::string& target)> respond);
  ~MetricsServer();
  uint16_t port() const;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  uint64_t requests() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmbench::telemetry::testing

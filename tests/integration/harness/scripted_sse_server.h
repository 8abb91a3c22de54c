#pragma once
// A small scripted OpenAI-style streaming server for the load generator's integration tests:
// real HTTP/1.1 over loopback (keep-alive, chunked SSE), a script per request (delays, token
// count, faults), and what it saw (arrival times, peak concurrency). Plain POSIX sockets, one
// thread per connection; bound to 127.0.0.1 on an ephemeral port.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmbench::testing {

struct ResponseScript {
  int status = 200;             // != 200: a JSON error body with this status
  int64_t ttft_ms = 0;          // delay before the first token event
  int64_t itl_ms = 0;           // delay between token events
  int32_t tokens = 4;           // token events to send
  bool per_chunk_usage = true;  // usage.completion_tokens in every chunk
  int32_t close_after = -1;     // close the connection after this many token events (mid-stream)
  int32_t malformed_at = -1;    // send a broken JSON event instead of this token event
  int32_t stall_at = -1;        // stop sending (but keep the connection) before this token event
  int64_t stall_ms = 5000;
};

class ScriptedSseServer {
 public:
  // `script(i)` gives the script for the i-th request received (0-based).
  explicit ScriptedSseServer(std::function<ResponseScript(int64_t)> script);
  ~ScriptedSseServer();
  uint16_t port() const { return port_; }
  std::string base_url() const;

  int64_t requests() const { return requests_.load(); }
  int64_t peak_in_flight() const { return peak_.load(); }
  std::vector<int64_t> arrival_ns() const;  // steady-clock time each request's headers were read

 private:
  void accept_loop();
  void serve(int fd);
  bool respond(int fd, int64_t index);

  std::function<ResponseScript(int64_t)> script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> peak_{0};
  mutable std::mutex mutex_;
  std::vector<int64_t> arrivals_;
  std::vector<int> client_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace llmbench::testing

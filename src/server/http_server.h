#pragma once
// `llmbench serve`'s HTTP front end: OpenAI-compatible (vLLM) and TGI routes over Boost.Beast, in
// front of an engine::Engine. I/O threads parse requests, submit them to the engine and format its
// outputs; they never touch the model. Outputs come back on the engine thread through the request's
// callback, which only queues them and posts a wake-up to the connection's strand.
//
// Routes: POST /v1/completions, /v1/chat/completions, /generate, /generate_stream, /tokenize,
// /detokenize; GET /v1/models, /health, /version, /metrics. See docs in api_format.h for formats.
#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/server_options.h"

namespace llmbench::server {

class HttpServer {
 public:
  // The engine must outlive nothing in particular: the server keeps a reference to it.
  HttpServer(ServerOptions options, std::shared_ptr<engine::Engine> engine);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then runs the I/O threads. Throws std::runtime_error when the address can't be bound.
  void start();
  // The bound port (the real one when options.port was 0). Valid after start().
  uint16_t port() const;
  std::string url() const;  // http://host:port
  // Thread-safe and idempotent: stops accepting, aborts in-flight generations, joins the I/O threads.
  void stop();
  size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmbench::server

#pragma once
// Settings of the HTTP front end of `llmbench serve` (the engine has its own EngineOptions).
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmbench::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;                      // 0 = let the kernel pick a free port (see HttpServer::port())
  std::string served_model_name;             // name clients must send in "model" (empty = "llmbench")
  std::string api_key;                       // when set, every route but /health needs "Authorization: Bearer <key>"
  int threads = 1;                           // I/O threads (HTTP parsing and formatting); the model has its own thread
  size_t max_body_bytes = 8u << 20;          // request bodies above this get 413
  size_t max_header_bytes = 16u << 10;       // request heads above this get 431 and the connection closes
  int64_t request_read_timeout_ms = 30'000;  // head + body must arrive within this (slow senders are cut)
  int64_t keep_alive_timeout_ms = 120'000;   // idle keep-alive connections are closed after this
  int max_queue = 4096;                      // waiting requests (engine stats) beyond which new ones get 503
  int retry_after_s = 1;                     // Retry-After on 503
  bool log_requests = false;                 // one access-log line per request on stderr (never the API key)
};

}  // namespace llmbench::server

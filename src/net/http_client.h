#pragma once
// Event-driven HTTP/1.1 client (Boost.Asio/Beast behind a pimpl, so callers never include Boost).
//
// Threading: an EventLoop owns one io_context and is run by exactly one thread. Every callback of a
// request is invoked on that thread. Handlers only stamp times and copy bytes; parsing and
// aggregation happen elsewhere (as oha does).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/transport.h"

namespace llmbench::net {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;
  std::string target;  // path + query, starts with '/'

  // Parses "http[s]://host[:port][/path]". Returns nullopt and sets *error on bad input.
  static std::optional<Url> parse(std::string_view text, std::string* error);
  std::string origin() const;  // scheme://host:port
};

// One event loop = one io_context = one thread. post_at schedules on the absolute steady clock.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void run();                           // runs until stop() or until no work is left and no guard is held
  void stop();                          // thread-safe
  void post(std::function<void()> fn);  // thread-safe
  void post_at(int64_t steady_ns, std::function<void()> fn);  // runs fn at (or just after) steady_ns
  // Keeps run() alive while no requests are pending; release by resetting the returned handle.
  std::shared_ptr<void> keep_alive();
  void* native_handle();  // the boost::asio::io_context*, for code inside the net module only

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ClientOptions {
  // Timeouts: a value <= 0 disables that timeout.
  int64_t connect_timeout_ms = 10'000;  // TCP connect + TLS handshake
  int64_t read_timeout_ms = 60'000;     // longest silence between two reads once sent
  int64_t total_timeout_ms = 600'000;   // whole request, from send to end of body
  bool verify_tls = true;
  size_t max_connections_per_host = 4096;
  size_t max_body_bytes = 256u << 20;                        // a response larger than this fails the request
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  std::string bearer_token;                                  // "Authorization: Bearer ..." when not empty
};

struct HttpRequest {
  std::string method = "POST";
  std::string target;  // path + query; empty means the base URL's target
  std::string body;    // pre-built before the clock starts
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

enum class FailureKind : uint8_t {
  kNone = 0,
  kConnectRefused,
  kConnectTimeout,
  kDns,
  kTls,
  kReadTimeout,
  kTotalTimeout,
  kConnectionClosed,  // peer closed before the response completed
  kHttpStatus,        // status >= 400 (body is still delivered)
  kProtocol,          // malformed HTTP
  kBodyTooLarge,
  kCancelled,
  kOther,
  kAdapterExited,    // exec backend: the engine adapter exited or closed its stdout
  kAdapterProtocol,  // exec backend: the adapter wrote a line that is not a known JSON message
  kAdapterError,     // exec backend: the adapter answered the request with an error
};
const char* to_string(FailureKind kind);

struct Outcome {
  FailureKind failure = FailureKind::kNone;
  std::string detail;  // human-readable reason, empty on success
  int http_status = 0;
};

// Receives one request's events on the loop thread. Timestamps are steady-clock ns taken when the
// bytes came off the socket, before any parsing.
class ResponseHandler {
 public:
  virtual ~ResponseHandler() = default;
  virtual void on_sent(int64_t sent_ns) { (void)sent_ns; }  // request fully written
  virtual void on_headers(int status, std::string_view content_type, int64_t arrived_ns) {
    (void)status, (void)content_type, (void)arrived_ns;
  }
  // Body bytes after de-chunking, in arrival order. `data` is valid only during the call.
  virtual void on_body(std::string_view data, int64_t arrived_ns) = 0;
  // Engines that report their own stamps (the exec backend): the engine's steady-clock time of the
  // first token, before the bytes that carry it are delivered through on_body.
  virtual void on_engine_first_token(int64_t engine_ns) { (void)engine_ns; }
  // Exactly once per request, last.
  virtual void on_complete(const Outcome& outcome, int64_t end_ns) = 0;
};

// Keep-alive connection pool to one origin. Not thread-safe: use from its loop's thread
// (or post() to it).
class HttpClient : public Transport {
 public:
  HttpClient(EventLoop& loop, Url base_url, ClientOptions options);
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request now. `handler` must outlive on_complete. Returns an id usable with cancel().
  uint64_t send(const HttpRequest& request, ResponseHandler* handler) override;
  void cancel(uint64_t request_id) override;  // completes the request with kCancelled
  void cancel_all() override;
  size_t open_connections() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmbench::net

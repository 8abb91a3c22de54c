// EventLoop and HttpClient on Boost.Asio + Beast (the only translation unit of the client that
// includes Boost).
//
// Design, per connection: one flat read buffer reused for every read; bytes are stamped with
// now_ns() the moment the read completes and then fed to a callback-style Beast parser
// (http::basic_parser) whose body callbacks hand the de-chunked bytes straight to the handler, so
// the body is never copied or accumulated. Timeouts use one steady_timer per connection that is
// re-armed lazily (a read only stores its stamp; the timer, when it fires, checks the deadline and
// re-arms if the connection was active), so the hot path does no timer work. Failures never
// complete a request from inside another callback: they close the socket, and the aborted I/O
// completion then finishes the request.
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <deque>
#include <unordered_map>

#include "core/clock.h"
#include "net/http_client.h"

namespace llmbench::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------------
// EventLoop

struct EventLoop::Impl {
  asio::io_context ioc{1};
  std::atomic<bool> stop_requested{false};
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}
EventLoop::~EventLoop() = default;

void EventLoop::run() {
  if (impl_->stop_requested.exchange(false)) return;
  impl_->ioc.restart();
  impl_->ioc.run();
  impl_->stop_requested.store(false);
}

void EventLoop::stop() {
  impl_->stop_requested.store(true);
  impl_->ioc.stop();
}

void EventLoop::post(std::function<void()> fn) {
  asio::post(impl_->ioc, std::move(fn));
}

void EventLoop::post_at(int64_t steady_ns, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->ioc);
  timer->expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(steady_ns)));
  timer->async_wait([timer, fn = std::move(fn)](const error_code&) { fn(); });
}

std::shared_ptr<void> EventLoop::keep_alive() {
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  return std::make_shared<Guard>(impl_->ioc.get_executor());
}

void* EventLoop::native_handle() {
  return &impl_->ioc;
}

// ---------------------------------------------------------------------------------------------
// HttpClient

namespace {

constexpr size_t kReadBufferBytes = 16 * 1024;  // per connection, reused for every read
constexpr size_t kMinReadBytes = 4 * 1024;
constexpr uint32_t kHeaderLimitBytes = 64 * 1024;
constexpr int64_t kNever = INT64_MAX / 4;  // a deadline that never comes (timeout <= 0 disables it)

int64_t deadline_after(int64_t base_ns, int64_t timeout_ms) {
  return timeout_ms > 0 ? base_ns + timeout_ms * 1'000'000 : kNever;
}

struct PendingRequest {
  uint64_t id = 0;
  std::string wire;  // serialized request line + headers + body
  bool head = false;
  ResponseHandler* handler = nullptr;
  int64_t submitted_ns = 0;
  int64_t total_deadline_ns = 0;
  bool retried = false;  // already re-sent once after a stale keep-alive connection
};

enum class ConnState : uint8_t { kConnecting, kIdle, kActive, kClosed };

struct Connection;

// Beast's callback parser: hands body bytes (de-chunked) to the request's handler as they parse.
class ResponseParser final : public http::basic_parser<false> {
 public:
  explicit ResponseParser(Connection* conn) : conn_(conn) {}
  int status = 0;
  std::string reason;
  std::string content_type;
  std::string retry_after;
  uint64_t body_bytes = 0;

 private:
  using sv = beast::string_view;
  void on_request_impl(http::verb, sv, sv, int, error_code&) override {}
  void on_response_impl(int code, sv reason_text, int, error_code&) override {
    status = code;
    reason.assign(reason_text.data(), reason_text.size());
  }
  void on_field_impl(http::field name, sv, sv value, error_code&) override {
    if (name == http::field::content_type) content_type.assign(value.data(), value.size());
    if (name == http::field::retry_after) retry_after.assign(value.data(), value.size());
  }
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(sv body, error_code& ec) override { return deliver({body.data(), body.size()}, ec); }
  void on_chunk_header_impl(std::uint64_t, sv, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, sv body, error_code& ec) override {
    return deliver({body.data(), body.size()}, ec);
  }
  size_t deliver(std::string_view body, error_code& ec);
  void on_finish_impl(error_code&) override {}

  Connection* conn_;
};

class ClientCore {
 public:
  ClientCore(EventLoop& loop_in, Url url_in, ClientOptions options_in);
  ~ClientCore();

  uint64_t send(const HttpRequest& request, ResponseHandler* handler);
  void cancel(uint64_t id);
  void cancel_all();

  void dispatch(std::unique_ptr<PendingRequest> req, bool fresh_connection);
  void open_connection(std::unique_ptr<PendingRequest> req);
  void start_request(const std::shared_ptr<Connection>& c, std::unique_ptr<PendingRequest> req);
  void start_connect(const std::shared_ptr<Connection>& c, tcp::resolver::results_type endpoints);
  void start_handshake(const std::shared_ptr<Connection>& c);
  void start_write(const std::shared_ptr<Connection>& c);
  void start_read(const std::shared_ptr<Connection>& c);
  void on_read(const std::shared_ptr<Connection>& c, const error_code& ec, size_t n, int64_t stamp_ns);
  void on_timer(const std::shared_ptr<Connection>& c);
  void arm_timer(const std::shared_ptr<Connection>& c, int64_t deadline_ns);

  // Marks the connection's request as failed and closes the socket; the aborted I/O completion
  // then calls finish(). Safe from any callback, including the request's own handler.
  void fail(Connection* c, FailureKind kind, std::string detail);
  // Completes the connection's request (from an I/O completion only) and recycles or closes it.
  void finish(const std::shared_ptr<Connection>& c, Outcome outcome, int64_t end_ns, bool reusable);
  // Completes an I/O error: retries once on a stale keep-alive connection, else finishes.
  void finish_error(const std::shared_ptr<Connection>& c, FailureKind kind, std::string detail);
  void close(Connection* c);
  void remove(Connection* c);
  void pump_queue();
  void arm_queue_timer();

  std::string describe(const error_code& ec) const;

  EventLoop& loop;
  asio::io_context& ioc;
  Url url;
  ClientOptions options;
  std::string host_header;
  std::string common_headers;  // pre-rendered "Name: value\r\n" lines sent with every request
  std::unique_ptr<ssl::context> tls_ctx;
  std::optional<tcp::resolver::results_type> resolved;  // cached after the first resolution
  bool host_is_ip = false;

  uint64_t next_id = 1;
  std::vector<std::shared_ptr<Connection>> connections;
  std::vector<Connection*> idle;                      // LIFO: the most recently used is the most likely alive
  std::deque<std::unique_ptr<PendingRequest>> queue;  // waiting for a connection slot
  std::unordered_map<uint64_t, Connection*> active;   // request id -> its connection
  asio::steady_timer queue_timer;
  bool queue_timer_armed = false;
};

struct Connection {
  Connection(ClientCore* owner_in, asio::io_context& ioc) : owner(owner_in), sock(ioc), timer(ioc) {
    buffer.reserve(kReadBufferBytes);
  }

  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(sock);
    }
  }

  ClientCore* owner;  // null once the client is gone
  tcp::socket sock;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  std::unique_ptr<tcp::resolver> resolver;
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  std::optional<ResponseParser> parser;
  std::unique_ptr<PendingRequest> req;
  ConnState state = ConnState::kConnecting;
  size_t index = 0;  // position in Impl::connections
  bool reused = false;
  bool got_response_bytes = false;
  bool headers_delivered = false;
  int64_t read_stamp_ns = 0;  // stamp of the read being parsed
  int64_t last_activity_ns = 0;
  int64_t connect_deadline_ns = 0;
  int64_t timer_expiry_ns = 0;
  uint64_t timer_gen = 0;
  bool timer_armed = false;
  FailureKind pending = FailureKind::kNone;
  std::string pending_detail;
};

void ResponseParser::on_header_impl(error_code& ec) {
  if (status >= 100 && status < 200) return;  // interim response: the real one follows
  conn_->headers_delivered = true;
  conn_->req->handler->on_headers(status, content_type, conn_->read_stamp_ns);
  if (conn_->pending != FailureKind::kNone) ec = asio::error::operation_aborted;  // cancelled by handler
}

size_t ResponseParser::deliver(std::string_view body, error_code& ec) {
  if (conn_->pending != FailureKind::kNone) {  // cancelled earlier in this same read: deliver nothing more
    ec = asio::error::operation_aborted;
    return 0;
  }
  body_bytes += body.size();
  conn_->req->handler->on_body(body, conn_->read_stamp_ns);
  if (conn_->pending != FailureKind::kNone) ec = asio::error::operation_aborted;  // cancelled by handler
  return body.size();
}

bool is_closed_by_peer(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated || ec == asio::error::connection_aborted;
}

bool header_value_ok(std::string_view v) {
  return v.find_first_of("\r\n") == std::string_view::npos;
}

ClientCore::ClientCore(EventLoop& loop_in, Url url_in, ClientOptions options_in)
    : loop(loop_in),
      ioc(*static_cast<asio::io_context*>(loop_in.native_handle())),
      url(std::move(url_in)),
      options(std::move(options_in)),
      queue_timer(ioc) {
  if (options.max_connections_per_host == 0) options.max_connections_per_host = 1;
  const bool v6 = url.host.find(':') != std::string::npos;
  host_header = v6 ? "[" + url.host + "]" : url.host;
  const bool default_port = (url.scheme == "https" && url.port == 443) || (url.scheme == "http" && url.port == 80);
  if (!default_port) host_header += ":" + std::to_string(url.port);
  error_code ec;
  asio::ip::make_address(url.host, ec);
  host_is_ip = !ec;
  if (host_is_ip) {
    resolved = tcp::resolver::results_type::create(tcp::endpoint(asio::ip::make_address(url.host), url.port), url.host,
                                                   std::to_string(url.port));
  }
  bool has_user_agent = false;
  for (const auto& [name, value] : options.headers) {
    if (!header_value_ok(name) || !header_value_ok(value) || name.empty()) continue;
    std::string lower_name;
    for (char ch : name) lower_name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    if (lower_name == "user-agent") has_user_agent = true;
    common_headers += name + ": " + value + "\r\n";
  }
  if (!has_user_agent) common_headers += "User-Agent: llmbench\r\n";
  if (!options.bearer_token.empty() && header_value_ok(options.bearer_token)) {
    common_headers += "Authorization: Bearer " + options.bearer_token + "\r\n";
  }
  if (url.scheme == "https") {
    tls_ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    if (options.verify_tls) {
      tls_ctx->set_default_verify_paths();
      tls_ctx->set_verify_mode(ssl::verify_peer);
    } else {
      tls_ctx->set_verify_mode(ssl::verify_none);
    }
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(tls_ctx->native_handle(), kAlpn, sizeof(kAlpn));
  }
}

ClientCore::~ClientCore() {
  // Complete whatever is still in flight, then detach the connections: their pending completions
  // run later (if the loop runs again) and see owner == nullptr.
  std::vector<ResponseHandler*> handlers;
  for (auto& c : connections) {
    if (c->req) handlers.push_back(c->req->handler);
    c->req.reset();
    c->owner = nullptr;
    close(c.get());
  }
  for (auto& q : queue) handlers.push_back(q->handler);
  queue.clear();
  queue_timer.cancel();
  Outcome out{FailureKind::kCancelled, "client destroyed", 0};
  for (auto* h : handlers) h->on_complete(out, now_ns());
}

uint64_t ClientCore::send(const HttpRequest& request, ResponseHandler* handler) {
  auto req = std::make_unique<PendingRequest>();
  req->id = next_id++;
  req->handler = handler;
  req->submitted_ns = now_ns();
  req->total_deadline_ns = deadline_after(req->submitted_ns, options.total_timeout_ms);
  req->head = request.method == "HEAD";
  const std::string& target = request.target.empty() ? url.target : request.target;
  std::string& w = req->wire;
  w.reserve(256 + common_headers.size() + request.body.size());
  w += request.method.empty() ? "GET" : request.method;
  w += ' ';
  w += target;
  w += " HTTP/1.1\r\nHost: ";
  w += host_header;
  w += "\r\n";
  w += common_headers;
  bool ok = header_value_ok(request.method) && header_value_ok(target) && header_value_ok(request.content_type);
  for (const auto& [name, value] : request.headers) {
    ok = ok && !name.empty() && header_value_ok(name) && header_value_ok(value);
    w += name;
    w += ": ";
    w += value;
    w += "\r\n";
  }
  if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD")) {
    if (!request.content_type.empty()) {
      w += "Content-Type: ";
      w += request.content_type;
      w += "\r\n";
    }
    w += "Content-Length: ";
    w += std::to_string(request.body.size());
    w += "\r\n";
  }
  w += "\r\n";
  w += request.body;
  const uint64_t id = req->id;
  if (!ok) {
    asio::post(ioc, [handler, end = now_ns()] {
      handler->on_complete(Outcome{FailureKind::kOther, "request has a CR or LF in its method, target or a header", 0},
                           end);
    });
    return id;
  }
  dispatch(std::move(req), false);
  return id;
}

void ClientCore::dispatch(std::unique_ptr<PendingRequest> req, bool fresh_connection) {
  if (!fresh_connection && !idle.empty()) {
    Connection* c = idle.back();
    idle.pop_back();
    start_request(connections[c->index], std::move(req));
    return;
  }
  if (connections.size() < options.max_connections_per_host) {
    open_connection(std::move(req));
    return;
  }
  if (fresh_connection && !idle.empty()) {  // at the limit: recycle an idle slot for a fresh socket
    Connection* c = idle.back();
    idle.pop_back();
    close(c);
    remove(c);
    open_connection(std::move(req));
    return;
  }
  if (fresh_connection) {
    queue.push_front(std::move(req));
  } else {
    queue.push_back(std::move(req));
  }
  arm_queue_timer();
}

void ClientCore::open_connection(std::unique_ptr<PendingRequest> req) {
  auto c = std::make_shared<Connection>(this, ioc);
  c->index = connections.size();
  connections.push_back(c);
  c->state = ConnState::kConnecting;
  c->req = std::move(req);
  active[c->req->id] = c.get();
  const int64_t now = now_ns();
  c->connect_deadline_ns = deadline_after(now, options.connect_timeout_ms);
  c->last_activity_ns = now;
  arm_timer(c, std::min(c->connect_deadline_ns, c->req->total_deadline_ns));
  if (resolved) {
    start_connect(c, *resolved);
    return;
  }
  c->resolver = std::make_unique<tcp::resolver>(ioc);
  c->resolver->async_resolve(
      url.host, std::to_string(url.port), [c](const error_code& ec, tcp::resolver::results_type results) {
        ClientCore* self = c->owner;
        if (!self || c->state == ConnState::kClosed) return;
        if (c->pending != FailureKind::kNone) {
          self->finish_error(c, c->pending, c->pending_detail);
        } else if (ec) {
          self->finish_error(c, FailureKind::kDns, "cannot resolve '" + self->url.host + "': " + ec.message());
        } else {
          self->resolved = results;
          self->start_connect(c, std::move(results));
        }
      });
}

void ClientCore::start_connect(const std::shared_ptr<Connection>& c, tcp::resolver::results_type endpoints) {
  asio::async_connect(c->sock, endpoints, [c](const error_code& ec, const tcp::endpoint&) {
    ClientCore* self = c->owner;
    if (!self || c->state == ConnState::kClosed) return;
    if (c->pending != FailureKind::kNone) return self->finish_error(c, c->pending, c->pending_detail);
    if (ec) {
      const std::string where = " (" + self->url.origin() + ")";
      if (ec == asio::error::connection_refused) {
        return self->finish_error(c, FailureKind::kConnectRefused, "connection refused" + where);
      }
      if (ec == asio::error::timed_out) {
        return self->finish_error(c, FailureKind::kConnectTimeout, "connect timed out" + where);
      }
      return self->finish_error(c, FailureKind::kOther, "connect failed: " + ec.message() + where);
    }
    error_code ignored;
    c->sock.set_option(tcp::no_delay(true), ignored);
    if (self->tls_ctx) {
      self->start_handshake(c);
    } else {
      self->start_write(c);
    }
  });
}

void ClientCore::start_handshake(const std::shared_ptr<Connection>& c) {
  c->tls = std::make_unique<ssl::stream<tcp::socket&>>(c->sock, *tls_ctx);
  if (!host_is_ip) SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str());
  if (options.verify_tls) c->tls->set_verify_callback(ssl::host_name_verification(url.host));
  c->tls->async_handshake(ssl::stream_base::client, [c](const error_code& ec) {
    ClientCore* self = c->owner;
    if (!self || c->state == ConnState::kClosed) return;
    if (c->pending != FailureKind::kNone) return self->finish_error(c, c->pending, c->pending_detail);
    if (ec) return self->finish_error(c, FailureKind::kTls, "TLS handshake failed: " + self->describe(ec));
    self->start_write(c);
  });
}

void ClientCore::start_request(const std::shared_ptr<Connection>& c, std::unique_ptr<PendingRequest> req) {
  c->req = std::move(req);
  c->reused = true;
  active[c->req->id] = c.get();
  start_write(c);
}

void ClientCore::start_write(const std::shared_ptr<Connection>& c) {
  c->state = ConnState::kActive;
  c->got_response_bytes = false;
  c->headers_delivered = false;
  c->parser.emplace(c.get());
  c->parser->eager(true);
  c->parser->header_limit(kHeaderLimitBytes);
  c->parser->body_limit(options.max_body_bytes);
  if (c->req->head) c->parser->skip(true);
  const int64_t now = now_ns();
  c->last_activity_ns = now;
  arm_timer(c, std::min(deadline_after(now, options.read_timeout_ms), c->req->total_deadline_ns));
  c->with_stream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(c->req->wire), [c](const error_code& ec, size_t) {
      const int64_t stamp = now_ns();
      ClientCore* self = c->owner;
      if (!self || c->state == ConnState::kClosed) return;
      if (c->pending != FailureKind::kNone) return self->finish_error(c, c->pending, c->pending_detail);
      if (ec) {
        if (is_closed_by_peer(ec)) {
          return self->finish_error(c, FailureKind::kConnectionClosed,
                                    "connection closed while sending the request: " + ec.message());
        }
        return self->finish_error(c, FailureKind::kOther, "write failed: " + self->describe(ec));
      }
      c->last_activity_ns = stamp;
      c->req->handler->on_sent(stamp);
      if (c->pending != FailureKind::kNone) return self->finish_error(c, c->pending, c->pending_detail);
      self->start_read(c);
    });
  });
}

void ClientCore::start_read(const std::shared_ptr<Connection>& c) {
  const size_t space = std::max(kMinReadBytes, c->buffer.capacity() - c->buffer.size());
  auto buffers = c->buffer.prepare(space);
  c->with_stream([&](auto& stream) {
    stream.async_read_some(buffers, [c](const error_code& ec, size_t n) {
      const int64_t stamp = now_ns();  // before anything else: this is the arrival time
      if (ClientCore* self = c->owner) self->on_read(c, ec, n, stamp);
    });
  });
}

void ClientCore::on_read(const std::shared_ptr<Connection>& c, const error_code& ec, size_t n, int64_t stamp_ns) {
  if (c->state == ConnState::kClosed) return;
  if (c->pending != FailureKind::kNone) return finish_error(c, c->pending, c->pending_detail);
  if (ec) {
    if (is_closed_by_peer(ec)) {
      error_code pec;
      if (c->got_response_bytes) c->parser->put_eof(pec);
      if (c->got_response_bytes && !pec && c->parser->is_done()) {  // body delimited by close
        const int status = c->parser->status;
        Outcome out{status >= 400 ? FailureKind::kHttpStatus : FailureKind::kNone, "", status};
        if (status >= 400) out.detail = "HTTP " + std::to_string(status) + " " + c->parser->reason;
        return finish(c, std::move(out), stamp_ns, false);
      }
      std::string detail;
      if (!c->got_response_bytes) {
        detail = "connection closed before the response headers";
      } else if (!c->headers_delivered) {
        detail = "connection closed in the middle of the response headers";
      } else {
        detail = "connection closed mid-body after " + std::to_string(c->parser->body_bytes) + " body bytes";
      }
      if (ec != asio::error::eof) detail += " (" + ec.message() + ")";
      return finish_error(c, FailureKind::kConnectionClosed, std::move(detail));
    }
    if (ec.category() == asio::error::get_ssl_category()) {
      return finish_error(c, FailureKind::kTls, "TLS read failed: " + describe(ec));
    }
    return finish_error(c, FailureKind::kOther, "read failed: " + ec.message());
  }
  c->buffer.commit(n);
  c->read_stamp_ns = stamp_ns;
  c->last_activity_ns = stamp_ns;
  c->got_response_bytes = true;
  while (c->buffer.size() > 0) {
    error_code pec;
    const size_t used = c->parser->put(c->buffer.data(), pec);
    c->buffer.consume(used);
    if (c->pending != FailureKind::kNone) return finish_error(c, c->pending, c->pending_detail);
    if (pec == http::error::need_more) break;
    if (pec == http::error::body_limit) {
      return finish_error(c, FailureKind::kBodyTooLarge,
                          "response body exceeds max_body_bytes (" + std::to_string(options.max_body_bytes) + ")");
    }
    if (pec) return finish_error(c, FailureKind::kProtocol, "malformed HTTP response: " + pec.message());
    if (c->parser->is_done()) {
      const int status = c->parser->status;
      if (status >= 100 && status < 200 && status != 101) {  // interim response (100 Continue, 103)
        c->parser.emplace(c.get());
        c->parser->eager(true);
        c->parser->header_limit(kHeaderLimitBytes);
        c->parser->body_limit(options.max_body_bytes);
        continue;
      }
      Outcome out{FailureKind::kNone, "", status};
      if (status >= 400) {
        out.failure = FailureKind::kHttpStatus;
        out.detail = "HTTP " + std::to_string(status) + (c->parser->reason.empty() ? "" : " " + c->parser->reason);
        if (!c->parser->retry_after.empty()) out.detail += " (Retry-After: " + c->parser->retry_after + ")";
      }
      // Reuse only after a clean, complete, keep-alive success with nothing unexpected left over.
      const bool reusable = status < 400 && c->parser->keep_alive() && c->buffer.size() == 0;
      return finish(c, std::move(out), stamp_ns, reusable);
    }
  }
  start_read(c);
}

void ClientCore::arm_timer(const std::shared_ptr<Connection>& c, int64_t deadline_ns) {
  if (deadline_ns >= kNever) return;                                // every timeout disabled
  if (c->timer_armed && c->timer_expiry_ns <= deadline_ns) return;  // fires first, then re-arms
  c->timer_armed = true;
  c->timer_expiry_ns = deadline_ns;
  const uint64_t gen = ++c->timer_gen;
  c->timer.expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(deadline_ns)));
  c->timer.async_wait([c, gen](const error_code& ec) {
    if (ec || gen != c->timer_gen) return;
    c->timer_armed = false;
    if (ClientCore* self = c->owner) self->on_timer(c);
  });
}

void ClientCore::on_timer(const std::shared_ptr<Connection>& c) {
  if (!c->req || c->pending != FailureKind::kNone) return;
  if (c->state != ConnState::kConnecting && c->state != ConnState::kActive) return;
  const int64_t now = now_ns();
  if (now >= c->req->total_deadline_ns) {
    return fail(c.get(), FailureKind::kTotalTimeout,
                "request exceeded the total timeout of " + std::to_string(options.total_timeout_ms) + " ms");
  }
  if (c->state == ConnState::kConnecting) {
    if (now >= c->connect_deadline_ns) {
      return fail(
          c.get(), FailureKind::kConnectTimeout,
          "connect to " + url.origin() + " timed out after " + std::to_string(options.connect_timeout_ms) + " ms");
    }
    return arm_timer(c, std::min(c->connect_deadline_ns, c->req->total_deadline_ns));
  }
  const int64_t read_deadline = deadline_after(c->last_activity_ns, options.read_timeout_ms);
  if (now >= read_deadline) {
    std::string detail = "no data for " + std::to_string(options.read_timeout_ms) + " ms (read timeout)";
    if (c->parser && c->headers_delivered) {
      detail += " after " + std::to_string(c->parser->body_bytes) + " body bytes";
    } else {
      detail += " while waiting for the response headers";
    }
    return fail(c.get(), FailureKind::kReadTimeout, std::move(detail));
  }
  arm_timer(c, std::min(read_deadline, c->req->total_deadline_ns));
}

void ClientCore::fail(Connection* c, FailureKind kind, std::string detail) {
  if (c->pending != FailureKind::kNone) return;
  c->pending = kind;
  c->pending_detail = std::move(detail);
  // Abort outstanding I/O; its completion handler (always pending while a request is active)
  // finishes the request with the pending failure.
  error_code ignored;
  if (c->resolver) c->resolver->cancel();
  c->sock.close(ignored);
}

void ClientCore::finish_error(const std::shared_ptr<Connection>& c, FailureKind kind, std::string detail) {
  // A keep-alive connection the server closed while idle fails before any response byte: re-send
  // once on a fresh connection (nothing was processed), as browsers and Go's transport do.
  if (c->pending == FailureKind::kNone && kind == FailureKind::kConnectionClosed && c->reused &&
      !c->got_response_bytes && c->req && !c->req->retried) {
    auto req = std::move(c->req);
    active.erase(req->id);
    req->retried = true;
    close(c.get());
    remove(c.get());
    dispatch(std::move(req), true);
    return;
  }
  finish(c, Outcome{kind, std::move(detail), c->parser ? c->parser->status : 0}, now_ns(), false);
}

void ClientCore::finish(const std::shared_ptr<Connection>& c, Outcome outcome, int64_t end_ns, bool reusable) {
  auto req = std::move(c->req);
  if (req) active.erase(req->id);
  c->parser.reset();
  if (reusable && c->pending == FailureKind::kNone) {
    c->state = ConnState::kIdle;
    c->reused = true;
    c->timer_armed = false;
    ++c->timer_gen;     // ignore the wait still pending for the finished request
    c->timer.cancel();  // and let run() return when nothing else is pending
    idle.push_back(c.get());
  } else {
    close(c.get());
    remove(c.get());
  }
  if (req) req->handler->on_complete(outcome, end_ns);  // may call send(): the idle slot is ready
  pump_queue();
}

void ClientCore::close(Connection* c) {
  if (c->state == ConnState::kClosed) return;
  c->state = ConnState::kClosed;
  error_code ignored;
  if (c->resolver) c->resolver->cancel();
  c->timer.cancel();
  c->sock.close(ignored);
}

void ClientCore::remove(Connection* c) {
  const size_t i = c->index;
  if (i >= connections.size() || connections[i].get() != c) return;
  auto keep = connections[i];  // keep alive until the end of this function
  connections[i] = std::move(connections.back());
  connections[i]->index = i;
  connections.pop_back();
  auto it = std::find(idle.begin(), idle.end(), c);
  if (it != idle.end()) idle.erase(it);
}

void ClientCore::pump_queue() {
  while (!queue.empty() && (!idle.empty() || connections.size() < options.max_connections_per_host)) {
    auto req = std::move(queue.front());
    queue.pop_front();
    dispatch(std::move(req), false);
  }
  if (queue.empty() && queue_timer_armed) {
    queue_timer_armed = false;
    queue_timer.cancel();
  }
}

void ClientCore::arm_queue_timer() {
  if (queue_timer_armed || queue.empty() || queue.front()->total_deadline_ns >= kNever) return;
  queue_timer_armed = true;
  queue_timer.expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(queue.front()->total_deadline_ns)));
  queue_timer.async_wait([this](const error_code& ec) {
    if (ec) return;  // cancelled: the client is being destroyed
    queue_timer_armed = false;
    const int64_t now = now_ns();
    while (!queue.empty() && queue.front()->total_deadline_ns <= now) {
      auto req = std::move(queue.front());
      queue.pop_front();
      req->handler->on_complete(
          Outcome{FailureKind::kTotalTimeout,
                  "request exceeded the total timeout of " + std::to_string(options.total_timeout_ms) +
                      " ms while waiting for a free connection (max_connections_per_host=" +
                      std::to_string(options.max_connections_per_host) + ")",
                  0},
          now);
    }
    arm_queue_timer();
  });
}

void ClientCore::cancel(uint64_t id) {
  auto it = active.find(id);
  if (it != active.end()) {
    fail(it->second, FailureKind::kCancelled, "cancelled");
    return;
  }
  for (auto q = queue.begin(); q != queue.end(); ++q) {
    if ((*q)->id != id) continue;
    ResponseHandler* handler = (*q)->handler;
    queue.erase(q);
    pump_queue();  // disarms the queue timer when the queue is now empty
    asio::post(ioc, [handler, end = now_ns()] {
      handler->on_complete(Outcome{FailureKind::kCancelled, "cancelled before a connection was free", 0}, end);
    });
    return;
  }
}

void ClientCore::cancel_all() {
  std::vector<uint64_t> ids;
  ids.reserve(active.size() + queue.size());
  for (const auto& [id, conn] : active) ids.push_back(id);
  for (const auto& q : queue) ids.push_back(q->id);
  for (uint64_t id : ids) cancel(id);
}

std::string ClientCore::describe(const error_code& ec) const {
  std::string text = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    const unsigned long err = static_cast<unsigned long>(ec.value());
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (text.empty() || text == "unknown error") text = buf;
  }
  return text;
}

}  // namespace

struct HttpClient::Impl {
  Impl(EventLoop& loop, Url url, ClientOptions options) : core(loop, std::move(url), std::move(options)) {}
  ClientCore core;
};

HttpClient::HttpClient(EventLoop& loop, Url base_url, ClientOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(base_url), std::move(options))) {}

HttpClient::~HttpClient() = default;

uint64_t HttpClient::send(const HttpRequest& request, ResponseHandler* handler) {
  return impl_->core.send(request, handler);
}

void HttpClient::cancel(uint64_t request_id) {
  impl_->core.cancel(request_id);
}

void HttpClient::cancel_all() {
  impl_->core.cancel_all();
}

size_t HttpClient::open_connections() const {
  return impl_->core.connections.size();
}

}  // namespace llmbench::net

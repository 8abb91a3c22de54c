#include "server/http_server.h"

#include <fmt/core.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/version.h"
#include "server/api_format.h"
#include "server/api_protocol.h"
#include "server/server_metrics.h"

namespace llmbench::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using Request = http::request<http::string_body>;

// One engine output, copied on the engine thread.
struct Update {
  int index = 0;
  engine::RequestOutput output;
  int64_t received_ns = 0;
};

// Strand-side half of a generation: the timer its loop sleeps on (null once the loop is gone).
struct Waker {
  asio::steady_timer* timer = nullptr;
  std::atomic<bool> wake_posted{false};
};

// Engine-side half: the engine thread appends outputs and posts one wake-up at a time.
struct GenerationState {
  std::mutex mutex;
  std::vector<Update> pending;
  bool closed = false;
  std::function<void()> post_wake;  // posts to the connection's strand; cleared when closed
  std::vector<uint64_t> request_ids;

  void push(int index, const engine::RequestOutput& output) {
    int64_t now = now_ns();
    std::lock_guard lock(mutex);
    if (closed) return;
    pending.push_back(Update{index, output, now});
    if (post_wake) post_wake();
  }
  // Stops the outputs; returns the engine ids submitted so far.
  std::vector<uint64_t> close() {
    std::lock_guard lock(mutex);
    closed = true;
    post_wake = nullptr;
    return request_ids;
  }
};

// Per choice (prompt) of a generation.
struct Choice {
  uint64_t request_id = 0;
  bool finished = false;
  engine::FinishReason finish = engine::FinishReason::kNone;
  std::string stop_reason;
  std::string text;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int64_t last_token_ns = 0;
  int tgi_index = 0;
  int32_t last_token_id = 0;
  std::vector<TgiToken> tgi_tokens;
  std::string error;               // the engine's reason when it aborted the request
  std::vector<int32_t> token_ids;  // kept only for return_token_ids
};

struct SimpleResponse {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

const char* finish_reason_name(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
      return "stop";
    case engine::FinishReason::kLength:
      return "length";
    case engine::FinishReason::kAbort:
      return "abort";
    default:
      return nullptr;
  }
}

StopReason to_stop_reason(const std::string& matched, const engine::SamplingParams& params) {
  StopReason r;
  if (matched.empty()) return r;
  for (const auto& s : params.stop) {
    if (s == matched) {
      r.kind = StopReason::Kind::kString;
      r.text = matched;
      return r;
    }
  }
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(matched.data(), matched.data() + matched.size(), id);
  if (ec == std::errc() && ptr == matched.data() + matched.size()) {
    r.kind = StopReason::Kind::kTokenId;
    r.token_id = id;
    return r;
  }
  r.kind = StopReason::Kind::kString;
  r.text = matched;
  return r;
}

const char* tgi_finish_reason(const Choice& c, const engine::SamplingParams& params) {
  if (c.finish == engine::FinishReason::kLength) return "length";
  for (const auto& s : params.stop) {
    if (s == c.stop_reason) return "stop_sequence";
  }
  return "eos_token";
}

std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  ServerOptions options;
  std::shared_ptr<engine::Engine> engine;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  ApiContext ctx;
  ServerMetrics metrics;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> bound_port{0};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> connections{0};
  std::atomic<uint64_t> id_counter{0};
  uint64_t id_seed = 0;
  int64_t model_created_s = 0;
  std::mutex states_mutex;
  std::unordered_set<GenerationState*> states;
  std::mutex stop_mutex;
  // Last, so that they go first: destroying the io_context destroys suspended sessions, whose
  // guards still use the members above.
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};

  Impl(ServerOptions opts, std::shared_ptr<engine::Engine> eng)
      : options(std::move(opts)),
        engine(std::move(eng)),
        tokenizer(engine->tokenizer()),
        metrics(options.served_model_name.empty() ? "llmbench" : options.served_model_name) {
    if (options.served_model_name.empty()) options.served_model_name = "llmbench";
    ctx.served_model_name = options.served_model_name;
    ctx.max_model_len = engine->max_model_len();
    ctx.vocab_size = engine->model_config().vocab_size;
    if (engine->model_config().architecture == engine::Architecture::kOpt && engine->model_config().bos_token_id >= 0) {
      ctx.prepend_bos_id = engine->model_config().bos_token_id;
    }
    ctx.tokenizer = tokenizer.get();
    id_seed = std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32) ^
              static_cast<uint64_t>(wall_now_ns());
    model_created_s = std::time(nullptr);
  }

  std::string next_id(std::string_view prefix) {
    auto mix = [](uint64_t z) {
      z += 0x9e3779b97f4a7c15ULL;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      return z ^ (z >> 31);
    };
    uint64_t n = id_counter.fetch_add(1);
    return fmt::format("{}{:016x}{:016x}", prefix, mix(id_seed + 2 * n), mix(id_seed + 2 * n + 1));
  }

  // ---- simple routes -------------------------------------------------------------------------

  SimpleResponse error_response(const ApiError& e, bool tgi = false) {
    SimpleResponse r;
    r.status = static_cast<http::status>(e.status);
    r.body = tgi ? format_tgi_error(e) : format_error(e);
    if (e.status == 503) r.headers.emplace_back("Retry-After", std::to_string(options.retry_after_s));
    return r;
  }

  SimpleResponse models_response() {
    std::string out = "{\"object\":\"list\",\"data\":[{\"id\":";
    append_json_string(out, ctx.served_model_name);
    out += fmt::format(",\"object\":\"model\",\"created\":{},\"owned_by\":\"llmbench\",\"root\":", model_created_s);
    append_json_string(out, engine->model_config().name.empty() ? ctx.served_model_name : engine->model_config().name);
    out += fmt::format(
        ",\"parent\":null,\"max_model_len\":{},\"permission\":[{{\"id\":\"{}\",\"object\":"
        "\"model_permission\",\"created\":{},\"allow_create_engine\":false,\"allow_sampling\":true,"
        "\"allow_logprobs\":true,\"allow_search_indices\":false,\"allow_view\":true,"
        "\"allow_fine_tuning\":false,\"organization\":\"*\",\"group\":null,\"is_blocking\":false}}]}}]}}",
        ctx.max_model_len, next_id("modelperm-"), model_created_s);
    return SimpleResponse{http::status::ok, "application/json", std::move(out), {}};
  }

  // Routes that don't generate. Returns nullopt for generation routes (handled by the session).
  std::optional<SimpleResponse> route_simple(const Request& req, std::string_view path, bool& is_generation) {
    is_generation = false;
    struct Route {
      std::string_view path;
      http::verb verb;
    };
    static constexpr Route kRoutes[] = {
        {"/health", http::verb::get},
        {"/v1/models", http::verb::get},
        {"/version", http::verb::get},
        {"/metrics", http::verb::get},
        {"/v1/completions", http::verb::post},
        {"/v1/chat/completions", http::verb::post},
        {"/generate", http::verb::post},
        {"/generate_stream", http::verb::post},
        {"/tokenize", http::verb::post},
        {"/detokenize", http::verb::post},
        {"/ping", http::verb::get},
    };
    const Route* route = nullptr;
    for (const auto& r : kRoutes) {
      if (r.path == path) route = &r;
    }
    if (route == nullptr) return error_response(ApiError{404, "Not Found", "NotFoundError", ""});
    bool head_ok = route->verb == http::verb::get && req.method() == http::verb::head;
    if (req.method() != route->verb && !head_ok) {
      auto r = error_response(ApiError{405, "Method Not Allowed", "MethodNotAllowed", ""});
      r.headers.emplace_back("Allow", std::string(http::to_string(route->verb)));
      return r;
    }
    if (path == "/health" || path == "/ping") return SimpleResponse{http::status::ok, "application/json", "", {}};
    if (!options.api_key.empty()) {
      auto auth = req[http::field::authorization];
      if (auth.size() != options.api_key.size() + 7 || auth.substr(0, 7) != "Bearer " ||
          auth.substr(7) != options.api_key) {
        bool tgi = path == "/generate" || path == "/generate_stream";
        return error_response(ApiError{401, "Unauthorized", "AuthenticationError", ""}, tgi);
      }
    }
    if (path == "/v1/models") return models_response();
    if (path == "/version") {
      return SimpleResponse{http::status::ok, "application/json", fmt::format("{{\"version\":\"{}\"}}", kVersion), {}};
    }
    if (path == "/metrics") {
      return SimpleResponse{
          http::status::ok, "text/plain; version=0.0.4; charset=utf-8", metrics.render(engine->stats()), {}};
    }
    if (path == "/tokenize" || path == "/detokenize") {
      auto result = path == "/tokenize" ? handle_tokenize(req.body(), ctx) : handle_detokenize(req.body(), ctx);
      if (auto* e = std::get_if<ApiError>(&result)) return error_response(*e);
      return SimpleResponse{http::status::ok, "application/json", std::get<std::string>(std::move(result)), {}};
    }
    is_generation = true;
    return std::nullopt;
  }

  // ---- connection handling -------------------------------------------------------------------

  void log_request(const tcp::endpoint& remote, const Request& req, int status, int64_t start_ns) {
    if (!options.log_requests) return;
    // Never the headers (the API key travels in Authorization).
    fmt::print(stderr, "{}:{} \"{} {} HTTP/{}.{}\" {} {:.1f}ms\n", remote.address().to_string(), remote.port(),
               std::string(req.method_string()), std::string(path_of(req.target())), req.version() / 10,
               req.version() % 10, status, ns_to_ms(now_ns() - start_ns));
  }

  // (Arguments of co_await'ed calls are named locals passed by reference throughout this file: GCC 12
  // destroys some temporaries created inside a co_await expression twice.)
  awaitable<bool> write_simple(beast::tcp_stream& stream, const Request& req, SimpleResponse& r, bool keep_alive) {
    http::response<http::string_body> res{r.status, req.version() == 0 ? 11 : req.version()};
    res.set(http::field::server, "llmbench");
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    if (req.method() != http::verb::head) res.body() = std::move(r.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    metrics.count_http(static_cast<int>(r.status));
    beast::error_code ec;
    stream.expires_after(std::chrono::milliseconds(options.request_read_timeout_ms));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && keep_alive;
  }

  awaitable<void> session(tcp::socket socket) {
    connections.fetch_add(1);
    struct CountGuard {
      std::atomic<size_t>& n;
      ~CountGuard() { n.fetch_sub(1); }
    } count_guard{connections};
    beast::error_code ec;
    tcp::endpoint remote = socket.remote_endpoint(ec);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    try {
      for (;;) {
        if (stopped.load()) break;
        // Wait for the next request's first bytes (keep-alive idle limit) ...
        if (buffer.size() == 0) {
          stream.expires_after(std::chrono::milliseconds(options.keep_alive_timeout_ms));
          size_t n =
              co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
          buffer.commit(n);
        }
        // ... then the whole head and body must arrive within the request read timeout.
        stream.expires_after(std::chrono::milliseconds(options.request_read_timeout_ms));
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
        parser.body_limit(options.max_body_bytes);
        co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        int64_t arrival_ns = now_ns();
        if (ec == http::error::body_limit) {  // Content-Length above the limit, seen with the head
          Request dummy;
          SimpleResponse resp = error_response(ApiError{
              413, fmt::format("Request body exceeds the limit of {} bytes (--max-body-bytes)", options.max_body_bytes),
              "RequestEntityTooLarge", ""});
          co_await write_simple(stream, dummy, resp, false);
          break;
        }
        if (ec == http::error::header_limit) {
          Request dummy;
          SimpleResponse resp = error_response(ApiError{431, "Request header fields too large", "BadRequestError", ""});
          co_await write_simple(stream, dummy, resp, false);
          break;
        }
        if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
          break;
        }
        if (ec) {
          Request dummy;
          SimpleResponse resp = error_response(
              ApiError{400, fmt::format("Malformed HTTP request: {}", ec.message()), "BadRequestError", ""});
          co_await write_simple(stream, dummy, resp, false);
          break;
        }
        const auto& head = parser.get();
        if (parser.content_length() && *parser.content_length() > options.max_body_bytes) {
          Request dummy;
          dummy.version(head.version());
          SimpleResponse resp = error_response(ApiError{413,
                                                        fmt::format("Request body of {} bytes exceeds the limit of {} "
                                                                    "bytes (--max-body-bytes)",
                                                                    *parser.content_length(), options.max_body_bytes),
                                                        "RequestEntityTooLarge", ""});
          co_await write_simple(stream, dummy, resp, false);
          break;
        }
        if (beast::iequals(head[http::field::expect], "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, head.version()};
          co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
        }
        if (!parser.is_done()) {
          co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
          if (ec == http::error::body_limit) {
            Request dummy;
            SimpleResponse resp = error_response(
                ApiError{413, "Request body exceeds the limit (--max-body-bytes)", "RequestEntityTooLarge", ""});
            co_await write_simple(stream, dummy, resp, false);
            break;
          }
          if (ec) break;
        }
        Request req = parser.release();
        bool keep_alive = req.keep_alive() && !stopped.load();
        std::string_view path = path_of(req.target());
        bool is_generation = false;
        auto simple = route_simple(req, path, is_generation);
        if (simple) {
          int status = static_cast<int>(simple->status);
          bool ok = co_await write_simple(stream, req, *simple, keep_alive);
          log_request(remote, req, status, arrival_ns);
          if (!ok) break;
          continue;
        }
        int status = 200;
        bool ok = co_await generate(stream, buffer, req, path, arrival_ns, keep_alive, status);
        log_request(remote, req, status, arrival_ns);
        if (!ok) break;
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "llmbench serve: connection error: {}\n", e.what());
    }
    // Lingering close: send FIN, then drain what the client is still sending (e.g. the body of a
    // refused request) for a moment, so that the kernel does not answer it with a RST that would
    // destroy the error response before the client reads it.
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!ec && stream.socket().is_open()) {
      stream.expires_after(std::chrono::milliseconds(500));
      size_t drained = 0;
      char sink[4096];
      while (drained < (4u << 20)) {
        size_t n = co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        drained += n;
      }
    }
    stream.socket().close(ec);
  }

  // ---- generation ------------------------------------------------------------------------------

  struct WatchState {
    bool done = false;
    bool stopping = false;
    bool disconnected = false;
  };

  // Reads while a response is being generated, to notice the client going away (EOF or reset).
  // Bytes of a pipelined next request stay in `buffer` for the session loop.
  awaitable<void> watch(beast::tcp_stream& stream, beast::flat_buffer& buffer, std::shared_ptr<WatchState> ws,
                        std::shared_ptr<Waker> waker) {
    beast::error_code ec;
    while (buffer.size() < (1u << 20)) {
      size_t n = co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!ws->stopping) ws->disconnected = true;
        break;
      }
      buffer.commit(n);
    }
    ws->done = true;
    if (waker->timer != nullptr) waker->timer->cancel();
  }

  void register_state(GenerationState* s) {
    std::lock_guard lock(states_mutex);
    states.insert(s);
  }
  void unregister_state(GenerationState* s) {
    std::lock_guard lock(states_mutex);
    states.erase(s);
  }

  awaitable<bool> generate(beast::tcp_stream& stream, beast::flat_buffer& buffer, const Request& req,
                           std::string_view path, int64_t arrival_ns, bool keep_alive, int& status_out) {
    bool tgi = path == "/generate" || path == "/generate_stream";
    ParseResult parsed = path == "/v1/completions" ? parse_completion_request(req.body(), ctx)
                         : path == "/v1/chat/completions"
                             ? parse_chat_request(req.body(), ctx)
                             : parse_tgi_request(req.body(), ctx, path == "/generate_stream");
    if (auto* e = std::get_if<ApiError>(&parsed)) {
      status_out = e->status;
      SimpleResponse resp = error_response(*e, tgi);
      bool ok = co_await write_simple(stream, req, resp, keep_alive);
      co_return ok;
    }
    GenerationJob& job = std::get<GenerationJob>(parsed);
    auto overloaded = [&]() -> SimpleResponse {
      status_out = 503;
      return error_response(ApiError{503, "The server is overloaded: too many waiting requests (--max-queue)",
                                     "ServiceUnavailableError", ""},
                            tgi);
    };
    if (engine->stats().waiting + static_cast<int>(job.prompts.size()) > options.max_queue) {
      SimpleResponse resp = overloaded();
      bool ok = co_await write_simple(stream, req, resp, keep_alive);
      co_return ok;
    }

    auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<GenerationState>();
    auto waker = std::make_shared<Waker>();
    asio::steady_timer timer(executor);
    timer.expires_at(asio::steady_timer::time_point::max());
    waker->timer = &timer;
    state->post_wake = [waker, executor]() {
      if (waker->wake_posted.exchange(true)) return;
      asio::post(executor, [waker]() {
        waker->wake_posted.store(false);
        if (waker->timer != nullptr) waker->timer->cancel();
      });
    };
    std::vector<Choice> choices(job.prompts.size());
    register_state(state.get());
    // Whatever way this coroutine ends (even destroyed at shutdown), stop the outputs and free the KV.
    struct Guard {
      Impl* self;
      std::shared_ptr<GenerationState> state;
      std::shared_ptr<Waker> waker;
      std::vector<Choice>* choices;
      ~Guard() {
        state->close();
        waker->timer = nullptr;
        for (auto& c : *choices) {
          if (!c.finished && c.request_id != 0) self->engine->abort(c.request_id);
        }
        self->unregister_state(state.get());
      }
    } guard{this, state, waker, &choices};

    for (size_t i = 0; i < job.prompts.size(); ++i) {
      engine::GenerationRequest greq;
      greq.prompt_tokens = job.prompts[i];
      greq.params = job.params;
      greq.arrival_ns = arrival_ns;
      int index = static_cast<int>(i);
      greq.on_output = [state, index](const engine::RequestOutput& out) { state->push(index, out); };
      choices[i].prompt_tokens = static_cast<int>(job.prompts[i].size());
      std::optional<uint64_t> id;
      std::string rejected;
      try {
        id = engine->submit(std::move(greq));
      } catch (const std::exception& e) {  // a request the engine can never run (validated above, so rare)
        rejected = e.what();
      }
      if (!rejected.empty()) {
        for (size_t k = 0; k < i; ++k) {
          engine->abort(choices[k].request_id);
          choices[k].finished = true;
        }
        choices[i].finished = true;
        status_out = 400;
        SimpleResponse resp = error_response(ApiError{400, rejected, "BadRequestError", ""}, tgi);
        bool ok = co_await write_simple(stream, req, resp, keep_alive);
        co_return ok;
      }
      if (!id) {
        for (size_t k = 0; k < i; ++k) {
          engine->abort(choices[k].request_id);
          choices[k].finished = true;
        }
        choices[i].finished = true;
        SimpleResponse resp = overloaded();
        bool ok = co_await write_simple(stream, req, resp, keep_alive);
        co_return ok;
      }
      choices[i].request_id = *id;
      std::lock_guard lock(state->mutex);
      state->request_ids.push_back(*id);
    }

    const bool is_chat = job.kind == ApiKind::kChat;
    std::string request_id = next_id(job.kind == ApiKind::kCompletion ? "cmpl-" : "chatcmpl-");
    ResponseIds ids{request_id, static_cast<int64_t>(std::time(nullptr)), job.model};
    std::string out;
    out.reserve(4096);
    beast::error_code ec;
    bool write_failed = false;
    bool legacy_http10 = req.version() < 11;

    stream.expires_never();
    auto ws = std::make_shared<WatchState>();
    asio::co_spawn(executor, watch(stream, buffer, ws, waker), asio::detached);

    auto write_raw = [&](std::string_view data) -> awaitable<void> {
      if (data.empty() || write_failed) co_return;
      if (legacy_http10) {
        co_await asio::async_write(stream, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        auto chunk = http::make_chunk(asio::buffer(data));
        co_await asio::async_write(stream, chunk, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) write_failed = true;
    };

    if (job.stream) {
      http::response<http::empty_body> res{http::status::ok, legacy_http10 ? 10 : 11};
      res.set(http::field::server, "llmbench");
      res.set(http::field::content_type, "text/event-stream; charset=utf-8");
      res.set(http::field::cache_control, "no-cache");
      if (legacy_http10) {
        res.keep_alive(false);
        keep_alive = false;
      } else {
        res.chunked(true);
        res.keep_alive(keep_alive);
      }
      http::response_serializer<http::empty_body> sr{res};
      co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) write_failed = true;
      metrics.count_http(200);
      if (is_chat) {
        for (size_t i = 0; i < choices.size(); ++i) {
          Usage u{choices[i].prompt_tokens, 0};
          append_chat_role_chunk(out, ids, static_cast<int>(i), job.continuous_usage ? &u : nullptr);
        }
        co_await write_raw(out);
      }
    }

    size_t unfinished = choices.size();
    std::vector<Update> batch;
    while (unfinished > 0 && !write_failed && !ws->disconnected) {
      batch.clear();
      {
        std::lock_guard lock(state->mutex);
        batch.swap(state->pending);
      }
      if (batch.empty()) {
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      out.clear();
      for (const Update& u : batch) {
        Choice& c = choices[static_cast<size_t>(u.index)];
        if (c.finished) continue;
        const engine::RequestOutput& o = u.output;
        int new_tokens = static_cast<int>(o.new_token_ids.size());
        if (new_tokens > 0) {
          if (c.completion_tokens == 0) {
            metrics.observe_ttft(ns_to_s(u.received_ns - arrival_ns));
            if (o.first_scheduled_ns >= arrival_ns && o.first_scheduled_ns > 0) {
              metrics.observe_queue(ns_to_s(o.first_scheduled_ns - arrival_ns));
            }
            if (new_tokens > 1) metrics.observe_itl(0.0, new_tokens - 1);
          } else {
            metrics.observe_itl(ns_to_s(u.received_ns - c.last_token_ns) / new_tokens, new_tokens);
          }
          c.last_token_ns = u.received_ns;
          c.completion_tokens += new_tokens;
          c.last_token_id = o.new_token_ids.back();
          if (job.return_token_ids)
            c.token_ids.insert(c.token_ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
        }
        c.text += o.text_delta;
        if (o.finished) {
          c.finished = true;
          c.finish = o.finish_reason;
          c.stop_reason = o.stop_reason;
          c.error = o.error;
          --unfinished;
          metrics.count_finished(o.finish_reason);
          metrics.observe_e2e(ns_to_s(u.received_ns - arrival_ns));
        }
        if (job.kind == ApiKind::kTgi) {
          for (int k = 0; k < new_tokens; ++k) {
            int32_t id = o.new_token_ids[static_cast<size_t>(k)];
            std::vector<int32_t> one{id};
            TgiToken t{id, tokenizer ? tokenizer->decode(one, false) : std::string(),
                       tokenizer ? tokenizer->is_special(id) : false};
            bool last = o.finished && k == new_tokens - 1;
            if (job.stream) {
              TgiDetails d{tgi_finish_reason(c, job.params), c.completion_tokens, job.params.seed};
              append_tgi_stream_event(out, ++c.tgi_index, t, last ? &c.text : nullptr, last ? &d : nullptr);
            } else if (job.tgi_details) {
              c.tgi_tokens.push_back(std::move(t));
            }
          }
          if (job.stream && o.finished && new_tokens == 0) {
            TgiDetails d{tgi_finish_reason(c, job.params), c.completion_tokens, job.params.seed};
            TgiToken t{c.last_token_id, "", false};
            append_tgi_stream_event(out, ++c.tgi_index, t, &c.text, &d);
          }
          continue;
        }
        if (!job.stream || (new_tokens == 0 && o.text_delta.empty() && !o.finished)) continue;
        const char* finish = o.finished ? finish_reason_name(o.finish_reason) : nullptr;
        StopReason stop = o.finished ? to_stop_reason(o.stop_reason, job.params) : StopReason{};
        Usage usage{c.prompt_tokens, c.completion_tokens};
        const Usage* usage_ptr = job.continuous_usage ? &usage : nullptr;
        if (is_chat) {
          append_chat_chunk(out, ids, u.index, o.text_delta, finish, stop, usage_ptr);
        } else {
          append_completion_chunk(out, ids, u.index, o.text_delta, finish, stop, usage_ptr);
        }
      }
      if (job.stream) co_await write_raw(out);
    }

    auto stop_watcher = [&]() -> awaitable<void> {
      ws->stopping = true;
      if (!ws->done) stream.socket().cancel(ec);
      while (!ws->done) co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    };

    if (write_failed || ws->disconnected) {
      // The client is gone: free its KV blocks now (the guard aborts what is unfinished).
      for (auto& c : choices) {
        if (!c.finished) metrics.count_finished(engine::FinishReason::kAbort);
      }
      status_out = 499;
      co_await stop_watcher();
      co_return false;
    }

    Usage total;
    for (const auto& c : choices) {
      total.prompt_tokens += c.prompt_tokens;
      total.completion_tokens += c.completion_tokens;
    }
    bool aborted = false;
    for (const auto& c : choices) aborted = aborted || c.finish == engine::FinishReason::kAbort;

    if (job.stream) {
      out.clear();
      if (job.kind != ApiKind::kTgi) {
        if (job.include_usage)
          append_usage_chunk(out, ids, is_chat ? "chat.completion.chunk" : "text_completion", total);
        out += kSseDone;
      }
      co_await write_raw(out);
      if (!legacy_http10 && !write_failed) {
        auto last_chunk = http::make_chunk_last();
        co_await asio::async_write(stream, last_chunk, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) write_failed = true;
      }
      co_await stop_watcher();
      co_return keep_alive && !write_failed;
    }

    co_await stop_watcher();
    if (aborted) {
      status_out = 503;
      std::string why = "The request was aborted by the engine";
      for (const auto& c : choices) {
        if (!c.error.empty()) why += ": " + c.error;
      }
      SimpleResponse resp = error_response(ApiError{503, why, "ServiceUnavailableError", ""}, tgi);
      bool ok = co_await write_simple(stream, req, resp, keep_alive);
      co_return ok;
    }
    std::string body;
    if (job.kind == ApiKind::kTgi) {
      const Choice& c = choices.front();
      TgiDetails d{tgi_finish_reason(c, job.params), c.completion_tokens, job.params.seed};
      body = format_tgi_response(c.text, job.tgi_details ? &d : nullptr, c.tgi_tokens);
    } else {
      std::vector<ChoiceResult> results;
      results.reserve(choices.size());
      for (auto& c : choices) {
        results.push_back(ChoiceResult{std::move(c.text), finish_reason_name(c.finish),
                                       to_stop_reason(c.stop_reason, job.params),
                                       job.return_token_ids ? &c.token_ids : nullptr});
      }
      body = is_chat ? format_chat_response(ids, results, total) : format_completion_response(ids, results, total);
    }
    SimpleResponse resp{http::status::ok, "application/json", std::move(body), {}};
    bool ok = co_await write_simple(stream, req, resp, keep_alive);
    co_return ok;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  awaitable<void> accept_loop() {
    beast::error_code ec;
    for (;;) {
      tcp::socket socket =
          co_await acceptor.async_accept(asio::make_strand(ioc), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open() || stopped.load()) co_return;
        // Out of file descriptors or a transient error: back off briefly, keep serving.
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto exec = socket.get_executor();
      asio::co_spawn(exec, session(std::move(socket)), asio::detached);
    }
  }

  void start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options.host, ec);
    if (ec) throw std::runtime_error(fmt::format("invalid --host '{}': {}", options.host, ec.message()));
    tcp::endpoint endpoint{address, options.port};
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
    }
    bound_port = acceptor.local_endpoint().port();
    asio::co_spawn(ioc, accept_loop(), asio::detached);
    int n = std::max(1, options.threads);
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([this] { ioc.run(); });
    }
  }

  void stop() {
    std::lock_guard lock(stop_mutex);
    if (stopped.exchange(true)) return;
    asio::post(ioc, [this] {
      beast::error_code ec;
      acceptor.close(ec);
    });
    {
      // No more wake-ups into the io_context; free every in-flight request's KV blocks.
      std::lock_guard states_lock(states_mutex);
      for (GenerationState* s : states) {
        for (uint64_t id : s->close()) engine->abort(id);
      }
    }
    ioc.stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
  }
};

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<engine::Engine> engine)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(engine))) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  impl_->start();
}
uint16_t HttpServer::port() const {
  return impl_->bound_port.load();
}
std::string HttpServer::url() const {
  return fmt::format("http://{}:{}", impl_->options.host, port());
}
void HttpServer::stop() {
  if (impl_) impl_->stop();
}
size_t HttpServer::open_connections() const {
  return impl_->connections.load();
}

}  // namespace llmbench::server

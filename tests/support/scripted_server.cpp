// The scripted test server: Beast + C++20 coroutines on one io_context thread.
#include "scripted_server.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/clock.h"

namespace llmbench::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Scripts

std::optional<Script> preset(const std::string& name) {
  Script s;
  if (name == "default" || name == "none") return s;
  if (name == "stall") {
    s.fault = "stall";
    s.fault_after = 2;
  } else if (name == "stall_1s") {
    s.fault = "stall";
    s.fault_after = 2;
    s.stall_ms = 1000;
  } else if (name == "drop" || name == "garbage" || name == "garbage_sse" || name == "malformed_json" ||
             name == "error_event" || name == "huge_event") {
    s.fault = name;
    s.fault_after = 2;
  } else if (name == "trickle") {
    s.fault = "trickle";
    s.tokens = 2;
  } else if (name == "close_before_headers") {
    s.fault = name;
  } else if (name == "slow_headers") {
    s.headers_delay_ms = 500;
  } else if (name == "http_429") {
    s.status = 429;
    s.retry_after = "1";
  } else if (name == "http_500") {
    s.status = 500;
  } else if (name == "http_503") {
    s.status = 503;
    s.retry_after = "2";
  } else if (name == "http_503_no_retry") {
    s.status = 503;
  } else if (name == "slow") {
    s.first_token_delay_ms = 200;
    s.inter_token_ms = 50;
  } else if (name == "close_delimited") {
    s.chunked = false;
  } else {
    return std::nullopt;
  }
  return s;
}

std::optional<Script> parse_script(const std::string& text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<Script> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return fail("empty script");
  if (text[first] != '{') {
    auto p = preset(text.substr(first, text.find_last_not_of(" \t") - first + 1));
    if (!p) return fail("unknown script preset '" + text + "'");
    return p;
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("script is not a JSON object: " + text);
  Script s;
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "preset") {
        auto p = preset(v.get<std::string>());
        if (!p) return fail("unknown script preset '" + v.get<std::string>() + "'");
        s = *p;
      } else if (k == "format") {
        s.format = v.get<std::string>();
      } else if (k == "tokens") {
        s.tokens = v.get<int>();
      } else if (k == "headers_delay_ms") {
        s.headers_delay_ms = v.get<int64_t>();
      } else if (k == "first_token_delay_ms") {
        s.first_token_delay_ms = v.get<int64_t>();
      } else if (k == "inter_token_ms") {
        s.inter_token_ms = v.get<int64_t>();
      } else if (k == "usage") {
        s.usage = v.get<std::string>();
      } else if (k == "text") {
        s.text = v.get<std::string>();
      } else if (k == "status") {
        s.status = v.get<int>();
      } else if (k == "retry_after") {
        s.retry_after = v.is_string() ? v.get<std::string>() : std::to_string(v.get<int64_t>());
      } else if (k == "fault") {
        s.fault = v.get<std::string>();
      } else if (k == "fault_after") {
        s.fault_after = v.get<int>();
      } else if (k == "stall_ms") {
        s.stall_ms = v.get<int64_t>();
      } else if (k == "huge_event_bytes") {
        s.huge_event_bytes = v.get<size_t>();
      } else if (k == "trickle_interval_ms") {
        s.trickle_interval_ms = v.get<int64_t>();
      } else if (k == "chunked") {
        s.chunked = v.get<bool>();
      } else if (k == "keep_alive") {
        s.keep_alive = v.get<bool>();
      } else if (k == "close_after_response") {
        s.close_after_response = v.get<bool>();
      } else {
        return fail("unknown script key '" + k + "'");
      }
    }
  } catch (const json::exception& e) {
    return fail(std::string("bad script value: ") + e.what());
  }
  return s;
}

std::string ServedRequest::header(const std::string& name) const {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string want = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == want) return v;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Server

struct ScriptedServer::Impl {
  explicit Impl(ScriptedServerOptions o) : opts(std::move(o)) {}

  ScriptedServerOptions opts;
  std::unique_ptr<ssl::context> tls;  // outlives ioc: streams in coroutine frames refer to it
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  uint16_t port = 0;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::vector<ServedRequest> reqs;  // guarded by mu
  std::atomic<size_t> conns{0};
  bool stopped = false;

  awaitable<void> accept_loop();
  template <class Stream>
  awaitable<void> session(Stream stream, uint64_t conn_id);
  template <class Stream>
  awaitable<bool> respond(Stream& stream, http::request<http::string_body> req, uint64_t conn_id);

  size_t record(ServedRequest r) {
    std::lock_guard<std::mutex> lock(mu);
    reqs.push_back(std::move(r));
    cv.notify_all();
    return reqs.size() - 1;
  }
  template <class Fn>
  void update(size_t idx, Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu);
    fn(reqs[idx]);
  }
};

namespace {

awaitable<void> sleep_ms(int64_t ms) {
  if (ms <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::milliseconds(ms));
  co_await t.async_wait(use_awaitable);
}

template <class Stream>
tcp::socket& lowest(Stream& s) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    return s;
  } else {
    return s.next_layer();
  }
}

// Writes bytes, one at a time with pauses when trickling.
template <class Stream>
struct Writer {
  Stream& stream;
  int64_t trickle_ms = -1;
  awaitable<void> raw(std::string_view data) {
    if (trickle_ms < 0) {
      co_await asio::async_write(stream, asio::buffer(data.data(), data.size()), use_awaitable);
      co_return;
    }
    for (size_t i = 0; i < data.size(); ++i) {
      co_await asio::async_write(stream, asio::buffer(data.data() + i, 1), use_awaitable);
      co_await sleep_ms(trickle_ms);
    }
  }
};

std::string chunk_frame(std::string_view payload) {
  char hex[20];
  int n = std::snprintf(hex, sizeof(hex), "%zx\r\n", payload.size());
  std::string out(hex, static_cast<size_t>(n));
  out.append(payload);
  out += "\r\n";
  return out;
}

int count_prompt_tokens(const json& body, const std::string& format) {
  auto words = [](const std::string& s) {
    int n = 0;
    bool in = false;
    for (char c : s) {
      const bool space = c == ' ' || c == '\n' || c == '\t';
      if (!space && !in) ++n;
      in = !space;
    }
    return std::max(n, 1);
  };
  try {
    if (format == "tgi") return words(body.value("inputs", std::string()));
    if (format == "chat") {
      int n = 0;
      for (const auto& m : body.at("messages")) n += words(m.value("content", std::string()));
      return n;
    }
    const json& p = body.at("prompt");
    if (p.is_array()) return static_cast<int>(p.size());
    return words(p.get<std::string>());
  } catch (const json::exception&) {
    return 1;
  }
}

std::string status_reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Server Error" : (status >= 400 ? "Client Error" : "OK");
  }
}

std::string error_json(const std::string& message, const std::string& type) {
  return json{{"error", {{"message", message}, {"type", type}}}}.dump();
}

// Renders the JSON payloads of one response (plain functions: GCC 12 mis-compiles braced
// initializer lists of string literals inside coroutines).
struct Render {
  std::string format;
  std::string id;
  std::string model;
  std::string text;
  std::string chunk_object;
  int prompt_tokens = 0;
  int tokens = 0;
  bool continuous = false;

  json usage(int completion) const {
    return json{{"prompt_tokens", prompt_tokens},
                {"total_tokens", prompt_tokens + completion},
                {"completion_tokens", completion}};
  }
  std::string all_text() const {
    std::string out;
    for (int k = 0; k < tokens; ++k) out += text;
    return out;
  }
  std::string http_error(int status) const {
    const std::string message = "scripted HTTP " + std::to_string(status);
    if (format == "tgi") return json{{"error", message}, {"error_type", "overloaded"}}.dump();
    return json{{"error",
                 {{"object", "error"},
                  {"message", message},
                  {"type", status_reason(status)},
                  {"param", nullptr},
                  {"code", status}}}}
        .dump();
  }
  std::string stream_error() const {
    if (format == "tgi") return json{{"error", "scripted in-stream error"}, {"error_type", "generation"}}.dump();
    return json{{"error",
                 {{"object", "error"},
                  {"message", "scripted in-stream error"},
                  {"type", "InternalServerError"},
                  {"param", nullptr},
                  {"code", 500}}}}
        .dump();
  }
  std::string full_response() const {
    json out;
    if (format == "tgi") {
      out = {{"generated_text", all_text()},
             {"details",
              {{"finish_reason", "length"},
               {"generated_tokens", tokens},
               {"seed", nullptr},
               {"prefill", json::array()},
               {"tokens", json::array()}}}};
    } else {
      json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", "length"}};
      if (format == "chat") {
        choice["message"] = {{"role", "assistant"}, {"content", all_text()}};
      } else {
        choice["text"] = all_text();
      }
      out = {{"id", id},
             {"object", format == "chat" ? "chat.completion" : "text_completion"},
             {"created", 1700000000},
             {"model", model},
             {"choices", json::array({choice})},
             {"usage", usage(tokens)}};
    }
    return out.dump();
  }
  std::string role_chunk() const {
    json role = {{"id", id},
                 {"object", chunk_object},
                 {"created", 1700000000},
                 {"model", model},
                 {"choices", json::array({{{"index", 0},
                                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                                           {"logprobs", nullptr},
                                           {"finish_reason", nullptr}}})}};
    if (continuous) role["usage"] = usage(0);
    return role.dump();
  }
  std::string token_event(int k) const {
    const bool last = k == tokens;
    json ev;
    if (format == "tgi") {
      ev = {{"index", k},
            {"token", {{"id", 1000 + k}, {"text", text}, {"logprob", -0.5}, {"special", false}}},
            {"generated_text", last ? json(all_text()) : json(nullptr)},
            {"details", last ? json{{"finish_reason", "length"}, {"generated_tokens", tokens}, {"seed", nullptr}}
                             : json(nullptr)}};
      return ev.dump();
    }
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", last ? json("length") : json(nullptr)}};
    if (format == "chat") {
      choice["delta"] = {{"content", text}};
    } else {
      choice["text"] = text;
      choice["stop_reason"] = nullptr;
    }
    ev = {{"id", id},
          {"object", chunk_object},
          {"created", 1700000000},
          {"model", model},
          {"choices", json::array({choice})}};
    if (continuous) ev["usage"] = usage(k);
    return ev.dump();
  }
  std::string usage_chunk() const {
    return json{{"id", id},       {"object", chunk_object},   {"created", 1700000000},
                {"model", model}, {"choices", json::array()}, {"usage", usage(tokens)}}
        .dump();
  }
};

struct RequestInfo {
  std::string format;
  bool stream = false;
  bool final_usage = false;
  bool continuous_usage = false;
  int tokens = 16;
  int prompt_tokens = 1;
  std::string model;
  std::string error;  // 4xx reason, empty if fine
  int error_status = 0;
};

RequestInfo inspect(const std::string& target, json& body, const Script& script) {
  RequestInfo info;
  info.format = script.format;
  if (target.rfind("/v1/completions", 0) == 0) {
    if (info.format.empty()) info.format = "completions";
  } else if (target.rfind("/v1/chat/completions", 0) == 0) {
    if (info.format.empty()) info.format = "chat";
  } else if (target.rfind("/generate_stream", 0) == 0) {
    if (info.format.empty()) info.format = "tgi";
    info.stream = true;
  } else if (target.rfind("/generate", 0) == 0) {
    if (info.format.empty()) info.format = "tgi";
  } else {
    info.error = error_json("no route " + target, "NotFound");
    info.error_status = 404;
    return info;
  }
  if (!body.is_object()) {
    info.error = error_json("request body is not a JSON object", "BadRequestError");
    info.error_status = 400;
    return info;
  }
  try {
    if (info.format != "tgi") info.stream = body.value("stream", false);
    if (body.contains("stream_options") && body["stream_options"].is_object()) {
      info.final_usage = body["stream_options"].value("include_usage", false);
      info.continuous_usage = info.final_usage && body["stream_options"].value("continuous_usage_stats", false);
    }
    if (script.usage == "none") info.final_usage = info.continuous_usage = false;
    if (script.usage == "final") info.final_usage = true, info.continuous_usage = false;
    if (script.usage == "continuous") info.final_usage = info.continuous_usage = true;
    info.tokens = script.tokens;
    if (info.tokens < 0) {
      info.tokens = 16;
      if (info.format == "tgi" && body.contains("parameters") && body["parameters"].contains("max_new_tokens")) {
        info.tokens = body["parameters"]["max_new_tokens"].get<int>();
      } else if (body.contains("max_tokens") && body["max_tokens"].is_number_integer()) {
        info.tokens = body["max_tokens"].get<int>();
      }
    }
    info.prompt_tokens = count_prompt_tokens(body, info.format);
    info.model = body.value("model", std::string("llmbench-scripted"));
  } catch (const json::exception& e) {
    info.error = error_json(std::string("bad request: ") + e.what(), "BadRequestError");
    info.error_status = 400;
  }
  return info;
}

}  // namespace

awaitable<void> ScriptedServer::Impl::accept_loop() {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    const uint64_t id = ++conns;
    socket.set_option(tcp::no_delay(true));
    if (tls) {
      asio::co_spawn(ioc, session(ssl::stream<tcp::socket>(std::move(socket), *tls), id), asio::detached);
    } else {
      asio::co_spawn(ioc, session(std::move(socket), id), asio::detached);
    }
  }
}

template <class Stream>
awaitable<void> ScriptedServer::Impl::session(Stream stream, uint64_t conn_id) {
  try {
    if constexpr (!std::is_same_v<Stream, tcp::socket>) {
      co_await stream.async_handshake(ssl::stream_base::server, use_awaitable);
    }
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64u << 20);
      co_await http::async_read(stream, buffer, parser, use_awaitable);
      const bool keep = co_await respond(stream, parser.release(), conn_id);
      if (!keep) break;
    }
  } catch (const std::exception&) {
    // peer went away, bad request framing, or the server is stopping
  }
  boost::system::error_code ignored;
  lowest(stream).shutdown(tcp::socket::shutdown_both, ignored);
  lowest(stream).close(ignored);
}

template <class Stream>
awaitable<bool> ScriptedServer::Impl::respond(Stream& stream, http::request<http::string_body> req, uint64_t conn_id) {
  ServedRequest rec;
  rec.connection_id = conn_id;
  rec.method = std::string(req.method_string());
  rec.target = std::string(req.target());
  rec.body = req.body();
  rec.received_ns = now_ns();
  for (const auto& f : req) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  Writer<Stream> w{stream};

  auto send_simple = [&](int status, const std::string& content_type, const std::string& body,
                         const std::string& extra_headers, bool keep) -> awaitable<bool> {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) + "\r\nContent-Type: " + content_type +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
        std::string(keep ? std::string_view() : std::string_view("Connection: close\r\n")) + "\r\n" + body;
    co_await w.raw(out);
    co_return keep;
  };

  // The script: header, then body field, else the default.
  Script script = opts.default_script;
  std::string script_error;
  json body = json::parse(rec.body, nullptr, false);
  const std::string header_script = rec.header("x-llmbench-script");
  if (!header_script.empty()) {
    auto s = parse_script(header_script, &script_error);
    if (s) script = *s;
  } else if (body.is_object() && body.contains("llmbench_script")) {
    const json& js = body["llmbench_script"];
    auto s = parse_script(js.is_string() ? js.get<std::string>() : js.dump(), &script_error);
    if (s) script = *s;
    body.erase("llmbench_script");
  }
  rec.script = script;
  const size_t idx = record(rec);
  const bool keep = script.keep_alive && req.keep_alive();
  if (!script_error.empty()) {
    co_return co_await send_simple(400, "application/json", error_json(script_error, "BadRequestError"), "", keep);
  }
  if (rec.method == "GET" && (rec.target == "/health" || rec.target == "/v1/models")) {
    co_return co_await send_simple(200, "application/json", "{}", "", keep);
  }
  const RequestInfo info = inspect(rec.target, body, script);
  if (!info.error.empty()) co_return co_await send_simple(info.error_status, "application/json", info.error, "", keep);
  Render render;
  render.format = info.format;
  render.id = std::string(info.format == "chat" ? "chatcmpl-" : "cmpl-") + std::to_string(idx);
  render.model = info.model;
  render.text = script.text;
  render.chunk_object = info.format == "chat" ? "chat.completion.chunk" : "text_completion";
  render.prompt_tokens = info.prompt_tokens;
  render.tokens = info.tokens;
  render.continuous = info.continuous_usage;
  const std::string& format = info.format;
  const int tokens = info.tokens;
  if (script.fault == "trickle") w.trickle_ms = script.trickle_interval_ms;

  co_await sleep_ms(script.headers_delay_ms);
  if (script.fault == "close_before_headers") co_return false;
  update(idx, [](ServedRequest& r) { r.headers_sent_ns = now_ns(); });

  if (script.status >= 400) {
    const std::string extra =
        script.retry_after.empty() ? std::string() : "Retry-After: " + script.retry_after + "\r\n";
    const bool k =
        co_await send_simple(script.status, "application/json", render.http_error(script.status), extra, keep);
    update(idx, [](ServedRequest& r) { r.completed = true; });
    co_return k;
  }
  if (!info.stream) {
    co_await sleep_ms(script.first_token_delay_ms + script.inter_token_ms * std::max(0, tokens - 1));
    const bool k = co_await send_simple(200, "application/json", render.full_response(), "", keep);
    update(idx, [](ServedRequest& r) { r.completed = true; });
    co_return k && !script.close_after_response;
  }

  const bool chunked = script.chunked;
  const bool keep_stream = keep && chunked;
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (chunked) head += "Transfer-Encoding: chunked\r\n";
  if (!keep_stream) head += "Connection: close\r\n";
  head += "\r\n";
  co_await w.raw(head);
  const std::string prefix = format == "tgi" ? "data:" : "data: ";  // axum (TGI) writes no space
  auto frame = [&](std::string_view payload) { return chunked ? chunk_frame(payload) : std::string(payload); };
  // One SSE event, stamped just before its write.
  auto send_event = [&](const std::string& data, bool carries_token) -> awaitable<void> {
    const std::string bytes = frame(prefix + data + "\n\n");
    const int64_t t = now_ns();
    update(idx, [&](ServedRequest& r) {
      r.event_sent_ns.push_back(t);
      if (carries_token) r.token_sent_ns.push_back(t);
    });
    co_await w.raw(bytes);
  };

  if (format == "chat") co_await send_event(render.role_chunk(), false);
  std::mt19937 rng(static_cast<uint32_t>(idx));
  for (int k = 1; k <= tokens + 1; ++k) {
    if (k - 1 == script.fault_after && !script.fault.empty() && script.fault != "trickle" &&
        script.fault != "close_before_headers") {
      const std::string& f = script.fault;
      if (f == "stall") {
        co_await sleep_ms(script.stall_ms < 0 ? 24LL * 3600 * 1000 : script.stall_ms);  // -1: until the server stops
      } else if (f == "drop") {
        co_return false;
      } else if (f == "garbage") {
        co_await w.raw("zz\r\nthis is not chunked framing\r\n");
        co_return false;
      } else if (f == "garbage_sse") {
        std::string junk(64, '\0');
        for (auto& c : junk) c = static_cast<char>(rng() & 0xff);
        co_await w.raw(frame(junk + "\n\n"));
      } else if (f == "malformed_json") {
        co_await send_event(R"({"choices":[{"text":)", false);
      } else if (f == "error_event") {
        co_await send_event(render.stream_error(), false);
        if (format != "tgi") co_await send_event("[DONE]", false);
        if (chunked) co_await w.raw("0\r\n\r\n");
        update(idx, [](ServedRequest& r) { r.completed = true; });
        co_return keep_stream;
      } else if (f == "huge_event") {
        co_await send_event(std::string(script.huge_event_bytes, 'x'), false);
      }
    }
    if (k > tokens) break;
    co_await sleep_ms(k == 1 ? script.first_token_delay_ms : script.inter_token_ms);
    co_await send_event(render.token_event(k), true);
  }
  if (format != "tgi") {
    if (info.final_usage) co_await send_event(render.usage_chunk(), false);
    co_await send_event("[DONE]", false);
  }
  if (chunked) co_await w.raw("0\r\n\r\n");
  update(idx, [](ServedRequest& r) { r.completed = true; });
  co_return keep_stream && !script.close_after_response;
}

ScriptedServer::ScriptedServer(ScriptedServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& s = *impl_;
  if (s.opts.tls) {
    std::string cert = s.opts.tls_cert_pem, key = s.opts.tls_key_pem;
    if (cert.empty() || key.empty()) make_self_signed_cert(&cert, &key);
    s.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    s.tls->use_certificate_chain(asio::buffer(cert));
    s.tls->use_private_key(asio::buffer(key), ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), s.opts.port);
  s.acceptor.open(ep.protocol());
  s.acceptor.set_option(tcp::acceptor::reuse_address(true));
  s.acceptor.bind(ep);
  s.acceptor.listen(1024);
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  s.thread = std::thread([&s] { s.ioc.run(); });
}

ScriptedServer::~ScriptedServer() {
  stop();
}

void ScriptedServer::stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  s.ioc.stop();
  if (s.thread.joinable()) s.thread.join();
  boost::system::error_code ignored;
  s.acceptor.close(ignored);
}

uint16_t ScriptedServer::port() const {
  return impl_->port;
}

std::string ScriptedServer::url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}

std::vector<ServedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->reqs;
}

bool ScriptedServer::wait_for_requests(size_t n, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return impl_->reqs.size() >= n; });
}

size_t ScriptedServer::connections_accepted() const {
  return impl_->conns.load();
}

void make_self_signed_cert(std::string* cert_pem, std::string* key_pem) {
  EVP_PKEY* pkey = EVP_EC_gen("prime256v1");
  if (!pkey) throw std::runtime_error("EVP_EC_gen failed");
  X509* x509 = X509_new();
  X509_set_version(x509, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x509), 7L * 24 * 3600);
  X509_set_pubkey(x509, pkey);
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x509, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  if (san) {
    X509_add_ext(x509, san, -1);
    X509_EXTENSION_free(san);
  }
  X509_sign(x509, pkey, EVP_sha256());
  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
  };
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x509);
  *cert_pem = to_string(cb);
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(kb, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  *key_pem = to_string(kb);
  X509_free(x509);
  EVP_PKEY_free(pkey);
}

}  // namespace llmbench::testing

#include "net/tokenize_api.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>

namespace llmbench::net {
namespace {

using json = nlohmann::json;

// The start of a body for a message: whitespace runs collapsed, at most 120 characters.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body) {
    const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
    if (out.size() >= 120) {
      out += "...";
      break;
    }
  }
  return out;
}

// Answer of one tokenize request.
struct Answer {
  Outcome outcome;
  int status = 0;
  std::string body;
};

class Collect : public ResponseHandler {
 public:
  explicit Collect(Answer* answer, std::function<void()> done) : answer_(answer), done_(std::move(done)) {}
  void on_headers(int status, std::string_view, int64_t) override { answer_->status = status; }
  void on_body(std::string_view data, int64_t) override {
    if (answer_->body.size() < (64u << 20)) answer_->body.append(data);
  }
  void on_complete(const Outcome& outcome, int64_t) override {
    answer_->outcome = outcome;
    if (outcome.http_status != 0) answer_->status = outcome.http_status;
    done_();
  }

 private:
  Answer* answer_;
  std::function<void()> done_;
};

std::string target_path(const TokenizeClientOptions& o) {
  std::string prefix = o.base_url.target;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const size_t query = prefix.find('?');
  if (query != std::string::npos) prefix.resize(query);
  std::string path = o.path.empty() ? std::string("/tokenize") : o.path;
  if (path.front() != '/') path.insert(path.begin(), '/');
  return prefix + path;
}

// Sends every body (at most max_in_flight at a time) and waits for all answers, on an event loop
// run by the calling thread.
std::vector<Answer> run_batch(const TokenizeClientOptions& o, const std::vector<std::string>& bodies) {
  std::vector<Answer> answers(bodies.size());
  if (bodies.empty()) return answers;
  EventLoop loop;
  ClientOptions co = o.client;
  co.max_connections_per_host = std::max<size_t>(o.max_in_flight, 1);
  HttpClient client(loop, o.base_url, co);
  const std::string target = target_path(o);
  std::vector<std::unique_ptr<Collect>> handlers(bodies.size());
  size_t next = 0;
  size_t completed = 0;
  std::function<void()> send_next;
  send_next = [&] {
    if (next >= bodies.size()) return;
    const size_t i = next++;
    handlers[i] = std::make_unique<Collect>(&answers[i], [&] {
      ++completed;
      if (completed == bodies.size()) {
        loop.stop();
      } else {
        loop.post([&] { send_next(); });
      }
    });
    HttpRequest request;
    request.method = "POST";
    request.target = target;
    request.body = bodies[i];
    client.send(request, handlers[i].get());
  };
  const size_t first = std::min(bodies.size(), std::max<size_t>(o.max_in_flight, 1));
  auto guard = loop.keep_alive();
  loop.post([&] {
    for (size_t i = 0; i < first; ++i) send_next();
  });
  loop.run();
  guard.reset();
  client.cancel_all();
  return answers;
}

bool connection_failure(FailureKind kind) {
  return kind == FailureKind::kConnectRefused || kind == FailureKind::kConnectTimeout || kind == FailureKind::kDns ||
         kind == FailureKind::kTls;
}

std::string describe(const Answer& a) {
  if (a.outcome.failure == FailureKind::kNone || a.outcome.failure == FailureKind::kHttpStatus) {
    return "HTTP " + std::to_string(a.status) + (a.body.empty() ? std::string() : ": " + excerpt(a.body));
  }
  return std::string(to_string(a.outcome.failure)) + (a.outcome.detail.empty() ? "" : " (" + a.outcome.detail + ")");
}

}  // namespace

const char* to_string(TokenizeFormat format) {
  switch (format) {
    case TokenizeFormat::kVllm:
      return "vllm";
    case TokenizeFormat::kLlamaCpp:
      return "llama.cpp";
    case TokenizeFormat::kTgi:
      return "tgi";
  }
  return "vllm";
}

std::optional<TokenizeFormat> parse_tokenize_format(std::string_view name) {
  if (name == "vllm" || name == "openai" || name == "sglang" || name == "llmbench") return TokenizeFormat::kVllm;
  if (name == "llama.cpp" || name == "llamacpp" || name == "llama-cpp") return TokenizeFormat::kLlamaCpp;
  if (name == "tgi") return TokenizeFormat::kTgi;
  return std::nullopt;
}

std::string tokenize_body(TokenizeFormat format, std::string_view model, std::string_view text, bool chat) {
  json body = json::object();
  switch (format) {
    case TokenizeFormat::kVllm:
      if (!model.empty()) body["model"] = model;
      if (chat) {
        body["messages"] = json::array({{{"role", "user"}, {"content", text}}});
      } else {
        body["prompt"] = text;
        body["add_special_tokens"] = true;
      }
      break;
    case TokenizeFormat::kLlamaCpp:
      if (chat) return {};
      body["content"] = text;
      body["add_special"] = true;
      break;
    case TokenizeFormat::kTgi:
      if (chat) return {};
      body["inputs"] = text;
      break;
  }
  // Invalid UTF-8 in `text` is replaced rather than thrown on (generated prompts are ASCII).
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<int32_t> parse_tokenize_count(TokenizeFormat format, std::string_view body, std::string* error) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto fail = [&](const std::string& why) -> std::optional<int32_t> {
    if (error) *error = why + ": " + excerpt(body);
    return std::nullopt;
  };
  if (j.is_discarded()) return fail("not JSON");
  switch (format) {
    case TokenizeFormat::kVllm: {
      if (!j.is_object()) return fail("not a JSON object");
      const auto count = j.find("count");
      const auto tokens = j.find("tokens");
      if (count == j.end() || !count->is_number_integer()) return fail("no integer \"count\" (not vLLM's answer)");
      if (tokens != j.end() && tokens->is_array() && tokens->size() != count->get<uint64_t>()) {
        return fail("\"count\" differs from the number of \"tokens\"");
      }
      const auto n = count->get<int64_t>();
      if (n < 0 || n > INT32_MAX) return fail("\"count\" out of range");
      return static_cast<int32_t>(n);
    }
    case TokenizeFormat::kLlamaCpp: {
      if (!j.is_object()) return fail("not a JSON object");
      const auto tokens = j.find("tokens");
      if (tokens == j.end() || !tokens->is_array()) return fail("no \"tokens\" list");
      if (j.contains("count")) return fail("has \"count\" (a vLLM-style answer)");
      return static_cast<int32_t>(std::min<size_t>(tokens->size(), INT32_MAX));
    }
    case TokenizeFormat::kTgi: {
      if (!j.is_array()) return fail("not a JSON list of tokens");
      for (const auto& t : j) {
        if (!t.is_object() || !t.contains("id")) return fail("a list entry is not a token object with \"id\"");
      }
      return static_cast<int32_t>(std::min<size_t>(j.size(), INT32_MAX));
    }
  }
  return fail("unknown format");
}

std::string TokenizeProbe::summary() const {
  std::string out;
  for (const auto& a : attempts) {
    if (!out.empty()) out += "; ";
    out += a;
  }
  return out;
}

TokenizeClient::TokenizeClient(TokenizeClientOptions options, TokenizeFormat format)
    : options_(std::move(options)), format_(format) {}

std::string TokenizeClient::url() const {
  return options_.base_url.origin() + target_path(options_);
}

TokenizeProbe TokenizeClient::probe(const TokenizeClientOptions& options, const std::vector<TokenizeFormat>& order) {
  TokenizeProbe probe;
  for (const auto format : order) {
    // Probing uses the completion form: every format has one.
    const auto answers = run_batch(options, {tokenize_body(format, options.model, "Hello world", false)});
    const Answer& a = answers.front();
    if (connection_failure(a.outcome.failure)) {
      probe.unreachable = true;
      probe.attempts.push_back(std::string(to_string(format)) + ": " + describe(a));
      return probe;
    }
    if (a.status == 401 || a.status == 403) probe.unauthorized = true;
    std::string why;
    if (a.outcome.failure == FailureKind::kNone && a.status >= 200 && a.status < 300) {
      if (parse_tokenize_count(format, a.body, &why)) {
        probe.format = format;
        return probe;
      }
      probe.attempts.push_back(std::string(to_string(format)) + ": HTTP " + std::to_string(a.status) + ", " + why);
    } else {
      probe.attempts.push_back(std::string(to_string(format)) + ": " + describe(a));
    }
  }
  return probe;
}

std::vector<int32_t> TokenizeClient::count(const std::vector<std::string>& texts) {
  std::vector<std::string> bodies;
  bodies.reserve(texts.size());
  for (const auto& t : texts) {
    bodies.push_back(tokenize_body(format_, options_.model, t, options_.chat));
    if (bodies.back().empty()) {
      throw TokenizeError(std::string("the ") + to_string(format_) +
                          " tokenize endpoint has no chat form: it cannot count a chat request's prompt");
    }
  }
  const auto answers = run_batch(options_, bodies);
  requests_sent_ += static_cast<int64_t>(answers.size());
  std::vector<int32_t> counts(texts.size());
  for (size_t i = 0; i < answers.size(); ++i) {
    const Answer& a = answers[i];
    if (a.outcome.failure != FailureKind::kNone || a.status < 200 || a.status >= 300) {
      throw TokenizeError("POST " + url() + " failed: " + describe(a));
    }
    std::string why;
    const auto n = parse_tokenize_count(format_, a.body, &why);
    if (!n) throw TokenizeError("POST " + url() + ": unexpected answer: " + why);
    counts[i] = *n;
  }
  return counts;
}

}  // namespace llmbench::net

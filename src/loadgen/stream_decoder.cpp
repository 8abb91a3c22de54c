#include "loadgen/stream_decoder.h"

#include <simdjson.h>

#include <algorithm>

namespace llmbench::loadgen {

struct StreamDecoder::Parser {
  simdjson::dom::parser dom;
};

namespace {

constexpr size_t kMaxErrorBytes = 512;
constexpr size_t kMaxRawBody = 64u << 20;

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// Text of an OpenAI-style error object or TGI's {"error": "..."}; empty when `doc` is no error.
std::string error_message(const simdjson::dom::element& doc) {
  simdjson::dom::element err;
  if (doc["error"].get(err) == simdjson::SUCCESS && !err.is_null()) {
    std::string_view msg;
    if (err.get_string().get(msg) == simdjson::SUCCESS) return std::string(msg);
    if (err["message"].get_string().get(msg) == simdjson::SUCCESS) return std::string(msg);
    return std::string(simdjson::minify(err));
  }
  std::string_view object;
  if (doc["object"].get_string().get(object) == simdjson::SUCCESS && object == "error") {
    std::string_view msg;
    if (doc["message"].get_string().get(msg) == simdjson::SUCCESS) return std::string(msg);
    return "error";
  }
  return {};
}

int64_t get_int(const simdjson::dom::element& obj, std::string_view key, int64_t fallback) {
  int64_t v;
  if (obj[key].get_int64().get(v) == simdjson::SUCCESS) return v;
  return fallback;
}

}  // namespace

StreamDecoder::StreamDecoder(workload::ApiBackend backend) : parser_(std::make_unique<Parser>()), backend_(backend) {
  line_.reserve(4096);
  data_.reserve(4096);
}
StreamDecoder::~StreamDecoder() = default;
StreamDecoder::StreamDecoder(StreamDecoder&&) noexcept = default;
StreamDecoder& StreamDecoder::operator=(StreamDecoder&&) noexcept = default;

void StreamDecoder::reset(bool event_stream) {
  event_stream_ = event_stream;
  line_.clear();
  data_.clear();
  has_data_ = false;
  raw_body_.clear();
  saw_done_ = false;
  chunk_counted_ = false;
  finish_reason_.clear();
  failure_kind_.clear();
  error_.clear();
  text_.clear();
  usage_completion_tokens_ = -1;
  usage_prompt_tokens_ = -1;
  last_usage_cumulative_ = 0;
  output_text_bytes_ = 0;
}

void StreamDecoder::fail(const char* kind, std::string detail) {
  if (!failure_kind_.empty()) return;
  failure_kind_ = kind;
  if (detail.size() > kMaxErrorBytes) detail.resize(kMaxErrorBytes);
  error_ = std::move(detail);
}

void StreamDecoder::feed(std::string_view data, int64_t arrived_ns, std::vector<StreamEventStamp>& events) {
  if (failed()) return;
  if (!event_stream_) {
    if (raw_body_.size() + data.size() > kMaxRawBody) return fail("body_too_large", "non-streamed body too large");
    raw_body_.append(data);
    return;
  }
  size_t pos = 0;
  while (pos < data.size() && !failed()) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      line_.append(data.substr(pos));
      return;
    }
    std::string_view line;
    if (line_.empty()) {
      line = data.substr(pos, nl - pos);
    } else {
      line_.append(data.substr(pos, nl - pos));
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      dispatch(arrived_ns, events);
    } else {
      on_line(line);
    }
    line_.clear();
    pos = nl + 1;
  }
}

void StreamDecoder::on_line(std::string_view line) {
  if (line.front() == ':') return;  // comment / keep-alive
  if (starts_with(line, "data:")) {
    std::string_view value = line.substr(5);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
    return;
  }
  if (starts_with(line, "event:") || starts_with(line, "id:") || starts_with(line, "retry:")) return;
  fail("malformed_sse", "unexpected line in event stream: " + std::string(line.substr(0, 200)));
}

void StreamDecoder::dispatch(int64_t arrived_ns, std::vector<StreamEventStamp>& events) {
  if (!has_data_) return;
  has_data_ = false;
  if (data_ == "[DONE]") {
    saw_done_ = true;
    data_.clear();
    return;
  }
  const int32_t tokens = parse_event(data_);
  data_.clear();
  if (failed()) return;
  events.push_back(StreamEventStamp{arrived_ns, tokens});
}

int32_t StreamDecoder::parse_event(std::string& json) {
  const size_t n = json.size();
  json.reserve(n + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element doc;
  if (auto err = parser_->dom.parse(json.data(), n, false).get(doc); err != simdjson::SUCCESS) {
    fail("malformed_json", std::string(simdjson::error_message(err)) + ": " + json.substr(0, 200));
    return 0;
  }
  if (!doc.is_object()) {
    fail("malformed_json", "event is not a JSON object: " + json.substr(0, 200));
    return 0;
  }
  if (std::string msg = error_message(doc); !msg.empty()) {
    fail("server_error", std::move(msg));
    return 0;
  }

  if (backend_ == workload::ApiBackend::kTgi) {
    // TGI: every event carries exactly one generated token; the last one has details.
    simdjson::dom::element token;
    int32_t tokens = 0;
    if (doc["token"].get(token) == simdjson::SUCCESS && token.is_object()) {
      tokens = 1;
      std::string_view text;
      if (token["text"].get_string().get(text) == simdjson::SUCCESS) {
        output_text_bytes_ += static_cast<int64_t>(text.size());
        if (keep_text_) text_.append(text);
      }
    }
    simdjson::dom::element details;
    if (doc["details"].get(details) == simdjson::SUCCESS && details.is_object()) {
      std::string_view reason;
      if (details["finish_reason"].get_string().get(reason) == simdjson::SUCCESS) finish_reason_ = reason;
      const int64_t generated = get_int(details, "generated_tokens", -1);
      if (generated >= 0) usage_completion_tokens_ = static_cast<int32_t>(generated);
    }
    return tokens;
  }

  // OpenAI completions / chat.
  bool has_choice = false;
  size_t content_bytes = 0;
  simdjson::dom::array choices;
  if (doc["choices"].get_array().get(choices) == simdjson::SUCCESS) {
    for (simdjson::dom::element choice : choices) {
      has_choice = true;
      std::string_view text;
      bool got = false;
      if (backend_ == workload::ApiBackend::kOpenAiChat) {
        simdjson::dom::element delta;
        if (choice["delta"].get(delta) == simdjson::SUCCESS && delta.is_object()) {
          got = delta["content"].get_string().get(text) == simdjson::SUCCESS;
          std::string_view reasoning;
          if (!got && delta["reasoning_content"].get_string().get(reasoning) == simdjson::SUCCESS) {
            text = reasoning;
            got = true;
          }
        }
      } else {
        got = choice["text"].get_string().get(text) == simdjson::SUCCESS;
      }
      if (got) {
        content_bytes += text.size();
        if (keep_text_) text_.append(text);
      }
      std::string_view reason;
      if (choice["finish_reason"].get_string().get(reason) == simdjson::SUCCESS) finish_reason_ = reason;
    }
  }
  output_text_bytes_ += static_cast<int64_t>(content_bytes);

  simdjson::dom::element usage;
  const bool has_usage = doc["usage"].get(usage) == simdjson::SUCCESS && usage.is_object();
  int64_t cumulative = -1;
  if (has_usage) {
    cumulative = get_int(usage, "completion_tokens", -1);
    const int64_t prompt = get_int(usage, "prompt_tokens", -1);
    if (prompt >= 0) usage_prompt_tokens_ = static_cast<int32_t>(prompt);
    if (cumulative >= 0) usage_completion_tokens_ = static_cast<int32_t>(cumulative);
  }
  if (cumulative >= 0 && (has_choice || !chunk_counted_)) {
    // Per-chunk usage: the exact number of tokens this chunk added.
    const int32_t tokens = std::max<int32_t>(0, static_cast<int32_t>(cumulative) - last_usage_cumulative_);
    last_usage_cumulative_ = static_cast<int32_t>(cumulative);
    return tokens;
  }
  if (has_choice && content_bytes > 0) {
    chunk_counted_ = true;  // no server count on this chunk: assume one token
    return 1;
  }
  return 0;
}

void StreamDecoder::finish(int64_t end_ns, std::vector<StreamEventStamp>& events) {
  if (failed()) return;
  if (event_stream_) {
    if (!line_.empty()) {
      std::string_view line = line_;
      if (line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) on_line(std::string(line));
      line_.clear();
    }
    if (has_data_) dispatch(end_ns, events);
    if (!failed() && !saw_done_ && finish_reason_.empty()) {
      fail("incomplete_stream", "stream ended without a finish reason or [DONE]");
    }
    return;
  }
  // Non-streamed JSON body: one event carrying every token, at the end.
  if (raw_body_.empty()) return fail("malformed_json", "empty response body");
  const int32_t chunk_tokens = parse_event(raw_body_);
  if (failed()) return;
  const int32_t tokens = usage_completion_tokens_ >= 0 ? usage_completion_tokens_ : chunk_tokens;
  events.push_back(StreamEventStamp{end_ns, tokens});
  if (usage_completion_tokens_ < 0) chunk_counted_ = true;
}

}  // namespace llmbench::loadgen

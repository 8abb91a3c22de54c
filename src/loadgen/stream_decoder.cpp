#include "loadgen/stream_decoder.h"

namespace llmbench::loadgen {
namespace {
constexpr size_t kMaxErrorBytes = 512;
constexpr size_t kMaxRawBody = 64u << 20;
}  // namespace

StreamDecoder::StreamDecoder(workload::ApiBackend backend)
    : StreamDecoder(std::make_shared<net::EventDecoder>(workload::to_dialect(backend))) {}
StreamDecoder::StreamDecoder(std::shared_ptr<net::EventDecoder> decoder) : decoder_(std::move(decoder)) {}
StreamDecoder::~StreamDecoder() = default;
StreamDecoder::StreamDecoder(StreamDecoder&&) noexcept = default;
StreamDecoder& StreamDecoder::operator=(StreamDecoder&&) noexcept = default;

void StreamDecoder::reset(bool event_stream) {
  event_stream_ = event_stream;
  sse_.reset();
  state_ = net::StreamState{};
  raw_body_.clear();
  saw_done_ = false;
  chunk_counted_ = false;
  finish_reason_.clear();
  failure_kind_.clear();
  error_.clear();
  text_.clear();
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
  sse_.feed(data, arrived_ns, [&](const net::SseEvent& event) { on_event(event, events); });
}

void StreamDecoder::on_event(const net::SseEvent& event, std::vector<StreamEventStamp>& events) {
  if (failed()) return;
  if (event.overflow) return fail("event_too_large", "an SSE event exceeded the size limit");
  if (event.done) {
    saw_done_ = true;
    return;
  }
  if (event.data.empty()) return;  // an event without data (e.g. a bare "event: ping")
  decoder_->decode_event(event.data, &state_, &event_, keep_text_);
  if (event_.malformed) return fail("malformed_json", event_.malformed_detail);
  if (event_.is_error) {
    return fail("server_error", event_.error_message.empty() ? std::string(event.data) : event_.error_message);
  }
  int32_t tokens = event_.tokens;
  if (event_.tokens_from_server && !event_.has_content && event_.finish_reason.empty() && state_.any_fallback) {
    // A final usage-only chunk ("choices": []) after chunks counted one by one: its usage is the
    // total (kept in state_), not new tokens.
    tokens = 0;
  }
  if (!event_.tokens_from_server && tokens > 0) chunk_counted_ = true;
  if (!event_.finish_reason.empty()) finish_reason_ = event_.finish_reason;
  output_text_bytes_ += event_.text_bytes;
  if (keep_text_) text_.append(event_.text);
  events.push_back(StreamEventStamp{event.arrived_ns, tokens});
}

void StreamDecoder::finish(int64_t end_ns, std::vector<StreamEventStamp>& events) {
  if (failed()) return;
  if (event_stream_) {
    // An event still unterminated at the end is discarded (as the SSE spec says).
    if (!saw_done_ && finish_reason_.empty()) {
      fail("incomplete_stream", sse_.has_partial_event() ? "stream ended in the middle of an event"
                                                         : "stream ended without a finish reason or [DONE]");
    }
    return;
  }
  // Non-streamed JSON body: one event carrying every token, at the end.
  if (raw_body_.empty()) return fail("malformed_json", "empty response body");
  net::DecodedResponse response;
  decoder_->decode_response(raw_body_, &response, keep_text_);
  if (response.malformed) return fail("malformed_json", response.malformed_detail);
  if (response.is_error) return fail("server_error", response.error_message);
  finish_reason_ = response.finish_reason;
  output_text_bytes_ = response.text_bytes;
  if (keep_text_) text_ = response.text;
  state_.prompt_tokens = response.prompt_tokens;
  state_.completion_tokens = response.completion_tokens;
  if (response.completion_tokens < 0) chunk_counted_ = true;
  const int32_t tokens =
      response.completion_tokens >= 0 ? response.completion_tokens : (response.text_bytes > 0 ? 1 : 0);
  events.push_back(StreamEventStamp{end_ns, tokens});
}

}  // namespace llmbench::loadgen

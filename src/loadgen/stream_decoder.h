#pragma once
// Turns one streamed response body into per-event token counts, as bytes arrive. The caller stamps
// the time the bytes came off the socket; every SSE event completed by those bytes gets that stamp
// (the event's own arrival), then its JSON is parsed (net::SseParser + net::EventDecoder). Token
// counts come from the server: per-chunk usage (vLLM's continuous_usage_stats), TGI's one-token
// events, else one token per non-empty content chunk (flagged as a fallback). Buffers keep their
// capacity, so after the first events a stream allocates nothing per token.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/request_record.h"
#include "net/dialect.h"
#include "net/sse_parser.h"
#include "workload/api_backend.h"

namespace llmbench::loadgen {

class StreamDecoder {
 public:
  explicit StreamDecoder(workload::ApiBackend backend);
  // Shares one JSON decoder (simdjson parser + scratch) among the streams of one thread.
  explicit StreamDecoder(std::shared_ptr<net::EventDecoder> decoder);
  ~StreamDecoder();
  StreamDecoder(StreamDecoder&&) noexcept;
  StreamDecoder& operator=(StreamDecoder&&) noexcept;

  // Starts a new response. `event_stream` is false for a non-streamed (application/json) body.
  void reset(bool event_stream);
  // Feeds body bytes that arrived at `arrived_ns`; appends one stamp per completed SSE event.
  void feed(std::string_view data, int64_t arrived_ns, std::vector<StreamEventStamp>& events);
  // At the end of a successful transfer: checks the stream ended properly, parses a non-streamed body.
  void finish(int64_t end_ns, std::vector<StreamEventStamp>& events);

  bool failed() const { return !failure_kind_.empty(); }
  // "malformed_json", "server_error", "incomplete_stream", "event_too_large", "body_too_large".
  const std::string& failure_kind() const { return failure_kind_; }
  const std::string& error() const { return error_; }
  bool saw_done() const { return saw_done_; }  // "data: [DONE]"
  const std::string& finish_reason() const { return finish_reason_; }
  int32_t usage_completion_tokens() const { return state_.completion_tokens; }  // -1 if never reported
  int32_t usage_prompt_tokens() const { return state_.prompt_tokens; }          // -1 if never reported
  bool chunk_counted() const { return chunk_counted_; }  // some event's tokens were guessed from chunks
  int64_t output_text_bytes() const { return output_text_bytes_; }
  // The generated text, only kept when enabled.
  void keep_text(bool keep) { keep_text_ = keep; }
  const std::string& text() const { return text_; }

 private:
  void on_event(const net::SseEvent& event, std::vector<StreamEventStamp>& events);
  void fail(const char* kind, std::string detail);

  std::shared_ptr<net::EventDecoder> decoder_;
  net::SseParser sse_;
  net::StreamState state_;
  net::DecodedEvent event_;
  bool event_stream_ = true;
  std::string raw_body_;  // non-streamed body
  bool saw_done_ = false;
  bool chunk_counted_ = false;
  bool keep_text_ = false;
  std::string finish_reason_;
  std::string failure_kind_;
  std::string error_;
  std::string text_;
  int64_t output_text_bytes_ = 0;
};

}  // namespace llmbench::loadgen

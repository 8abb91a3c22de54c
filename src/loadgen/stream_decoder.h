#pragma once
// Turns one streamed response body into per-event token counts, as bytes arrive. The caller stamps
// the time the bytes came off the socket; every SSE event completed by those bytes gets that stamp
// (the event's own arrival), then its JSON is parsed. Token counts come from the server: per-chunk
// usage (vLLM's continuous_usage_stats), TGI's one-token events, else one token per non-empty
// content chunk (flagged as a fallback). Buffers keep their capacity, so after the first events a
// stream allocates nothing per token.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/request_record.h"
#include "workload/api_backend.h"

namespace llmbench::loadgen {

class StreamDecoder {
 public:
  explicit StreamDecoder(workload::ApiBackend backend);
  ~StreamDecoder();
  StreamDecoder(StreamDecoder&&) noexcept;
  StreamDecoder& operator=(StreamDecoder&&) noexcept;

  // Starts a new response. `event_stream` is false for a non-streamed (application/json) body.
  void reset(bool event_stream);
  // Feeds body bytes that arrived at `arrived_ns`; appends one stamp per completed SSE event.
  void feed(std::string_view data, int64_t arrived_ns, std::vector<StreamEventStamp>& events);
  // At the end of a successful transfer: flushes a trailing event, parses a non-streamed body.
  void finish(int64_t end_ns, std::vector<StreamEventStamp>& events);

  bool failed() const { return !failure_kind_.empty(); }
  const std::string& failure_kind() const { return failure_kind_; }  // "malformed_json", "server_error", ...
  const std::string& error() const { return error_; }
  bool saw_done() const { return saw_done_; }  // "data: [DONE]"
  const std::string& finish_reason() const { return finish_reason_; }
  int32_t usage_completion_tokens() const { return usage_completion_tokens_; }  // -1 if never reported
  int32_t usage_prompt_tokens() const { return usage_prompt_tokens_; }          // -1 if never reported
  bool chunk_counted() const { return chunk_counted_; }  // some event's tokens were guessed from chunks
  int64_t output_text_bytes() const { return output_text_bytes_; }
  // The generated text, only kept when enabled.
  void keep_text(bool keep) { keep_text_ = keep; }
  const std::string& text() const { return text_; }

 private:
  void on_line(std::string_view line);
  void dispatch(int64_t arrived_ns, std::vector<StreamEventStamp>& events);
  int32_t parse_event(std::string& json);  // tokens carried; sets failure on bad input
  void fail(const char* kind, std::string detail);

  struct Parser;
  std::unique_ptr<Parser> parser_;  // simdjson, kept out of the header
  workload::ApiBackend backend_;
  bool event_stream_ = true;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  std::string raw_body_;  // non-streamed body
  bool saw_done_ = false;
  bool chunk_counted_ = false;
  bool keep_text_ = false;
  std::string finish_reason_;
  std::string failure_kind_;
  std::string error_;
  std::string text_;
  int32_t usage_completion_tokens_ = -1;
  int32_t usage_prompt_tokens_ = -1;
  int32_t last_usage_cumulative_ = 0;
  int64_t output_text_bytes_ = 0;
  int64_t pending_arrived_ns_ = 0;
};

}  // namespace llmbench::loadgen

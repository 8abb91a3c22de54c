#pragma once
// API dialects: request bodies for each server API (built before the clock starts) and decoders
// for what comes back (one SSE event's data, or a whole non-streaming body).
//
// Dialects:
//   kOpenAICompletions  POST /v1/completions        (vLLM, SGLang, llama.cpp server, TGI's OpenAI layer)
//   kOpenAIChat         POST /v1/chat/completions   (same servers)
//   kTgi                POST /generate_stream, /generate  (TGI's native API)
//
// Streaming OpenAI requests ask for `stream_options: {include_usage: true, continuous_usage_stats:
// true}`: vLLM and SGLang then put `usage` in every chunk, so each chunk's token count is the delta
// of usage.completion_tokens (exact). Servers that ignore continuous_usage_stats (llama.cpp, OpenAI)
// fall back to one token per content chunk, flagged (tokens_from_server = false), and report the
// exact total in the final usage chunk.
//
// Non-standard sampling fields: `ignore_eos` and `min_tokens` are vLLM extensions that SGLang also
// accepts; llama.cpp's server accepts `ignore_eos` (not min_tokens); TGI has neither (never sent in
// the TGI dialect); OpenAI's API rejects both. TGI rejects temperature <= 0, so the TGI body sends
// `do_sample: false` instead of a zero temperature.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_client.h"

namespace llmbench::net {

enum class ApiDialect : uint8_t { kOpenAICompletions, kOpenAIChat, kTgi };

const char* to_string(ApiDialect dialect);                       // "openai", "openai-chat", "tgi"
std::optional<ApiDialect> parse_dialect(std::string_view name);  // accepts the names above
// Default request path: /v1/completions, /v1/chat/completions, /generate_stream or /generate.
const char* default_path(ApiDialect dialect, bool stream);

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct GenerationRequest {
  std::string model;                      // "model" (OpenAI dialects; omitted when empty)
  std::string prompt;                     // text prompt (completions, TGI inputs, or one user message)
  std::vector<int32_t> prompt_token_ids;  // completions only: sent as "prompt": [ids] when not empty
  std::vector<ChatMessage> messages;      // chat; empty means {"role":"user","content":prompt}
  int32_t max_tokens = 0;                 // 0: not sent (TGI: max_new_tokens)
  std::optional<int32_t> min_tokens;      // vLLM/SGLang extension
  bool ignore_eos = false;                // vLLM/SGLang/llama.cpp extension; sent only when true
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  bool stream = true;
  bool continuous_usage = true;  // stream_options.continuous_usage_stats (with include_usage)
  // A JSON object merged into the body last (its keys win), e.g. from --extra-body. For TGI, keys
  // other than "inputs"/"parameters"/"stream" are merged into "parameters".
  std::string extra_body_json;
};

// Builds the HTTP request (path, JSON body, Accept header). Returns false with *error set when the
// request cannot be built (extra_body_json is not a JSON object, chat without any message, ...).
bool build_request(ApiDialect dialect, const GenerationRequest& request, HttpRequest* out, std::string* error);

// What one SSE event's data said. Reused across events: clear() keeps string capacity.
struct DecodedEvent {
  int32_t tokens = 0;               // tokens this event carried
  bool tokens_from_server = false;  // from usage deltas / TGI token events; false: 1-per-content-chunk fallback
  bool has_content = false;         // carried generated text (or a generated token)
  int64_t text_bytes = 0;           // bytes of generated text (after JSON unescaping)
  std::string text;                 // the text itself, only when decoding with keep_text
  bool has_usage = false;           // usage (or TGI details) present
  int32_t prompt_tokens = -1;       // from usage / details, -1 if absent
  int32_t completion_tokens = -1;   // cumulative, from usage / details, -1 if absent
  std::string finish_reason;        // empty if none
  bool done = false;                // the "[DONE]" marker
  bool is_error = false;            // {"error": ...} (OpenAI, vLLM) or {"error": "...", "error_type": ...} (TGI)
  std::string error_message;
  std::string error_type;
  bool malformed = false;  // not valid JSON / not an object
  std::string malformed_detail;
  void clear();
};

// Per-request decoding state (running totals across one stream's events).
struct StreamState {
  int32_t last_completion_tokens = 0;  // last cumulative usage.completion_tokens seen
  bool saw_chunk_usage = false;        // some content chunk carried usage (continuous usage stats)
  int32_t tokens = 0;                  // sum of DecodedEvent::tokens so far
  bool any_fallback = false;           // some event's count came from the chunk-count fallback
  int32_t prompt_tokens = -1;          // last reported
  int32_t completion_tokens = -1;      // last reported cumulative total
};

// The whole body of a non-streaming response.
struct DecodedResponse {
  int64_t text_bytes = 0;
  std::string text;  // only with keep_text
  int32_t prompt_tokens = -1;
  int32_t completion_tokens = -1;
  std::string finish_reason;
  bool is_error = false;
  std::string error_message;
  std::string error_type;
  bool malformed = false;
  std::string malformed_detail;
};

// simdjson on-demand decoder. Holds a parser and a padded scratch buffer, so use one per thread
// (not per request); it allocates only when a document is larger than any seen before.
class EventDecoder {
 public:
  explicit EventDecoder(ApiDialect dialect);
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  ApiDialect dialect() const { return dialect_; }
  // Decodes one SSE event's data into *out (cleared first) and updates *state.
  void decode_event(std::string_view data, StreamState* state, DecodedEvent* out, bool keep_text = false);
  // Decodes a non-streaming response body (also used for HTTP error bodies).
  void decode_response(std::string_view body, DecodedResponse* out, bool keep_text = false);

 private:
  struct Impl;
  ApiDialect dialect_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmbench::net

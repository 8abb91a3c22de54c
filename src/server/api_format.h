#pragma once
// Response side of the OpenAI-compatible (vLLM) and TGI APIs, written byte for byte as vLLM's
// pydantic models serialize (compact JSON, fields in declaration order, non-ASCII kept as UTF-8)
// and as TGI's router does. Stream chunks are appended to a caller-owned buffer so that a
// streaming connection reuses one allocation for all its tokens.
//
// Reference shapes (vLLM 0.6-0.8 OpenAI server):
//   completion chunk: {"id":"cmpl-..","object":"text_completion","created":N,"model":"m",
//                      "choices":[{"index":0,"text":"..","logprobs":null,"finish_reason":null,
//                      "stop_reason":null}],"usage":null}
//   chat chunk:       {"id":"chatcmpl-..","object":"chat.completion.chunk","created":N,"model":"m",
//                      "choices":[{"index":0,"delta":{"content":".."},"logprobs":null,
//                      "finish_reason":null}]}   (the last one adds "stop_reason")
//   usage chunk:      {...,"choices":[],"usage":{"prompt_tokens":P,"total_tokens":T,"completion_tokens":C}}
//   TGI stream event: data:{"index":1,"token":{"id":..,"text":"..","logprob":null,"special":false},
//                      "generated_text":null,"details":null}
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_protocol.h"

namespace llmbench::server {

// Appends s as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);

std::string format_error(const ApiError& error);      // {"error":{"message","type","param","code"}}
std::string format_tgi_error(const ApiError& error);  // {"error":"..","error_type":".."}
std::string format_tokenize_response(const std::vector<int32_t>& tokens, int max_model_len,
                                     const std::vector<std::string>* token_strs);
std::string format_detokenize_response(std::string_view text);

struct ResponseIds {
  std::string_view id;  // "cmpl-<hex>" or "chatcmpl-<hex>"
  int64_t created = 0;  // Unix seconds
  std::string_view model;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// vLLM's stop_reason: null (EOS or length), the matched stop string, or the matched stop token id.
struct StopReason {
  enum class Kind : uint8_t { kNull, kString, kTokenId } kind = Kind::kNull;
  std::string text;
  int64_t token_id = 0;
};

// finish_reason: nullptr writes null.
void append_completion_chunk(std::string& out, const ResponseIds& ids, int index, std::string_view text,
                             const char* finish_reason, const StopReason& stop_reason, const Usage* usage);
void append_chat_role_chunk(std::string& out, const ResponseIds& ids, int index, const Usage* usage);
// stop_reason is written only on the last chunk (finish_reason != nullptr), as vLLM does.
void append_chat_chunk(std::string& out, const ResponseIds& ids, int index, std::string_view text,
                       const char* finish_reason, const StopReason& stop_reason, const Usage* usage);
// The final usage-only chunk of stream_options.include_usage. `object` is "text_completion" or
// "chat.completion.chunk".
void append_usage_chunk(std::string& out, const ResponseIds& ids, std::string_view object, const Usage& usage);
void append_sse_data(std::string& out, std::string_view json);  // "data: <json>\n\n"
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

struct ChoiceResult {
  std::string text;
  const char* finish_reason = nullptr;
  StopReason stop_reason;
  const std::vector<int32_t>* token_ids = nullptr;  // written as "token_ids" when set (return_token_ids)
};
std::string format_completion_response(const ResponseIds& ids, const std::vector<ChoiceResult>& choices,
                                       const Usage& usage);
std::string format_chat_response(const ResponseIds& ids, const std::vector<ChoiceResult>& choices, const Usage& usage);

// TGI.
struct TgiToken {
  int32_t id = 0;
  std::string text;
  bool special = false;
};
struct TgiDetails {
  const char* finish_reason = "length";  // "length" | "eos_token" | "stop_sequence"
  int generated_tokens = 0;
  std::optional<uint64_t> seed;
};
// One SSE event ("data:{...}\n\n", no space after the colon, as axum writes it). generated_text
// and details are null except on the last token.
void append_tgi_stream_event(std::string& out, int index, const TgiToken& token, const std::string* generated_text,
                             const TgiDetails* details);
// /generate: {"generated_text":".."[,"details":{finish_reason,generated_tokens,seed,prefill:[],tokens:[..]}]}
std::string format_tgi_response(std::string_view generated_text, const TgiDetails* details,
                                const std::vector<TgiToken>& tokens);

}  // namespace llmbench::server

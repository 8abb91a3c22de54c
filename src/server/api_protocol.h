#pragma once
// Request side of the OpenAI-compatible (vLLM) and TGI APIs: JSON bodies parsed and validated into
// what the engine needs, with vLLM's error messages. No Boost and no I/O here, so the fuzz target
// and unit tests exercise exactly the code the server runs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::server {

enum class ApiKind : uint8_t { kCompletion, kChat, kTgi };

// An error answered to the client: OpenAI shape {"error":{"message","type","param","code"}}
// (TGI routes answer {"error","error_type"} instead, see api_format.h).
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "BadRequestError";
  std::string param;  // empty = null
};

// What the routes need to know about the model being served.
struct ApiContext {
  std::string served_model_name;
  int max_model_len = 0;
  int vocab_size = 0;                     // token ids must be in [0, vocab_size)
  std::optional<int32_t> prepend_bos_id;  // OPT's tokenizer adds </s> (id 2) before text prompts
  const tokenizer::Tokenizer* tokenizer = nullptr;
};

// A validated generation request: one engine request per prompt (choice index = its position).
struct GenerationJob {
  ApiKind kind = ApiKind::kCompletion;
  bool stream = false;
  std::string model;
  std::vector<std::vector<int32_t>> prompts;
  engine::SamplingParams params;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats
  bool tgi_details = false;       // TGI parameters.details
  bool return_token_ids = false;  // vLLM's return_token_ids: choices also carry "token_ids"
};

using ParseResult = std::variant<GenerationJob, ApiError>;

ParseResult parse_completion_request(std::string_view body, const ApiContext& ctx);
ParseResult parse_chat_request(std::string_view body, const ApiContext& ctx);
// TGI /generate and /generate_stream (`stream` says which route it came from).
ParseResult parse_tgi_request(std::string_view body, const ApiContext& ctx, bool stream);

// The chat template used for OPT/GPT-2 (which ship none): one "role: content\n" line per message,
// then "assistant:" when add_generation_prompt (the default). Content may be a string or a list of
// {"type":"text","text":...} parts. Exposed for tests and docs.
std::string apply_chat_template(const std::vector<std::pair<std::string, std::string>>& messages,
                                bool add_generation_prompt);

// /tokenize and /detokenize (vLLM shapes). Returns the response body or an error.
std::variant<std::string, ApiError> handle_tokenize(std::string_view body, const ApiContext& ctx);
std::variant<std::string, ApiError> handle_detokenize(std::string_view body, const ApiContext& ctx);

}  // namespace llmbench::server

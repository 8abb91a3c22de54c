#pragma once
// Which request/response format a target speaks. Names follow `vllm bench serve --backend`.
#include <optional>
#include <string>
#include <string_view>

#include "net/dialect.h"

namespace llmbench::workload {

enum class ApiBackend {
  kOpenAiCompletions,  // POST /v1/completions, SSE with choices[].text
  kOpenAiChat,         // POST /v1/chat/completions, SSE with choices[].delta.content
  kTgi,                // POST /generate_stream, SSE with token objects
};

// Accepts llmbench's names ("openai", "openai-chat", "tgi") and vLLM's aliases ("vllm", "sglang",
// "lmdeploy", "llama.cpp", "openai-comp", "vllm-chat", ...). nullopt for an unknown name.
std::optional<ApiBackend> parse_api_backend(std::string_view name);
const char* to_string(ApiBackend backend);
// The endpoint a backend uses when --endpoint is not given.
const char* default_endpoint(ApiBackend backend);
// True when the backend accepts a list of token ids as the prompt.
bool accepts_token_id_prompt(ApiBackend backend);
// The net module's dialect (request builders and response decoders) for a backend.
net::ApiDialect to_dialect(ApiBackend backend);

}  // namespace llmbench::workload

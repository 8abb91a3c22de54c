#include "workload/api_backend.h"

#include <array>
#include <utility>

namespace llmbench::workload {

std::optional<ApiBackend> parse_api_backend(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, ApiBackend>, 14> kNames{{
      {"openai", ApiBackend::kOpenAiCompletions},
      {"openai-comp", ApiBackend::kOpenAiCompletions},
      {"openai-completions", ApiBackend::kOpenAiCompletions},
      {"vllm", ApiBackend::kOpenAiCompletions},
      {"sglang", ApiBackend::kOpenAiCompletions},
      {"lmdeploy", ApiBackend::kOpenAiCompletions},
      {"llama.cpp", ApiBackend::kOpenAiCompletions},
      {"scalellm", ApiBackend::kOpenAiCompletions},
      {"openai-chat", ApiBackend::kOpenAiChat},
      {"openai-chat-completions", ApiBackend::kOpenAiChat},
      {"vllm-chat", ApiBackend::kOpenAiChat},
      {"chat", ApiBackend::kOpenAiChat},
      {"tgi", ApiBackend::kTgi},
      {"text-generation-inference", ApiBackend::kTgi},
  }};
  for (const auto& [n, b] : kNames) {
    if (n == name) return b;
  }
  return std::nullopt;
}

const char* to_string(ApiBackend backend) {
  switch (backend) {
    case ApiBackend::kOpenAiCompletions:
      return "openai";
    case ApiBackend::kOpenAiChat:
      return "openai-chat";
    case ApiBackend::kTgi:
      return "tgi";
  }
  return "openai";
}

const char* default_endpoint(ApiBackend backend) {
  switch (backend) {
    case ApiBackend::kOpenAiCompletions:
      return "/v1/completions";
    case ApiBackend::kOpenAiChat:
      return "/v1/chat/completions";
    case ApiBackend::kTgi:
      return "/generate_stream";
  }
  return "/v1/completions";
}

bool accepts_token_id_prompt(ApiBackend backend) {
  return backend == ApiBackend::kOpenAiCompletions;
}

net::ApiDialect to_dialect(ApiBackend backend) {
  switch (backend) {
    case ApiBackend::kOpenAiCompletions:
      return net::ApiDialect::kOpenAICompletions;
    case ApiBackend::kOpenAiChat:
      return net::ApiDialect::kOpenAIChat;
    case ApiBackend::kTgi:
      return net::ApiDialect::kTgi;
  }
  return net::ApiDialect::kOpenAICompletions;
}

}  // namespace llmbench::workload

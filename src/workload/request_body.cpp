#include "workload/request_body.h"

#include <stdexcept>

#include "net/dialect.h"

namespace llmbench::workload {

std::string build_request_body(ApiBackend backend, const Prompt& prompt, const BodyOptions& options) {
  net::GenerationRequest request;
  request.model = options.model;
  if (const auto* ids = std::get_if<std::vector<int32_t>>(&prompt)) {
    if (!accepts_token_id_prompt(backend)) {
      throw std::invalid_argument(std::string("backend '") + to_string(backend) +
                                  "' takes text prompts only, not token ids");
    }
    request.prompt_token_ids = *ids;
  } else {
    request.prompt = std::get<std::string>(prompt);
  }
  request.max_tokens = options.max_tokens;
  request.ignore_eos = options.ignore_eos;
  request.temperature = options.temperature;
  request.seed = options.seed;
  request.stream = true;
  request.continuous_usage = options.stream_usage;
  request.extra_body_json = options.extra_body_json;
  net::HttpRequest http;
  std::string error;
  if (!net::build_request(to_dialect(backend), request, &http, &error)) {
    throw std::invalid_argument("--extra-body: " + error);
  }
  return std::move(http.body);
}

}  // namespace llmbench::workload

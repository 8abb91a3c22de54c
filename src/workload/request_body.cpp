#include "workload/request_body.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace llmbench::workload {
namespace {

using nlohmann::json;

json parse_extra_body(const std::string& text) {
  if (text.empty()) return json::object();
  json extra = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (extra.is_discarded()) throw std::invalid_argument("--extra-body is not valid JSON: " + text);
  if (!extra.is_object()) throw std::invalid_argument("--extra-body must be a JSON object, got: " + text);
  return extra;
}

std::string prompt_text(const Prompt& prompt, ApiBackend backend) {
  if (const auto* text = std::get_if<std::string>(&prompt)) return *text;
  throw std::invalid_argument(std::string("backend '") + to_string(backend) +
                              "' takes text prompts only, not token ids");
}

}  // namespace

std::string build_request_body(ApiBackend backend, const Prompt& prompt, const BodyOptions& options) {
  json body;
  switch (backend) {
    case ApiBackend::kOpenAiCompletions: {
      if (!options.model.empty()) body["model"] = options.model;
      if (const auto* ids = std::get_if<std::vector<int32_t>>(&prompt)) {
        body["prompt"] = *ids;
      } else {
        body["prompt"] = std::get<std::string>(prompt);
      }
      body["max_tokens"] = options.max_tokens;
      body["stream"] = true;
      if (options.stream_usage) body["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", true}};
      if (options.ignore_eos) body["ignore_eos"] = true;
      if (options.temperature) body["temperature"] = *options.temperature;
      if (options.seed) body["seed"] = *options.seed;
      break;
    }
    case ApiBackend::kOpenAiChat: {
      if (!options.model.empty()) body["model"] = options.model;
      body["messages"] = json::array({{{"role", "user"}, {"content", prompt_text(prompt, backend)}}});
      body["max_tokens"] = options.max_tokens;
      body["stream"] = true;
      if (options.stream_usage) body["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", true}};
      if (options.ignore_eos) body["ignore_eos"] = true;
      if (options.temperature) body["temperature"] = *options.temperature;
      if (options.seed) body["seed"] = *options.seed;
      break;
    }
    case ApiBackend::kTgi: {
      body["inputs"] = prompt_text(prompt, backend);
      json params = {{"max_new_tokens", options.max_tokens}, {"details", true}};
      // TGI rejects temperature <= 0; greedy is do_sample=false.
      if (options.temperature && *options.temperature > 0) {
        params["do_sample"] = true;
        params["temperature"] = *options.temperature;
      } else {
        params["do_sample"] = false;
      }
      if (options.seed) params["seed"] = *options.seed;
      body["parameters"] = std::move(params);
      body["stream"] = true;
      break;
    }
  }
  json extra = parse_extra_body(options.extra_body_json);
  body.merge_patch(extra);
  return body.dump();
}

}  // namespace llmbench::workload

// Request bodies per API dialect (nlohmann-json; runs before the clock starts, never per token).
#include <nlohmann/json.hpp>

#include "net/dialect.h"

namespace llmbench::net {

const char* to_string(ApiDialect dialect) {
  switch (dialect) {
    case ApiDialect::kOpenAICompletions:
      return "openai";
    case ApiDialect::kOpenAIChat:
      return "openai-chat";
    case ApiDialect::kTgi:
      return "tgi";
  }
  return "unknown";
}

std::optional<ApiDialect> parse_dialect(std::string_view name) {
  if (name == "openai" || name == "openai-completions" || name == "completions") return ApiDialect::kOpenAICompletions;
  if (name == "openai-chat" || name == "chat") return ApiDialect::kOpenAIChat;
  if (name == "tgi") return ApiDialect::kTgi;
  return std::nullopt;
}

const char* default_path(ApiDialect dialect, bool stream) {
  switch (dialect) {
    case ApiDialect::kOpenAICompletions:
      return "/v1/completions";
    case ApiDialect::kOpenAIChat:
      return "/v1/chat/completions";
    case ApiDialect::kTgi:
      return stream ? "/generate_stream" : "/generate";
  }
  return "/";
}

void DecodedEvent::clear() {
  tokens = 0;
  tokens_from_server = false;
  has_content = false;
  text_bytes = 0;
  text.clear();
  has_usage = false;
  prompt_tokens = -1;
  completion_tokens = -1;
  finish_reason.clear();
  done = false;
  is_error = false;
  error_message.clear();
  error_type.clear();
  malformed = false;
  malformed_detail.clear();
}

namespace {

using nlohmann::json;

void add_openai_sampling(const GenerationRequest& r, json& body) {
  if (!r.model.empty()) body["model"] = r.model;
  if (r.max_tokens > 0) body["max_tokens"] = r.max_tokens;
  if (r.temperature) body["temperature"] = *r.temperature;
  if (r.top_p) body["top_p"] = *r.top_p;
  if (r.seed) body["seed"] = *r.seed;
  if (r.ignore_eos) body["ignore_eos"] = true;
  if (r.min_tokens) body["min_tokens"] = *r.min_tokens;
  body["stream"] = r.stream;
  if (r.stream) {
    body["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", r.continuous_usage}};
  }
}

}  // namespace

bool build_request(ApiDialect dialect, const GenerationRequest& r, HttpRequest* out, std::string* error) {
  json extra;
  if (!r.extra_body_json.empty()) {
    extra = json::parse(r.extra_body_json, nullptr, /*allow_exceptions=*/false);
    if (extra.is_discarded() || !extra.is_object()) {
      if (error) *error = "extra body is not a JSON object: " + r.extra_body_json.substr(0, 200);
      return false;
    }
  }
  json body = json::object();
  switch (dialect) {
    case ApiDialect::kOpenAICompletions: {
      if (!r.prompt_token_ids.empty()) {
        body["prompt"] = r.prompt_token_ids;
      } else {
        body["prompt"] = r.prompt;
      }
      add_openai_sampling(r, body);
      break;
    }
    case ApiDialect::kOpenAIChat: {
      json messages = json::array();
      for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
      if (messages.empty()) {
        if (!r.prompt_token_ids.empty() && r.prompt.empty()) {
          if (error) *error = "the chat API takes text messages, not a token-ID prompt";
          return false;
        }
        messages.push_back({{"role", "user"}, {"content", r.prompt}});
      }
      body["messages"] = std::move(messages);
      add_openai_sampling(r, body);
      break;
    }
    case ApiDialect::kTgi: {
      if (!r.prompt_token_ids.empty() && r.prompt.empty()) {
        if (error) *error = "TGI's generate API takes text inputs, not a token-ID prompt";
        return false;
      }
      body["inputs"] = r.prompt;
      json params = json::object();
      if (r.max_tokens > 0) params["max_new_tokens"] = r.max_tokens;
      if (r.temperature && *r.temperature > 0) {  // TGI rejects temperature <= 0: greedy is do_sample=false
        params["temperature"] = *r.temperature;
        params["do_sample"] = true;
      } else if (r.temperature) {
        params["do_sample"] = false;
      }
      if (r.top_p && *r.top_p > 0 && *r.top_p < 1) params["top_p"] = *r.top_p;  // TGI needs 0 < top_p < 1
      if (r.seed) params["seed"] = *r.seed;
      params["details"] = true;  // generated_tokens and finish_reason in the final event / response
      body["parameters"] = std::move(params);
      if (!extra.is_null()) {
        json top = json::object();
        for (auto it = extra.begin(); it != extra.end(); ++it) {
          if (it.key() == "inputs" || it.key() == "stream") {
            top[it.key()] = it.value();
          } else if (it.key() == "parameters") {
            body["parameters"].merge_patch(it.value());
          } else {
            json patch = json::object();
            patch[it.key()] = it.value();
            body["parameters"].merge_patch(patch);
          }
        }
        body.merge_patch(top);
        extra = nullptr;
      }
      break;
    }
  }
  if (!extra.is_null()) body.merge_patch(extra);  // RFC 7386: objects merge, null deletes a key
  out->method = "POST";
  out->target = default_path(dialect, r.stream);
  out->content_type = "application/json";
  out->body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  out->headers.clear();
  out->headers.emplace_back("Accept", r.stream ? "text/event-stream" : "application/json");
  return true;
}

}  // namespace llmbench::net

#include "server/api_protocol.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "server/api_format.h"

namespace llmbench::server {
namespace {

using json = nlohmann::json;

ApiError bad_request(std::string message, std::string param = {}) {
  return ApiError{400, std::move(message), "BadRequestError", std::move(param)};
}

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::number_float:
      return "number";
    default:
      return "integer";
  }
}

ApiError wrong_type(std::string_view key, std::string_view expected, const json& got) {
  return bad_request(fmt::format("'{}' must be {}, got {}", key, expected, type_name(got)), std::string(key));
}

// Field readers: absent or null leaves `out` untouched. They return an error for a wrong type.
std::optional<ApiError> read_bool(const json& body, const char* key, bool& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return wrong_type(key, "a boolean", *it);
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> read_int(const json& body, const char* key, std::optional<int64_t>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad_request(fmt::format("'{}' is out of range", key), key);
    }
    out = it->get<int64_t>();
    return std::nullopt;
  }
  // Pydantic accepts floats with no fractional part for int fields (e.g. 16.0).
  if (it->is_number_float()) {
    double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
      out = static_cast<int64_t>(v);
      return std::nullopt;
    }
  }
  return wrong_type(key, "an integer", *it);
}

std::optional<ApiError> read_number(const json& body, const char* key, std::optional<double>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return wrong_type(key, "a number", *it);
  out = it->get<double>();
  if (!std::isfinite(*out)) return bad_request(fmt::format("'{}' must be finite", key), key);
  return std::nullopt;
}

std::optional<ApiError> read_string(const json& body, const char* key, std::optional<std::string>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return wrong_type(key, "a string", *it);
  out = it->get<std::string>();
  return std::nullopt;
}

// "stop": a string or a list of strings.
std::optional<ApiError> read_stop(const json& body, const char* key, std::vector<std::string>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    if (!it->get_ref<const std::string&>().empty()) out.push_back(it->get<std::string>());
    return std::nullopt;
  }
  if (!it->is_array()) return wrong_type(key, "a string or a list of strings", *it);
  for (const auto& s : *it) {
    if (!s.is_string()) return wrong_type(key, "a string or a list of strings", s);
    if (!s.get_ref<const std::string&>().empty()) out.push_back(s.get<std::string>());
  }
  return std::nullopt;
}

std::optional<ApiError> read_int_list(const json& body, const char* key, std::vector<int32_t>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return wrong_type(key, "a list of integers", *it);
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return wrong_type(key, "a list of integers", v);
    int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > 0x7fffffffULL ? int64_t{1} << 40 : v.get<int64_t>();
    if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) {
      return bad_request(fmt::format("'{}' has a value out of range", key), key);
    }
    out.push_back(static_cast<int32_t>(x));
  }
  return std::nullopt;
}

std::optional<json> parse_json_object(std::string_view body, ApiError& error) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    error = bad_request("Invalid JSON body: the request body could not be parsed as JSON");
    return std::nullopt;
  }
  if (!j.is_object()) {
    error = bad_request(fmt::format("The request body must be a JSON object, got {}", type_name(j)));
    return std::nullopt;
  }
  return j;
}

// The "model" field: optional (vLLM serves the only model when it is absent); a different name is 404.
std::optional<ApiError> check_model(const json& body, const ApiContext& ctx, std::string& model_out) {
  std::optional<std::string> model;
  if (auto e = read_string(body, "model", model)) return e;
  if (model && *model != ctx.served_model_name) {
    return ApiError{404, fmt::format("The model `{}` does not exist.", *model), "NotFoundError", "model"};
  }
  model_out = ctx.served_model_name;
  return std::nullopt;
}

// Rejects a field that llmbench serve does not implement when it is set to a non-default value.
std::optional<ApiError> reject_if(bool condition, std::string_view what, const char* param) {
  if (!condition) return std::nullopt;
  return bad_request(fmt::format("{} is not supported by llmbench serve", what), param);
}

bool present(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

std::optional<ApiError> check_token_ids(const std::vector<int32_t>& ids, const ApiContext& ctx) {
  for (int32_t id : ids) {
    if (id < 0 || (ctx.vocab_size > 0 && id >= ctx.vocab_size)) {
      return bad_request(fmt::format("Token id {} is out of vocabulary", id), "prompt");
    }
  }
  return std::nullopt;
}

std::vector<int32_t> encode_prompt(const std::string& text, const ApiContext& ctx, bool add_special_tokens) {
  std::vector<int32_t> ids;
  if (add_special_tokens && ctx.prepend_bos_id) ids.push_back(*ctx.prepend_bos_id);
  if (ctx.tokenizer != nullptr) {
    auto encoded = ctx.tokenizer->encode(text);
    ids.insert(ids.end(), encoded.begin(), encoded.end());
  }
  return ids;
}

// Sampling fields shared by /v1/completions and /v1/chat/completions, validated as vLLM does.
std::optional<ApiError> read_sampling(const json& body, engine::SamplingParams& p) {
  std::optional<double> temperature, top_p;
  std::optional<int64_t> top_k, seed, min_tokens;
  if (auto e = read_number(body, "temperature", temperature)) return e;
  if (auto e = read_number(body, "top_p", top_p)) return e;
  if (auto e = read_int(body, "top_k", top_k)) return e;
  if (auto e = read_int(body, "seed", seed)) return e;
  if (auto e = read_int(body, "min_tokens", min_tokens)) return e;
  if (auto e = read_bool(body, "ignore_eos", p.ignore_eos)) return e;
  if (auto e = read_bool(body, "skip_special_tokens", p.skip_special_tokens)) return e;
  if (auto e = read_stop(body, "stop", p.stop)) return e;
  if (auto e = read_int_list(body, "stop_token_ids", p.stop_token_ids)) return e;
  if (temperature) {
    if (*temperature < 0)
      return bad_request(fmt::format("temperature must be non-negative, got {}.", *temperature), "temperature");
    p.temperature = static_cast<float>(*temperature);
  }
  if (top_p) {
    if (!(*top_p > 0 && *top_p <= 1))
      return bad_request(fmt::format("top_p must be in (0, 1], got {}.", *top_p), "top_p");
    p.top_p = static_cast<float>(*top_p);
  }
  if (top_k) {
    if (*top_k < -1 || *top_k > std::numeric_limits<int32_t>::max()) {
      return bad_request(fmt::format("top_k must be 0 (disable), or at least 1, got {}.", *top_k), "top_k");
    }
    p.top_k = *top_k <= 0 ? -1 : static_cast<int>(*top_k);
  }
  if (seed) p.seed = static_cast<uint64_t>(*seed);
  if (min_tokens) {
    if (*min_tokens < 0)
      return bad_request(fmt::format("min_tokens must be greater than or equal to 0, got {}.", *min_tokens),
                         "min_tokens");
    if (*min_tokens > std::numeric_limits<int32_t>::max())
      return bad_request("min_tokens is out of range", "min_tokens");
    p.min_tokens = static_cast<int>(*min_tokens);
  }
  // Parameters llmbench's sampler does not implement: refuse non-default values instead of ignoring them.
  std::optional<double> presence, frequency, repetition;
  if (auto e = read_number(body, "presence_penalty", presence)) return e;
  if (auto e = read_number(body, "frequency_penalty", frequency)) return e;
  if (auto e = read_number(body, "repetition_penalty", repetition)) return e;
  if (auto e = reject_if(presence && *presence != 0.0, "presence_penalty", "presence_penalty")) return e;
  if (auto e = reject_if(frequency && *frequency != 0.0, "frequency_penalty", "frequency_penalty")) return e;
  if (auto e = reject_if(repetition && *repetition != 1.0, "repetition_penalty", "repetition_penalty")) return e;
  if (auto e = reject_if(present(body, "logit_bias"), "logit_bias", "logit_bias")) return e;
  if (auto e = reject_if(present(body, "response_format"), "response_format", "response_format")) return e;
  for (const char* guided : {"guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs"}) {
    if (auto e = reject_if(present(body, guided), guided, guided)) return e;
  }
  std::optional<int64_t> n, best_of;
  if (auto e = read_int(body, "n", n)) return e;
  if (auto e = read_int(body, "best_of", best_of)) return e;
  if (n && *n < 1) return bad_request(fmt::format("n must be at least 1, got {}.", *n), "n");
  if (auto e = reject_if(n && *n > 1, "n > 1", "n")) return e;
  if (auto e = reject_if(best_of && *best_of > 1, "best_of > 1", "best_of")) return e;
  bool use_beam_search = false;
  if (auto e = read_bool(body, "use_beam_search", use_beam_search)) return e;
  if (auto e = reject_if(use_beam_search, "use_beam_search", "use_beam_search")) return e;
  return std::nullopt;
}

std::optional<ApiError> read_stream(const json& body, GenerationJob& job) {
  if (auto e = read_bool(body, "stream", job.stream)) return e;
  auto it = body.find("stream_options");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) return wrong_type("stream_options", "an object", *it);
  if (!job.stream) return bad_request("Stream options can only be defined when `stream=True`.", "stream_options");
  if (auto e = read_bool(*it, "include_usage", job.include_usage)) return e;
  if (auto e = read_bool(*it, "continuous_usage_stats", job.continuous_usage)) return e;
  return std::nullopt;
}

// The context check vLLM makes after tokenizing (same messages).
std::optional<ApiError> check_length(const GenerationJob& job, const ApiContext& ctx, bool max_tokens_given) {
  for (const auto& prompt : job.prompts) {
    int prompt_len = static_cast<int>(prompt.size());
    if (prompt_len == 0) return bad_request("The decoder prompt cannot be empty", "prompt");
    if (prompt_len >= ctx.max_model_len) {
      return bad_request(
          fmt::format("This model's maximum context length is {} tokens. However, your request has {} "
                      "input tokens. Please reduce the length of the input messages.",
                      ctx.max_model_len, prompt_len));
    }
    if (max_tokens_given && job.params.max_tokens > ctx.max_model_len - prompt_len) {
      return bad_request(fmt::format(
          "'max_tokens' or 'max_completion_tokens' is too large: {}. This model's maximum "
          "context length is {} tokens and your request has {} input tokens ({} > {} - {}).",
          job.params.max_tokens, ctx.max_model_len, prompt_len, job.params.max_tokens, ctx.max_model_len, prompt_len));
    }
  }
  return std::nullopt;
}

std::optional<ApiError> read_max_tokens(const json& body, const char* key, std::optional<int64_t>& out) {
  if (auto e = read_int(body, key, out)) return e;
  if (out && *out < 1) return bad_request(fmt::format("max_tokens must be at least 1, got {}.", *out), key);
  if (out && *out > std::numeric_limits<int32_t>::max())
    return bad_request(fmt::format("'{}' is out of range", key), key);
  return std::nullopt;
}

// Fills max_tokens (defaulting to what the context leaves) and checks the context length.
std::optional<ApiError> finish_lengths(GenerationJob& job, const ApiContext& ctx, std::optional<int64_t> max_tokens) {
  for (const auto& prompt : job.prompts) {  // text prompts too: the tokenizer may know more ids than the model
    if (auto e = check_token_ids(prompt, ctx)) return e;
  }
  if (max_tokens) {
    job.params.max_tokens = static_cast<int>(*max_tokens);
  } else {
    size_t longest = 0;
    for (const auto& p : job.prompts) longest = std::max(longest, p.size());
    job.params.max_tokens = std::max(1, ctx.max_model_len - static_cast<int>(longest));
  }
  if (auto e = check_length(job, ctx, max_tokens.has_value())) return e;
  if (job.params.min_tokens > job.params.max_tokens) {
    return bad_request(fmt::format("min_tokens must be less than or equal to max_tokens={}, got {}.",
                                   job.params.max_tokens, job.params.min_tokens),
                       "min_tokens");
  }
  return std::nullopt;
}

// "prompt": a string, a list of token ids, a list of strings, or a list of token-id lists.
std::optional<ApiError> read_prompts(const json& body, const ApiContext& ctx, bool add_special_tokens,
                                     std::vector<std::vector<int32_t>>& prompts) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return bad_request("Field required: 'prompt'", "prompt");
  const json& p = *it;
  auto token_list = [&](const json& arr) -> std::optional<ApiError> {
    std::vector<int32_t> ids;
    for (const auto& v : arr) {
      if (!v.is_number_integer()) return wrong_type("prompt", "a string, a list of strings or token ids", v);
      if (v.is_number_unsigned() ? v.get<uint64_t>() > 0x7fffffffULL
                                 : (v.get<int64_t>() < 0 || v.get<int64_t>() > 0x7fffffffLL)) {
        return bad_request(fmt::format("Token id {} is out of vocabulary", v.dump()), "prompt");
      }
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    if (auto e = check_token_ids(ids, ctx)) return e;
    prompts.push_back(std::move(ids));
    return std::nullopt;
  };
  if (p.is_string()) {
    prompts.push_back(encode_prompt(p.get<std::string>(), ctx, add_special_tokens));
  } else if (p.is_array()) {
    if (p.empty()) return bad_request("Prompt cannot be empty", "prompt");
    if (p.front().is_number_integer()) return token_list(p);
    for (const auto& item : p) {
      if (item.is_string()) {
        prompts.push_back(encode_prompt(item.get<std::string>(), ctx, add_special_tokens));
      } else if (item.is_array()) {
        if (item.empty()) return bad_request("Prompt cannot be empty", "prompt");
        if (auto e = token_list(item)) return e;
      } else {
        return wrong_type("prompt", "a string, a list of strings or token ids", item);
      }
    }
  } else {
    return wrong_type("prompt", "a string, a list of strings or token ids", p);
  }
  if (prompts.size() > 1024) return bad_request("At most 1024 prompts per request", "prompt");
  return std::nullopt;
}

// "messages" → (role, text) pairs.
std::optional<ApiError> read_messages(const json& body, std::vector<std::pair<std::string, std::string>>& out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return bad_request("Field required: 'messages'", "messages");
  if (!it->is_array()) return wrong_type("messages", "a list", *it);
  if (it->empty()) return bad_request("'messages' must contain at least one message", "messages");
  for (const auto& m : *it) {
    if (!m.is_object()) return wrong_type("messages", "a list of objects", m);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad_request("Each message needs a string 'role'", "messages");
    std::string text;
    auto content = m.find("content");
    if (content != m.end() && !content->is_null()) {
      if (content->is_string()) {
        text = content->get<std::string>();
      } else if (content->is_array()) {
        for (const auto& part : *content) {
          if (!part.is_object()) return wrong_type("messages.content", "a string or a list of parts", part);
          auto type = part.find("type");
          auto part_text = part.find("text");
          if (type == part.end() || !type->is_string() || *type != "text" || part_text == part.end() ||
              !part_text->is_string()) {
            return bad_request("Only text content parts ({\"type\":\"text\",\"text\":...}) are supported", "messages");
          }
          if (!text.empty()) text += "\n";
          text += part_text->get<std::string>();
        }
      } else {
        return wrong_type("messages.content", "a string or a list of parts", *content);
      }
    }
    out.emplace_back(role->get<std::string>(), std::move(text));
  }
  return std::nullopt;
}

}  // namespace

std::string apply_chat_template(const std::vector<std::pair<std::string, std::string>>& messages,
                                bool add_generation_prompt) {
  std::string prompt;
  for (const auto& [role, content] : messages) {
    prompt += role;
    prompt += ": ";
    prompt += content;
    prompt += '\n';
  }
  if (add_generation_prompt) prompt += "assistant:";
  return prompt;
}

ParseResult parse_completion_request(std::string_view body, const ApiContext& ctx) {
  ApiError error;
  auto parsed = parse_json_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  GenerationJob job;
  job.kind = ApiKind::kCompletion;
  if (auto e = check_model(j, ctx, job.model)) return *e;
  if (auto e = read_stream(j, job)) return *e;
  if (auto e = read_sampling(j, job.params)) return *e;
  bool echo = false, add_special_tokens = true;
  if (auto e = read_bool(j, "echo", echo)) return *e;
  if (auto e = reject_if(echo, "echo=true", "echo")) return *e;
  if (auto e = read_bool(j, "add_special_tokens", add_special_tokens)) return *e;
  if (auto e = read_bool(j, "return_token_ids", job.return_token_ids)) return *e;
  if (auto e = reject_if(present(j, "logprobs"), "logprobs", "logprobs")) return *e;
  if (auto e = reject_if(present(j, "prompt_logprobs"), "prompt_logprobs", "prompt_logprobs")) return *e;
  if (auto e = reject_if(present(j, "suffix"), "suffix", "suffix")) return *e;
  std::optional<int64_t> max_tokens;
  if (auto e = read_max_tokens(j, "max_tokens", max_tokens)) return *e;
  if (!max_tokens) max_tokens = 16;  // OpenAI's (and vLLM's) default for completions
  if (auto e = read_prompts(j, ctx, add_special_tokens, job.prompts)) return *e;
  if (auto e = finish_lengths(job, ctx, max_tokens)) return *e;
  return job;
}

ParseResult parse_chat_request(std::string_view body, const ApiContext& ctx) {
  ApiError error;
  auto parsed = parse_json_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  GenerationJob job;
  job.kind = ApiKind::kChat;
  if (auto e = check_model(j, ctx, job.model)) return *e;
  if (auto e = read_stream(j, job)) return *e;
  if (auto e = read_sampling(j, job.params)) return *e;
  bool logprobs = false, add_generation_prompt = true, add_special_tokens = false;
  if (auto e = read_bool(j, "logprobs", logprobs)) return *e;
  if (auto e = reject_if(logprobs, "logprobs", "logprobs")) return *e;
  if (auto e = reject_if(present(j, "top_logprobs"), "top_logprobs", "top_logprobs")) return *e;
  if (auto e = reject_if(present(j, "tools"), "tools", "tools")) return *e;
  if (auto e = read_bool(j, "add_generation_prompt", add_generation_prompt)) return *e;
  if (auto e = read_bool(j, "add_special_tokens", add_special_tokens)) return *e;
  std::optional<int64_t> max_tokens, max_completion_tokens;
  if (auto e = read_max_tokens(j, "max_tokens", max_tokens)) return *e;
  if (auto e = read_max_tokens(j, "max_completion_tokens", max_completion_tokens)) return *e;
  if (max_completion_tokens) max_tokens = max_completion_tokens;  // vLLM prefers max_completion_tokens
  std::vector<std::pair<std::string, std::string>> messages;
  if (auto e = read_messages(j, messages)) return *e;
  job.prompts.push_back(encode_prompt(apply_chat_template(messages, add_generation_prompt), ctx, add_special_tokens));
  if (auto e = finish_lengths(job, ctx, max_tokens)) return *e;
  return job;
}

ParseResult parse_tgi_request(std::string_view body, const ApiContext& ctx, bool stream) {
  ApiError error;
  auto parsed = parse_json_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  GenerationJob job;
  job.kind = ApiKind::kTgi;
  job.stream = stream;
  job.model = ctx.served_model_name;
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_string()) {
    return bad_request("missing field `inputs` (a string)", "inputs");
  }
  if (inputs->get_ref<const std::string&>().empty()) return bad_request("`inputs` cannot be empty", "inputs");
  engine::SamplingParams& p = job.params;
  p.temperature = 0.0f;  // TGI is greedy unless do_sample or a sampling parameter is given
  std::optional<int64_t> max_new_tokens;
  auto params_it = j.find("parameters");
  if (params_it != j.end() && !params_it->is_null()) {
    if (!params_it->is_object()) return wrong_type("parameters", "an object", *params_it);
    const json& params = *params_it;
    bool do_sample = false, decoder_input_details = false;
    std::optional<double> temperature, top_p, repetition_penalty, typical_p;
    std::optional<int64_t> top_k, seed, best_of;
    if (auto e = read_bool(params, "do_sample", do_sample)) return *e;
    if (auto e = read_bool(params, "details", job.tgi_details)) return *e;
    if (auto e = read_bool(params, "decoder_input_details", decoder_input_details)) return *e;
    if (auto e = read_number(params, "temperature", temperature)) return *e;
    if (auto e = read_number(params, "top_p", top_p)) return *e;
    if (auto e = read_number(params, "repetition_penalty", repetition_penalty)) return *e;
    if (auto e = read_number(params, "typical_p", typical_p)) return *e;
    if (auto e = read_int(params, "top_k", top_k)) return *e;
    if (auto e = read_int(params, "seed", seed)) return *e;
    if (auto e = read_int(params, "best_of", best_of)) return *e;
    if (auto e = read_stop(params, "stop", p.stop)) return *e;
    if (auto e = read_max_tokens(params, "max_new_tokens", max_new_tokens)) return *e;
    if (auto e = reject_if(decoder_input_details, "decoder_input_details", "decoder_input_details")) return *e;
    if (auto e = reject_if(best_of && *best_of > 1, "best_of > 1", "best_of")) return *e;
    if (auto e =
            reject_if(repetition_penalty && *repetition_penalty != 1.0, "repetition_penalty", "repetition_penalty"))
      return *e;
    if (auto e = reject_if(typical_p && *typical_p != 1.0, "typical_p", "typical_p")) return *e;
    if (temperature && *temperature <= 0) return bad_request("`temperature` must be strictly positive", "temperature");
    if (top_p && !(*top_p > 0 && *top_p < 1)) return bad_request("`top_p` must be > 0.0 and < 1.0", "top_p");
    if (top_k && *top_k <= 0) return bad_request("`top_k` must be strictly positive", "top_k");
    if (top_k && *top_k > std::numeric_limits<int32_t>::max()) return bad_request("`top_k` is out of range", "top_k");
    // As TGI: sampling happens when do_sample or any sampling knob is set.
    bool sample = do_sample || (temperature && *temperature != 1.0) || top_k || top_p || seed;
    if (sample) {
      p.temperature = temperature ? static_cast<float>(*temperature) : 1.0f;
      if (top_k) p.top_k = static_cast<int>(*top_k);
      if (top_p) p.top_p = static_cast<float>(*top_p);
    }
    if (seed) p.seed = static_cast<uint64_t>(*seed);
  }
  job.prompts.push_back(encode_prompt(inputs->get<std::string>(), ctx, true));
  if (!max_new_tokens) {
    // TGI's default of 100 new tokens, capped by what the context leaves.
    int left = ctx.max_model_len - static_cast<int>(job.prompts.front().size());
    max_new_tokens = std::max(1, std::min(100, left));
  }
  if (auto e = finish_lengths(job, ctx, max_new_tokens)) return *e;
  return job;
}

std::variant<std::string, ApiError> handle_tokenize(std::string_view body, const ApiContext& ctx) {
  ApiError error;
  auto parsed = parse_json_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  std::string model;
  if (auto e = check_model(j, ctx, model)) return *e;
  std::vector<int32_t> tokens;
  bool return_token_strs = false;
  if (auto e = read_bool(j, "return_token_strs", return_token_strs)) return *e;
  if (j.contains("messages")) {
    bool add_generation_prompt = true, add_special_tokens = false;
    if (auto e = read_bool(j, "add_generation_prompt", add_generation_prompt)) return *e;
    if (auto e = read_bool(j, "add_special_tokens", add_special_tokens)) return *e;
    std::vector<std::pair<std::string, std::string>> messages;
    if (auto e = read_messages(j, messages)) return *e;
    tokens = encode_prompt(apply_chat_template(messages, add_generation_prompt), ctx, add_special_tokens);
  } else {
    bool add_special_tokens = true;
    if (auto e = read_bool(j, "add_special_tokens", add_special_tokens)) return *e;
    std::optional<std::string> prompt;
    if (auto e = read_string(j, "prompt", prompt)) return *e;
    if (!prompt) return bad_request("Field required: 'prompt' (or 'messages')", "prompt");
    tokens = encode_prompt(*prompt, ctx, add_special_tokens);
  }
  std::vector<std::string> token_strs;
  if (return_token_strs && ctx.tokenizer != nullptr) {
    for (int32_t id : tokens) {
      std::string bytes;
      ctx.tokenizer->append_token_bytes(id, bytes);
      token_strs.push_back(std::move(bytes));
    }
  }
  return format_tokenize_response(tokens, ctx.max_model_len, return_token_strs ? &token_strs : nullptr);
}

std::variant<std::string, ApiError> handle_detokenize(std::string_view body, const ApiContext& ctx) {
  ApiError error;
  auto parsed = parse_json_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  std::string model;
  if (auto e = check_model(j, ctx, model)) return *e;
  if (!present(j, "tokens")) return bad_request("Field required: 'tokens'", "tokens");
  std::vector<int32_t> tokens;
  if (auto e = read_int_list(j, "tokens", tokens)) return *e;
  if (auto e = check_token_ids(tokens, ctx)) return ApiError{400, e->message, e->type, "tokens"};
  std::string text = ctx.tokenizer != nullptr ? ctx.tokenizer->decode(tokens, false) : std::string();
  return format_detokenize_response(text);
}

}  // namespace llmbench::server

#include "workload/synthetic_prompts.h"

#include <array>
#include <random>
#include <sstream>
#include <stdexcept>

#include "workload/request_body.h"

namespace llmbench::workload {
namespace {

constexpr std::array<const char*, 64> kWords{
    "the",     "model",    "server", "token",   "request", "latency",  "batch",  "memory", "cache",  "time",
    "first",   "second",   "system", "network", "answer",  "question", "small",  "large",  "fast",   "slow",
    "river",   "mountain", "city",   "garden",  "window",  "paper",    "stone",  "light",  "water",  "music",
    "history", "science",  "number", "letter",  "market",  "engine",   "signal", "winter", "summer", "forest",
    "ocean",   "planet",   "bridge", "school",  "friend",  "family",   "animal", "travel", "story",  "picture",
    "morning", "evening",  "simple", "careful", "quiet",   "bright",   "gentle", "strong", "early",  "later",
    "north",   "south",    "east",   "west"};

}  // namespace

std::vector<int32_t> random_token_ids(int32_t len, uint64_t seed, int32_t vocab_size, int32_t first_id) {
  if (len < 0) throw std::invalid_argument("input length must be >= 0");
  if (first_id < 0 || vocab_size <= first_id) throw std::invalid_argument("empty token id range");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(first_id, vocab_size - 1);
  std::vector<int32_t> ids(static_cast<size_t>(len));
  for (auto& id : ids) id = dist(rng);
  return ids;
}

std::string repeat_to_words(const std::string& text, int32_t words) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string w; in >> w;) parts.push_back(std::move(w));
  if (parts.empty()) throw std::invalid_argument("--prompt is empty");
  std::string out;
  for (int32_t i = 0; i < words; ++i) {
    if (i) out += ' ';
    out += parts[static_cast<size_t>(i) % parts.size()];
  }
  return out;
}

std::string random_words(int32_t words, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> dist(0, kWords.size() - 1);
  std::string out;
  for (int32_t i = 0; i < words; ++i) {
    if (i) out += ' ';
    out += kWords[dist(rng)];
  }
  return out;
}

std::vector<RequestSpec> build_synthetic_requests(const SyntheticOptions& options) {
  if (options.num_requests < 0) throw std::invalid_argument("number of requests must be >= 0");
  if (options.output_len <= 0) throw std::invalid_argument("output length (max tokens) must be > 0");
  if (options.input_len < 0) throw std::invalid_argument("input length must be >= 0");
  BodyOptions body_options{options.model,       options.output_len,      options.ignore_eos,  options.temperature,
                           options.sample_seed, options.extra_body_json, options.stream_usage};
  const std::string target = options.endpoint.empty() ? default_endpoint(options.backend) : options.endpoint;
  std::vector<RequestSpec> specs;
  specs.reserve(static_cast<size_t>(options.num_requests));
  std::string fixed;
  if (options.fixed_prompt) {
    fixed = options.input_len > 0 ? repeat_to_words(*options.fixed_prompt, options.input_len) : *options.fixed_prompt;
  }
  for (int32_t i = 0; i < options.num_requests; ++i) {
    // Each request draws from its own stream so a prompt does not depend on how many came before.
    const uint64_t request_seed = options.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(i) + 1;
    RequestSpec spec;
    spec.target = target;
    spec.max_tokens = options.output_len;
    if (options.fixed_prompt) {
      spec.body = build_request_body(options.backend, fixed, body_options);
    } else if (accepts_token_id_prompt(options.backend)) {
      auto ids = random_token_ids(options.input_len, request_seed, options.vocab_size, options.first_id);
      spec.prompt_tokens_sent = options.input_len;
      spec.body = build_request_body(options.backend, std::move(ids), body_options);
    } else {
      // Chat and TGI take text only: random words (the server's usage reports the token count).
      spec.body = build_request_body(options.backend, random_words(options.input_len, request_seed), body_options);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace llmbench::workload

#pragma once
// Synthetic workloads: random token-id prompts of an exact length (as `vllm bench serve
// --dataset-name random`) or a fixed text prompt repeated/trimmed to a length; each turned into a
// ready-to-send RequestSpec for the chosen API backend.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workload/api_backend.h"
#include "workload/request_spec.h"

namespace llmbench::workload {

struct SyntheticOptions {
  ApiBackend backend = ApiBackend::kOpenAiCompletions;
  std::string endpoint;  // empty = default_endpoint(backend)
  std::string model;
  int32_t num_requests = 1;
  int32_t input_len = 128;   // prompt tokens (random) or words (fixed text); 0 = fixed text as given
  int32_t output_len = 128;  // max_tokens
  uint64_t seed = 0;
  std::optional<std::string> fixed_prompt;  // --prompt: use this text instead of random ids
  int32_t vocab_size = 50257;               // random ids are drawn from [first_id, vocab_size)
  int32_t first_id = 1000;                  // skip low ids (bytes, specials) as vLLM's random dataset does
  bool ignore_eos = false;
  std::optional<double> temperature;    // omitted from the body when not set
  std::optional<uint64_t> sample_seed;  // "seed" in the body when set
  std::string extra_body_json;          // --extra-body: a JSON object merged into every body
  bool stream_usage = true;             // ask OpenAI servers for per-chunk usage (exact token counts)
};

// Random token ids: exactly `len` ids in [first_id, vocab_size), reproducible for a seed.
std::vector<int32_t> random_token_ids(int32_t len, uint64_t seed, int32_t vocab_size, int32_t first_id);
// `text` repeated (space-separated) and trimmed to exactly `words` whitespace-separated words.
std::string repeat_to_words(const std::string& text, int32_t words);
// Deterministic filler text of exactly `words` words from a small English word list.
std::string random_words(int32_t words, uint64_t seed);

// Builds every request. Throws std::invalid_argument with a clear message on bad options
// (e.g. an --extra-body that is not a JSON object).
std::vector<RequestSpec> build_synthetic_requests(const SyntheticOptions& options);

}  // namespace llmbench::workload

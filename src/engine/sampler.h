#pragma once
// Token sampling for one sequence at a time: greedy (temperature 0), temperature, top-k, then
// top-p (nucleus) over the renormalised top-k distribution, as vLLM applies them. Randomness comes
// only from the sequence's own generator, so a seeded request draws the same tokens however it is
// batched. Scratch buffers are reused: no allocation per token once warmed up. Without top-k the
// weights of the whole vocabulary come from one vectorized pass (cpu::Kernels::exp_weights): at 32
// sequences and temperature 1 (the OpenAI default) a scalar exp per token cost more than the model;
// and the top-p nucleus comes from a histogram of those weights (about 0.1 ms a token over 50k
// near-equal tokens, where a quickselect took 0.75 ms).
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/engine.h"

namespace llmbench::engine {

using SamplerRng = std::mt19937_64;

// A uniform double in [0, 1) from 53 random bits (the same on every standard library).
double uniform_01(SamplerRng& rng);

class Sampler {
 public:
  // Picks a token from one row of logits ([V]); the row is used as scratch and left modified.
  // Tokens in `banned` are never picked (min_tokens suppression of EOS and stop tokens).
  // NaN logits count as -inf. If every token is excluded, returns the argmax of the raw row.
  int32_t sample(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> banned,
                 SamplerRng& rng);

 private:
  // Top-p without top-k, by histogram (see sampler.cpp), over the weights in probs_ whose sum is
  // `total`: fills candidates_ with the nucleus and sets `total` to its weight. False, with
  // candidates_ empty and `total` as it was, where the histogram cannot resolve the nucleus' end
  // (the far tail, or one very crowded bucket).
  bool nucleus_by_buckets(std::span<const float> logits, float max_logit, double inv_t, double top_p, double& total);

  std::vector<int32_t> candidates_;
  std::vector<int32_t> boundary_;
  std::vector<float> probs_;  // by token id: unnormalised weights, valid for the current candidates
  std::vector<uint16_t> bucket_of_;
  std::vector<double> bucket_mass_;
};

}  // namespace llmbench::engine

#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmbench::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  float best_value = kNegInf;
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    if (!found || v > best_value) {  // the first maximum wins, as torch.argmax does
      best = static_cast<int32_t>(i);
      best_value = v;
      found = true;
    }
  }
  return best;
}

}  // namespace

double uniform_01(SamplerRng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> banned,
                        SamplerRng& rng) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (vocab == 0) return 0;
  const int32_t raw_best = argmax(logits);
  for (int32_t id : banned) {
    if (id >= 0 && id < vocab) logits[static_cast<size_t>(id)] = kNegInf;
  }
  for (float& v : logits) {
    if (std::isnan(v)) v = kNegInf;
  }
  const int32_t best = argmax(logits);
  if (logits[static_cast<size_t>(best)] == kNegInf) return raw_best;  // nothing allowed: degrade gracefully
  if (params.temperature <= 0.0f) return best;

  // Candidates in descending logit order when top-k or top-p needs an order; ties by lower id.
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)];
    const float lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  candidates_.clear();
  for (int32_t i = 0; i < vocab; ++i) {
    if (logits[static_cast<size_t>(i)] != kNegInf) candidates_.push_back(i);
  }
  const bool use_top_k = params.top_k > 0 && static_cast<size_t>(params.top_k) < candidates_.size();
  const bool use_top_p = params.top_p > 0.0f && params.top_p < 1.0f;
  if (use_top_k) {
    const auto kth = candidates_.begin() + params.top_k;
    std::nth_element(candidates_.begin(), kth - 1, candidates_.end(), by_logit);
    candidates_.resize(static_cast<size_t>(params.top_k));
  }

  // Unnormalised softmax at the given temperature (max subtracted), indexed by token id.
  const double inv_t = 1.0 / static_cast<double>(params.temperature);
  const double max_logit = logits[static_cast<size_t>(best)];
  probs_.resize(static_cast<size_t>(vocab));
  double total = 0.0;
  for (int32_t id : candidates_) {
    const double p = std::exp((logits[static_cast<size_t>(id)] - max_logit) * inv_t);
    probs_[static_cast<size_t>(id)] = p;
    total += p;
  }
  size_t keep = candidates_.size();
  if (use_top_p) {
    // The smallest prefix of the sorted distribution whose mass reaches top_p (at least one token).
    // The nucleus is usually small: sort only a growing head of the candidates until it is found.
    const double target = static_cast<double>(params.top_p) * total;
    size_t sorted = 0;
    double cumulative = 0.0;
    for (size_t head = std::min<size_t>(64, candidates_.size());; head = std::min(head * 4, candidates_.size())) {
      std::partial_sort(candidates_.begin() + static_cast<std::ptrdiff_t>(sorted),
                        candidates_.begin() + static_cast<std::ptrdiff_t>(head), candidates_.end(), by_logit);
      for (; sorted < head; ++sorted) {
        cumulative += probs_[static_cast<size_t>(candidates_[sorted])];
        if (cumulative >= target) break;
      }
      if (sorted < head) {
        keep = sorted + 1;
        total = cumulative;
        break;
      }
      if (head == candidates_.size()) {  // rounding: the whole distribution
        total = cumulative;
        break;
      }
    }
  }
  const double u = uniform_01(rng) * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += probs_[static_cast<size_t>(candidates_[i])];
    if (u < cumulative) return candidates_[i];
  }
  return candidates_[keep - 1];  // rounding at the very top of the range
}

}  // namespace llmbench::engine

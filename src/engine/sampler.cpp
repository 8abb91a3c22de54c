#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/cpu_kernels.h"

namespace llmbench::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int32_t argmax(std::span<const float> logits) {  // the first maximum wins, as torch.argmax does
  return cpu::best_kernels().argmax(logits.data(), static_cast<int>(logits.size()));
}

// Nucleus histogram: bucket b holds the tokens with (max_logit - logit) / temperature in
// [b, b + 1) / kBucketsPerUnit; the last bucket holds everything further down (weights below
// e^-32 of the top token's).
constexpr int kBuckets = 2048;
constexpr double kBucketsPerUnit = 64.0;
constexpr size_t kMaxBoundaryTokens = 4096;  // more in the nucleus' last bucket: use the quickselect

// Token order for top-k and top-p: higher logit first, ties by lower id.
struct MoreLikely {
  std::span<const float> logits;
  bool operator()(int32_t a, int32_t b) const {
    const float la = logits[static_cast<size_t>(a)];
    const float lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  }
};

}  // namespace

double uniform_01(SamplerRng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> banned,
                        SamplerRng& rng) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (vocab == 0) return 0;
  if (params.temperature <= 0.0f && banned.empty()) return argmax(logits);  // the common greedy case: one pass
  const int32_t raw_best = banned.empty() ? -1 : argmax(logits);
  for (int32_t id : banned) {
    if (id >= 0 && id < vocab) logits[static_cast<size_t>(id)] = kNegInf;
  }
  const int32_t best = argmax(logits);
  const float max_logit = logits[static_cast<size_t>(best)];
  if (std::isnan(max_logit) || max_logit == kNegInf) {
    return raw_best >= 0 ? raw_best : best;  // nothing allowed: degrade gracefully
  }
  if (params.temperature <= 0.0f) return best;

  const double inv_t = 1.0 / static_cast<double>(params.temperature);
  const bool nucleus = params.top_p > 0.0f && params.top_p < 1.0f;
  probs_.resize(static_cast<size_t>(vocab));
  if (params.top_k <= 0 && !nucleus) {
    // Plain temperature sampling over every allowed token: weights in one vectorized pass, then the
    // draw found by chunk sums before a scan of one chunk.
    const cpu::Kernels& k = cpu::best_kernels();
    const float total = k.exp_weights(logits.data(), vocab, max_logit, static_cast<float>(inv_t), probs_.data());
    const double u = uniform_01(rng) * static_cast<double>(total);
    constexpr int32_t kChunk = 256;
    double cumulative = 0.0;
    int32_t last_live = best;
    for (int32_t c = 0; c < vocab; c += kChunk) {
      const int32_t n = std::min(kChunk, vocab - c);
      const double chunk = k.stream_sum(probs_.data() + c, static_cast<size_t>(n));
      if (cumulative + chunk <= u) {
        cumulative += chunk;
        continue;
      }
      for (int32_t i = c; i < c + n; ++i) {
        const float p = probs_[static_cast<size_t>(i)];
        if (p <= 0.0f) continue;
        last_live = i;
        cumulative += p;
        if (u < cumulative) return i;
      }
    }
    return last_live;  // rounding at the very top of the range
  }

  // Candidates: every token still allowed, or with top-k only the k best (by logit, ties by lower id),
  // found in one pass with a small heap whose top is the worst kept token.
  const MoreLikely by_logit{logits};
  candidates_.clear();
  double total = 0.0;
  bool nucleus_found = false;  // by the histogram: candidates_ is the nucleus and total its weight
  if (params.top_k > 0) {
    const size_t k = static_cast<size_t>(params.top_k);
    for (int32_t i = 0; i < vocab; ++i) {
      if (!(logits[static_cast<size_t>(i)] > kNegInf)) continue;  // -inf and NaN
      if (candidates_.size() < k) {
        candidates_.push_back(i);
        std::push_heap(candidates_.begin(), candidates_.end(), by_logit);
      } else if (by_logit(i, candidates_.front())) {
        std::pop_heap(candidates_.begin(), candidates_.end(), by_logit);
        candidates_.back() = i;
        std::push_heap(candidates_.begin(), candidates_.end(), by_logit);
      }
    }
    // Unnormalised softmax at the given temperature (max subtracted), indexed by token id.
    for (int32_t id : candidates_) {
      const float p =
          static_cast<float>(std::exp((static_cast<double>(logits[static_cast<size_t>(id)]) - max_logit) * inv_t));
      probs_[static_cast<size_t>(id)] = p;
      total += p;
    }
  } else {
    total = cpu::best_kernels().exp_weights(logits.data(), vocab, max_logit, static_cast<float>(inv_t), probs_.data());
    nucleus_found = nucleus && nucleus_by_buckets(logits, max_logit, inv_t, params.top_p, total);
    if (!nucleus_found) {
      for (int32_t i = 0; i < vocab; ++i) {
        if (logits[static_cast<size_t>(i)] > kNegInf) candidates_.push_back(i);  // false for -inf and NaN
      }
    }
  }
  const auto at = [&](size_t i) { return candidates_.begin() + static_cast<std::ptrdiff_t>(i); };

  size_t keep = candidates_.size();
  if (nucleus && !nucleus_found && candidates_.size() > 1) {
    // The nucleus: the smallest k such that the k most likely tokens hold top_p of the mass. A
    // quickselect on mass finds it in expected O(V) without sorting. Invariant: candidates [0, lo)
    // are the top lo tokens (mass `above`), [lo, hi) the next ones in any order, and lo < k <= hi.
    const double target = static_cast<double>(params.top_p) * total;
    // Tokens below eps = (1 - top_p) * total / n hold at most (1 - top_p) of the mass together, so the
    // tokens at or above eps reach the target first: the nucleus lies among them. Usually a few.
    const double eps = (1.0 - static_cast<double>(params.top_p)) * total / static_cast<double>(candidates_.size());
    std::erase_if(candidates_, [&](int32_t id) { return probs_[static_cast<size_t>(id)] < eps * (1.0 - 1e-9); });
    size_t lo = 0;
    size_t hi = candidates_.size();
    double above = 0.0;
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      std::nth_element(at(lo), at(mid), at(hi), by_logit);
      double mass = above;
      for (size_t i = lo; i < mid; ++i) mass += probs_[static_cast<size_t>(candidates_[i])];
      if (mass >= target) {
        hi = mid;
      } else {
        above = mass;
        lo = mid;
      }
    }
    keep = hi;
    total = above + probs_[static_cast<size_t>(candidates_[lo])];
  }
  const double u = uniform_01(rng) * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += probs_[static_cast<size_t>(candidates_[i])];
    if (u < cumulative) return candidates_[i];
  }
  return candidates_[keep - 1];  // rounding at the very top of the range
}

// The nucleus in two passes over the vocabulary instead of a quickselect over it (which cost ~0.75
// ms a token on a flat 50k-token distribution): a histogram of the weights by logit, whose buckets
// are ordered as the tokens are, says which bucket the nucleus ends in; tokens above it are kept
// whole and only that bucket's tokens are sorted (by logit, then id) to find where it ends. The
// kept set is the same as the quickselect's: the fewest most likely tokens whose weight reaches
// top_p of the total.
bool Sampler::nucleus_by_buckets(std::span<const float> logits, float max_logit, double inv_t, double top_p,
                                 double& total) {
  const size_t vocab = logits.size();
  bucket_of_.resize(vocab);
  bucket_mass_.assign(kBuckets, 0.0);
  const double scale = inv_t * kBucketsPerUnit;
  for (size_t i = 0; i < vocab; ++i) {
    const float p = probs_[i];
    if (!(p > 0.0f)) {  // -inf, NaN or a weight that underflowed: never needed to reach top_p
      bucket_of_[i] = kBuckets;
      continue;
    }
    const double x = (static_cast<double>(max_logit) - logits[i]) * scale;
    const int b = x < kBuckets - 1 ? static_cast<int>(x) : kBuckets - 1;
    bucket_of_[i] = static_cast<uint16_t>(b);
    bucket_mass_[static_cast<size_t>(b)] += p;
  }
  const double target = top_p * total;
  double above = 0.0;
  int boundary = 0;
  while (boundary < kBuckets && above + bucket_mass_[static_cast<size_t>(boundary)] < target) {
    above += bucket_mass_[static_cast<size_t>(boundary++)];
  }
  if (boundary >= kBuckets - 1) return false;  // the far tail: leave it to the quickselect
  candidates_.clear();
  boundary_.clear();
  for (size_t i = 0; i < vocab; ++i) {
    const int b = bucket_of_[i];
    if (b < boundary) {
      candidates_.push_back(static_cast<int32_t>(i));
    } else if (b == boundary) {
      boundary_.push_back(static_cast<int32_t>(i));
      if (boundary_.size() > kMaxBoundaryTokens) {  // too crowded to sort: the quickselect starts afresh
        candidates_.clear();
        return false;
      }
    }
  }
  std::sort(boundary_.begin(), boundary_.end(), MoreLikely{logits});
  double kept = above;
  for (int32_t id : boundary_) {
    candidates_.push_back(id);
    kept += probs_[static_cast<size_t>(id)];
    if (kept >= target) break;
  }
  total = kept;
  return true;
}

}  // namespace llmbench::engine

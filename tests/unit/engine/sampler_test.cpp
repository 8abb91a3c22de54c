#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

namespace llmbench::engine {
namespace {

std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<int32_t, int> draw(const std::vector<float>& logits, const SamplingParams& params, int n, uint64_t seed,
                            std::vector<int32_t> banned = {}) {
  Sampler sampler;
  SamplerRng rng(seed);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> row = logits;
    ++counts[sampler.sample(row, params, banned, rng)];
  }
  return counts;
}

TEST(Sampler, GreedyIsArgmaxWithFirstIndexOnTies) {
  Sampler sampler;
  SamplerRng rng(1);
  SamplingParams p;
  p.temperature = 0.0f;
  std::vector<float> row = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(sampler.sample(row, p, {}, rng), 1);
  row = {0.1f, 3.0f, -1.0f, 3.0f};
  std::vector<int32_t> banned = {1};
  EXPECT_EQ(sampler.sample(row, p, banned, rng), 3);
  row = {std::nanf(""), 0.5f, 0.2f};
  EXPECT_EQ(sampler.sample(row, p, {}, rng), 1);
}

TEST(Sampler, TemperatureOneFollowsTheSoftmax) {
  const std::vector<double> probs = {0.5, 0.25, 0.125, 0.125};
  SamplingParams p;
  p.temperature = 1.0f;
  const int n = 40000;
  auto counts = draw(logits_for(probs), p, n, 42);
  for (size_t i = 0; i < probs.size(); ++i) {
    const double freq = static_cast<double>(counts[static_cast<int32_t>(i)]) / n;
    EXPECT_NEAR(freq, probs[i], 0.02) << "token " << i;
  }
}

TEST(Sampler, TemperatureScalesTheLogits) {
  // p_i^(1/T) renormalised: at T = 0.05, 0.4 : 0.35 : 0.25 becomes 0.935 : 0.065 : 0.00008.
  SamplingParams p;
  p.temperature = 0.05f;
  const int n = 20000;
  auto counts = draw(logits_for({0.4, 0.35, 0.25}), p, n, 7);
  EXPECT_NEAR(static_cast<double>(counts[0]) / n, 0.935, 0.01);
  EXPECT_NEAR(static_cast<double>(counts[1]) / n, 0.065, 0.01);
  p.temperature = 2.0f;  // sqrt: 0.632 : 0.592 : 0.5 over 1.724
  counts = draw(logits_for({0.4, 0.35, 0.25}), p, n, 8);
  EXPECT_NEAR(static_cast<double>(counts[0]) / n, 0.3669, 0.015);
  EXPECT_NEAR(static_cast<double>(counts[2]) / n, 0.2900, 0.015);
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
  std::vector<float> logits;
  for (int i = 0; i < 100; ++i) logits.push_back(static_cast<float>((i * 37) % 100) / 10.0f);
  std::set<int32_t> top3;
  {
    std::vector<std::pair<float, int32_t>> sorted;
    for (int i = 0; i < 100; ++i) sorted.push_back({-logits[static_cast<size_t>(i)], i});
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 3; ++i) top3.insert(sorted[static_cast<size_t>(i)].second);
  }
  SamplingParams p;
  p.temperature = 5.0f;  // flat: without top-k many tokens would appear
  p.top_k = 3;
  auto counts = draw(logits, p, 5000, 3);
  EXPECT_EQ(counts.size(), 3u);
  for (const auto& [id, c] : counts) EXPECT_TRUE(top3.count(id)) << id;
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Sorted probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps {0, 1}, renormalised to 5:3.
  const std::vector<double> probs = {0.15, 0.5, 0.05, 0.3};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.75f;
  const int n = 20000;
  auto counts = draw(logits_for(probs), p, n, 11);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count(0) + counts.count(2), 0u);
  EXPECT_NEAR(static_cast<double>(counts[1]) / n, 0.625, 0.02);
  EXPECT_NEAR(static_cast<double>(counts[3]) / n, 0.375, 0.02);

  p.top_p = 0.1f;  // less than the top token's mass: still one token
  counts = draw(logits_for(probs), p, 500, 12);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.begin()->first, 1);
}

TEST(Sampler, TopPWithALargeNucleus) {
  // 1000 equally likely tokens: top_p 0.5 keeps 500 (ties ordered by id), beyond the first sorted head.
  std::vector<float> logits(1000, 1.0f);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  auto counts = draw(logits, p, 20000, 13);
  EXPECT_GT(counts.size(), 450u);
  EXPECT_LE(counts.rbegin()->first, 501);  // 500, give or take rounding of the cumulative sum
  EXPECT_GT(counts.rbegin()->first, 400);
}

// The nucleus by a full sort, as the definition reads.
std::set<int32_t> naive_nucleus(const std::vector<float>& logits, float top_p, std::vector<double>* probs_out) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  const float max_logit = logits[static_cast<size_t>(order[0])];
  std::vector<double> probs(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += probs[i] = std::exp(static_cast<double>(logits[i]) - max_logit);
  std::set<int32_t> nucleus;
  double cumulative = 0.0;
  for (int32_t id : order) {
    nucleus.insert(id);
    cumulative += probs[static_cast<size_t>(id)];
    if (cumulative >= top_p * total) break;
  }
  for (auto& p : probs) p /= total;
  *probs_out = probs;
  return nucleus;
}

TEST(Sampler, TopPMatchesTheDefinitionOnRandomDistributions) {
  std::mt19937_64 gen(99);
  std::normal_distribution<float> noise(0.0f, 3.0f);
  std::uniform_real_distribution<float> p_dist(0.3f, 0.95f);
  int fully_checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<float> logits(300);
    for (float& v : logits) v = noise(gen);
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = p_dist(gen);
    std::vector<double> probs;
    const auto nucleus = naive_nucleus(logits, p.top_p, &probs);
    auto counts = draw(logits, p, 2000, static_cast<uint64_t>(trial));
    for (const auto& [id, c] : counts) ASSERT_TRUE(nucleus.count(id)) << "trial " << trial << " token " << id;
    double nucleus_mass = 0.0;
    double min_prob = 1.0;
    for (int32_t id : nucleus) {
      nucleus_mass += probs[static_cast<size_t>(id)];
      min_prob = std::min(min_prob, probs[static_cast<size_t>(id)]);
    }
    if (min_prob / nucleus_mass >= 0.01) {  // every nucleus token is drawn (miss chance < 1e-8)
      EXPECT_EQ(counts.size(), nucleus.size()) << "trial " << trial;
      ++fully_checked;
    }
  }
  EXPECT_GT(fully_checked, 10);
}

// A vocabulary the size of OPT's with a flat Gaussian body (the nucleus ends among thousands of
// near-equal tokens: the histogram path), at several temperatures; every draw is in the nucleus
// of the definition, and the nucleus' tokens are all reachable.
TEST(Sampler, TopPOverALargeFlatVocabularyMatchesTheDefinition) {
  std::mt19937_64 gen(7);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  std::vector<float> logits(50272);
  for (float& v : logits) v = noise(gen);
  for (int i = 0; i < 20; ++i) logits[static_cast<size_t>(i * 2000)] += 8.0f;
  for (float temperature : {0.7f, 1.0f, 1.5f}) {
    for (float top_p : {0.2f, 0.6f, 0.95f}) {
      SamplingParams p;
      p.temperature = temperature;
      p.top_p = top_p;
      std::vector<float> scaled(logits);
      for (float& v : scaled) v /= temperature;
      std::vector<double> probs;
      const auto nucleus = naive_nucleus(scaled, top_p, &probs);
      const auto counts = draw(logits, p, 400, 21);
      for (const auto& [id, c] : counts) {
        ASSERT_TRUE(nucleus.count(id)) << "t " << temperature << " top_p " << top_p << " token " << id;
      }
      if (nucleus.size() <= 20) {  // the raised tokens alone: each is drawn
        EXPECT_EQ(counts.size(), nucleus.size());
      }
    }
  }
}

// Many exactly equal logits: the nucleus' last histogram bucket is too crowded to sort, and the
// quickselect path decides (ties by lower id).
TEST(Sampler, TopPOverManyEqualLogitsKeepsTheLowestIds) {
  std::vector<float> logits(20000, 0.5f);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.25f;
  const auto counts = draw(logits, p, 3000, 5);
  EXPECT_GT(counts.size(), 2000u);
  EXPECT_LE(counts.rbegin()->first, 5001);
}

// Ten likely tokens (ids 0-9) above 8000 equal ones, the nucleus ending among the equal ones:
// their bucket is too crowded to sort, so the histogram path has already kept the ten when it
// hands over to the quickselect, which must count them once. The nucleus is the ten and the equal
// tokens up to id 3267 (10 e^5 + 3258 = top_p of 10 e^5 + 8000); the ten hold 31.3% of its mass.
TEST(Sampler, TopPFallingBackAfterKeepingTheTopTokensCountsThemOnce) {
  std::vector<float> logits(8010, 0.0f);
  for (int i = 0; i < 10; ++i) logits[static_cast<size_t>(i)] = 5.0f;
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  const int n = 3000;
  const auto counts = draw(logits, p, n, 9);
  int top = 0, highest_equal = 0;
  for (const auto& [id, c] : counts) {
    if (id < 10) {
      top += c;
    } else {
      highest_equal = std::max(highest_equal, id);
    }
  }
  const double top_mass = 10 * std::exp(5.0);
  EXPECT_NEAR(static_cast<double>(top) / n, top_mass / (0.5 * (top_mass + 8000)), 0.03);
  EXPECT_LE(highest_equal, 3268);
  EXPECT_GT(highest_equal, 3100);
}

TEST(Sampler, TopKThenTopP) {
  const std::vector<double> probs = {0.4, 0.3, 0.2, 0.1};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;     // renormalised: 0.444, 0.333, 0.222
  p.top_p = 0.7f;  // 0.444 < 0.7 <= 0.777: keeps {0, 1}
  auto counts = draw(logits_for(probs), p, 5000, 5);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_TRUE(counts.count(0) && counts.count(1));
}

TEST(Sampler, BannedTokensAreNeverSampled) {
  SamplingParams p;
  p.temperature = 1.0f;
  auto counts = draw(logits_for({0.9, 0.05, 0.05}), p, 2000, 9, {0});
  EXPECT_EQ(counts.count(0), 0u);
  EXPECT_EQ(counts.size(), 2u);
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  std::vector<float> logits(50, 0.0f);
  SamplingParams p;
  p.temperature = 1.0f;
  auto run = [&](uint64_t seed) {
    Sampler sampler;
    SamplerRng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> row = logits;
      out.push_back(sampler.sample(row, p, {}, rng));
    }
    return out;
  };
  EXPECT_EQ(run(1234), run(1234));
  EXPECT_NE(run(1234), run(1235));
}

TEST(Sampler, EverythingBannedFallsBackToTheArgmax) {
  Sampler sampler;
  SamplerRng rng(1);
  SamplingParams p;
  std::vector<float> row = {1.0f, 2.0f};
  std::vector<int32_t> banned = {0, 1};
  EXPECT_EQ(sampler.sample(row, p, banned, rng), 1);
}

}  // namespace
}  // namespace llmbench::engine

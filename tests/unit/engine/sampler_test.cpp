#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
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

#include "metrics/statistics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace llmbench::metrics {
namespace {

// numpy's documented "linear" method, written independently of the implementation under test:
// with sorted x of length n, virtual index v = (n - 1) * q; result = x[floor(v)] * (1 - g) + x[ceil(v)] * g.
double reference_percentile(std::vector<double> x, double p) {
  std::sort(x.begin(), x.end());
  const double v = (static_cast<double>(x.size()) - 1.0) * p / 100.0;
  const double j = std::floor(v);
  const double g = v - j;
  const size_t lo = static_cast<size_t>(j);
  const size_t hi = static_cast<size_t>(std::ceil(v));
  return x[lo] * (1.0 - g) + x[hi] * g;
}

TEST(Percentile, MatchesNumpyLinearOnKnownValues) {
  // np.percentile([1, 2, 3, 4], [0, 25, 50, 90, 99, 100]) = [1, 1.75, 2.5, 3.7, 3.97, 4]
  const std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 25), 1.75);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 50), 2.5);
  EXPECT_NEAR(percentile_sorted(v, 90), 3.7, 1e-12);
  EXPECT_NEAR(percentile_sorted(v, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 100), 4.0);
  // A single value is every percentile; an empty sample gives 0 like vLLM's `x or 0`.
  const std::vector<double> one{7.5};
  EXPECT_DOUBLE_EQ(percentile_sorted(one, 99.9), 7.5);
  EXPECT_DOUBLE_EQ(percentile_sorted({}, 50), 0.0);
}

TEST(Percentile, MatchesReferenceOnRandomSamples) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(3.0, 1.0);
  for (int n : {2, 3, 10, 101, 1000}) {
    std::vector<double> x(static_cast<size_t>(n));
    for (auto& v : x) v = dist(rng);
    std::vector<double> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    for (double p : {0.1, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
      EXPECT_NEAR(percentile_sorted(sorted, p), reference_percentile(x, p), 1e-9 * sorted.back()) << n << " " << p;
    }
  }
}

TEST(Percentile, RejectsOutOfRange) {
  const std::vector<double> v{1, 2};
  EXPECT_THROW(percentile_sorted(v, -1), std::invalid_argument);
  EXPECT_THROW(percentile_sorted(v, 100.5), std::invalid_argument);
  EXPECT_THROW(percentile_sorted(v, std::nan("")), std::invalid_argument);
}

TEST(WeightedPercentile, EqualsPercentileOfExpandedSample) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(0.0, 100.0);
  std::uniform_int_distribution<int> weight(1, 5);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<WeightedValue> w(static_cast<size_t>(1 + trial * 3));
    std::vector<double> expanded;
    for (auto& wv : w) {
      wv = {value(rng), weight(rng)};
      for (int64_t k = 0; k < wv.weight; ++k) expanded.push_back(wv.value);
    }
    std::sort(w.begin(), w.end(), [](auto& a, auto& b) { return a.value < b.value; });
    for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
      EXPECT_NEAR(weighted_percentile_sorted(w, p), reference_percentile(expanded, p), 1e-9);
    }
  }
}

TEST(Describe, PopulationStdevAndPercentilesLikeNumpy) {
  std::vector<double> v{4, 1, 3, 2};
  const std::vector<double> ps{99, 90, 99};  // duplicates dropped, sorted
  const Distribution d = describe(v, ps);
  EXPECT_EQ(d.count, 4);
  EXPECT_DOUBLE_EQ(d.mean, 2.5);
  EXPECT_DOUBLE_EQ(d.stdev, std::sqrt(1.25));  // np.std([1,2,3,4]) = 1.118...
  EXPECT_DOUBLE_EQ(d.min, 1);
  EXPECT_DOUBLE_EQ(d.max, 4);
  EXPECT_DOUBLE_EQ(d.median, 2.5);
  ASSERT_EQ(d.percentiles.size(), 2u);
  EXPECT_EQ(d.percentiles[0].p, 90);
  EXPECT_NEAR(d.at(90), 3.7, 1e-12);
  EXPECT_NEAR(d.at(99), 3.97, 1e-12);
  EXPECT_TRUE(std::isnan(d.at(50)));
}

TEST(Describe, EmptySampleIsZerosLikeVllm) {
  std::vector<double> v;
  const std::vector<double> ps{99};
  const Distribution d = describe(v, ps);
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.mean, 0);
  EXPECT_EQ(d.at(99), 0);
}

TEST(DescribeWeighted, MeanIsTotalOverWeight) {
  // Gaps of 10 ms carrying 1 token and 30 ms carrying 3 tokens: per-token values 10 and 10,10,10.
  std::vector<WeightedValue> v{{10.0, 1}, {10.0, 3}, {40.0, 1}, {5.0, 0}};
  const std::vector<double> ps{50};
  const Distribution d = describe_weighted(v, ps);
  EXPECT_EQ(d.count, 5);
  EXPECT_DOUBLE_EQ(d.mean, 80.0 / 5.0);
  EXPECT_DOUBLE_EQ(d.median, 10.0);
  EXPECT_DOUBLE_EQ(d.max, 40.0);
  EXPECT_DOUBLE_EQ(d.stdev, std::sqrt((4 * 36.0 + 576.0) / 5.0));
}

TEST(StudentT, QuantilesMatchTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047362, 1e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.30265272975, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764451052, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.26215716279, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 29), 2.04522964213, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.995, 9), 3.24983554402, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 1e7), 1.95996398454, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.025, 9), -2.26215716279, 1e-8);
  EXPECT_NEAR(student_t_cdf(0.0, 3), 0.5, 1e-15);
  EXPECT_NEAR(student_t_cdf(2.26215716279, 9), 0.975, 1e-10);
}

TEST(SampleStats, ConfidenceIntervalFromStudentT) {
  const std::vector<double> v{10, 12, 11, 13, 9};
  const SampleStats s = sample_stats(v);
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.mean, 11.0);
  EXPECT_DOUBLE_EQ(s.median, 11.0);
  EXPECT_NEAR(s.stdev, std::sqrt(2.5), 1e-12);  // ddof = 1
  const double half = 2.7764451052 * std::sqrt(2.5) / std::sqrt(5.0);
  EXPECT_NEAR(s.ci_low, 11.0 - half, 1e-8);
  EXPECT_NEAR(s.ci_high, 11.0 + half, 1e-8);
  const std::vector<double> one{3.0};
  const SampleStats single = sample_stats(one);
  EXPECT_EQ(single.stdev, 0.0);
  EXPECT_TRUE(std::isnan(single.ci_low));
}

TEST(HistogramAndCdf, CountsAndFractions) {
  const std::vector<double> v{0, 1, 1, 2, 3, 4, 4, 4, 9, 10};
  const Histogram h = histogram_sorted(v, 5);  // edges 0,2,4,6,8,10
  ASSERT_EQ(h.counts.size(), 5u);
  EXPECT_EQ(h.counts, (std::vector<int64_t>{3, 2, 3, 0, 2}));
  EXPECT_DOUBLE_EQ(h.edges.front(), 0);
  EXPECT_DOUBLE_EQ(h.edges.back(), 10);

  const auto all = cdf_points_sorted(v, 100);
  // Distinct values only, each with the fraction of the sample <= it.
  ASSERT_EQ(all.size(), 7u);
  EXPECT_DOUBLE_EQ(all[1].value, 1);
  EXPECT_DOUBLE_EQ(all[1].fraction, 0.3);
  EXPECT_DOUBLE_EQ(all.back().fraction, 1.0);
  const auto few = cdf_points_sorted(v, 3);
  EXPECT_LE(few.size(), 3u);
  EXPECT_DOUBLE_EQ(few.front().value, 0);
  EXPECT_DOUBLE_EQ(few.back().value, 10);
}

TEST(BucketSums, PerSecond) {
  const std::vector<TimedWeight> e{{999, 5}, {1000, 1}, {1500, 2}, {2999, 3}, {5000, 1}};
  const auto b = bucket_sums(e, 1000, 1000);
  EXPECT_EQ(b, (std::vector<double>{3, 3, 0, 0, 1}));
  EXPECT_THROW(bucket_sums(e, 0, 0), std::invalid_argument);
}

TEST(MergePercentiles, DefaultsPlusUser) {
  const std::vector<double> user{50, 99};
  EXPECT_EQ(merge_percentiles(user), (std::vector<double>{50, 90, 95, 99, 99.9}));
}

}  // namespace
}  // namespace llmbench::metrics

namespace llmbench::metrics {
namespace {

// Large samples take the radix-sort path: it must order exactly as std::sort, negatives included.
TEST(SortValues, LargeSamplesMatchStdSort) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> dist(0.0, 1e3);
  std::vector<double> v(200'000);
  for (auto& x : v) x = dist(rng);
  v[10] = 0.0;
  v[11] = -0.0;
  v[12] = std::numeric_limits<double>::infinity();
  v[13] = -std::numeric_limits<double>::infinity();
  std::vector<double> expected = v;
  std::sort(expected.begin(), expected.end());
  sort_values(v);
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], expected[i]) << i;

  std::vector<WeightedValue> w(100'000);
  // (+ 0.0 turns -0.0 into 0.0: the two compare equal, so their relative order is not specified.)
  for (auto& x : w) x = {std::round(dist(rng)) + 0.0, 1 + static_cast<int64_t>(rng() % 3)};
  std::vector<WeightedValue> w_expected = w;
  std::stable_sort(w_expected.begin(), w_expected.end(), [](auto& a, auto& b) { return a.value < b.value; });
  sort_values(w);
  for (size_t i = 0; i < w.size(); ++i) {
    ASSERT_EQ(w[i].value, w_expected[i].value) << i;
    ASSERT_EQ(w[i].weight, w_expected[i].weight) << i;  // stable
  }

  std::vector<uint64_t> keys(100'000);
  for (auto& k : keys) k = rng();
  std::vector<uint64_t> keys_expected = keys;
  std::sort(keys_expected.begin(), keys_expected.end());
  sort_keys(keys);
  EXPECT_EQ(keys, keys_expected);
}

}  // namespace
}  // namespace llmbench::metrics

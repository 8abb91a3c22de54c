#include "loadgen/arrival_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace llmbench::loadgen {
namespace {

struct Stats {
  double mean_s;
  double cv;  // coefficient of variation of the inter-arrival times
};

Stats interval_stats(const std::vector<int64_t>& t) {
  std::vector<double> d;
  for (size_t i = 1; i < t.size(); ++i) d.push_back(static_cast<double>(t[i] - t[i - 1]) / 1e9);
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(d.size());
  double var = 0;
  for (double x : d) var += (x - mean) * (x - mean);
  var /= static_cast<double>(d.size() - 1);
  return {mean, std::sqrt(var) / mean};
}

TEST(ArrivalSchedule, ConstantIsExactAndAbsolute) {
  ArrivalOptions o;
  o.request_rate = 4.0;
  o.distribution = ArrivalDistribution::kConstant;
  const auto t = arrival_offsets_ns(o, 9);
  ASSERT_EQ(t.size(), 9u);
  for (size_t i = 0; i < t.size(); ++i) {
    // Offsets are absolute from the start: i / rate, with no accumulated drift beyond rounding.
    EXPECT_NEAR(static_cast<double>(t[i]), static_cast<double>(i) * 0.25e9, 10.0) << i;
  }
}

TEST(ArrivalSchedule, PoissonMeanAndCv) {
  ArrivalOptions o;
  o.request_rate = 50.0;
  o.distribution = ArrivalDistribution::kPoisson;
  o.seed = 42;
  const auto s = interval_stats(arrival_offsets_ns(o, 20001));
  EXPECT_NEAR(s.mean_s, 1.0 / 50.0, 0.02 * (1.0 / 50.0));  // 20000 samples: std error ~0.7%
  EXPECT_NEAR(s.cv, 1.0, 0.03);                            // exponential: CV = 1
}

TEST(ArrivalSchedule, GammaBurstinessSetsCv) {
  for (double k : {0.25, 1.0, 4.0}) {
    ArrivalOptions o;
    o.request_rate = 10.0;
    o.distribution = ArrivalDistribution::kGamma;
    o.burstiness = k;
    o.seed = 7;
    const auto s = interval_stats(arrival_offsets_ns(o, 40001));
    EXPECT_NEAR(s.mean_s, 0.1, 0.1 * 0.03) << "burstiness " << k;
    EXPECT_NEAR(s.cv, 1.0 / std::sqrt(k), 0.05 / std::sqrt(k)) << "burstiness " << k;
  }
}

TEST(ArrivalSchedule, SameSeedSameScheduleDifferentSeedDiffers) {
  ArrivalOptions o;
  o.request_rate = 5;
  o.seed = 3;
  auto a = arrival_offsets_ns(o, 50);
  auto b = arrival_offsets_ns(o, 50);
  EXPECT_EQ(a, b);
  o.seed = 4;
  EXPECT_NE(a, arrival_offsets_ns(o, 50));
}

TEST(ArrivalSchedule, InfiniteRateSendsAllAtZero) {
  ArrivalOptions o;
  o.request_rate = std::numeric_limits<double>::infinity();
  for (int64_t t : arrival_offsets_ns(o, 100)) EXPECT_EQ(t, 0);
}

TEST(ArrivalSchedule, FirstAtZeroAndNonDecreasing) {
  ArrivalOptions o;
  o.request_rate = 100;
  o.seed = 1;
  auto t = arrival_offsets_ns(o, 1000);
  EXPECT_EQ(t[0], 0);
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GE(t[i], t[i - 1]);
}

TEST(ArrivalSchedule, LinearRampOverTimeReachesTargetRate) {
  ArrivalOptions o;
  o.request_rate = 100;
  o.distribution = ArrivalDistribution::kConstant;
  o.ramp_up = RampUp::kLinear;
  o.ramp_up_start_rps = 10;
  o.ramp_up_duration_s = 2.0;
  ArrivalSchedule s(o);
  EXPECT_DOUBLE_EQ(s.rate_at(0, 0), 10);
  EXPECT_DOUBLE_EQ(s.rate_at(1'000'000'000, 0), 55);
  EXPECT_DOUBLE_EQ(s.rate_at(5'000'000'000, 0), 100);
  const auto t = arrival_offsets_ns(o, 400);
  // Requests sent in the first second: integral of 10 + 45 t over [0, 1] = 32.5 (constant arrivals).
  int in_first_second = 0, in_third_second = 0;
  for (int64_t x : t) {
    if (x < 1'000'000'000) ++in_first_second;
    if (x >= 2'000'000'000 && x < 3'000'000'000) ++in_third_second;
  }
  EXPECT_NEAR(in_first_second, 32.5, 3);
  EXPECT_NEAR(in_third_second, 100, 2);  // after the ramp: the full rate
}

TEST(ArrivalSchedule, ExponentialRampByRequestIndexAsVllm) {
  ArrivalOptions o;
  o.request_rate = 1000;  // ignored: end rate given
  o.distribution = ArrivalDistribution::kConstant;
  o.ramp_up = RampUp::kExponential;
  o.ramp_up_start_rps = 1;
  o.ramp_up_end_rps = 100;
  o.ramp_up_requests = 101;
  ArrivalSchedule s(o);
  EXPECT_NEAR(s.rate_at(0, 0), 1, 1e-9);
  EXPECT_NEAR(s.rate_at(0, 50), 10, 1e-9);
  EXPECT_NEAR(s.rate_at(0, 100), 100, 1e-9);
  auto t = arrival_offsets_ns(o, 101);
  // Interval before request i is 1 / rate(i): first gap 1/rate(1) = 1/100^(1/100), last gap 1/100.
  EXPECT_NEAR(static_cast<double>(t[1] - t[0]) / 1e9, 1.0 / std::pow(100.0, 0.01), 1e-6);
  EXPECT_NEAR(static_cast<double>(t[100] - t[99]) / 1e9, 0.01, 1e-6);
}

TEST(ArrivalSchedule, RejectsBadOptions) {
  ArrivalOptions o;
  o.request_rate = 0;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o.request_rate = 1;
  o.distribution = ArrivalDistribution::kGamma;
  o.burstiness = 0;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o.distribution = ArrivalDistribution::kPoisson;
  o.ramp_up = RampUp::kExponential;
  o.ramp_up_start_rps = 0;
  o.ramp_up_duration_s = 10;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o.ramp_up = RampUp::kLinear;
  o.ramp_up_duration_s = 0;
  EXPECT_THROW(validate(o), std::invalid_argument);  // neither duration nor request count
  o.request_rate = std::numeric_limits<double>::infinity();
  o.ramp_up_duration_s = 5;
  EXPECT_THROW(validate(o), std::invalid_argument);  // ramp to an infinite rate
}

}  // namespace
}  // namespace llmbench::loadgen

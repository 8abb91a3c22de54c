// `llmbench sweep` points (lists, ranges) and the SLO search's bisection.
#include <gtest/gtest.h>

#include <cmath>

#include "app/bench_options.h"
#include "app/bench_repetitions.h"
#include "app/sweep_plan.h"

namespace llmbench::app {
namespace {

using V = std::vector<double>;

TEST(SweepPlan, Lists) {
  EXPECT_EQ(parse_sweep_list("--concurrency", "1,2, 4,8", true), (V{1, 2, 4, 8}));
  EXPECT_EQ(parse_sweep_list("--request-rate", "0.5,2", false), (V{0.5, 2}));
  EXPECT_TRUE(std::isinf(parse_sweep_list("--request-rate", "1,inf", false).back()));
  EXPECT_THROW(parse_sweep_list("--concurrency", "1.5", true), UsageError);
  EXPECT_THROW(parse_sweep_list("--concurrency", "0", true), UsageError);
  EXPECT_THROW(parse_sweep_list("--concurrency", "a,b", true), UsageError);
  EXPECT_THROW(parse_sweep_list("--concurrency", ",", true), UsageError);
}

TEST(SweepPlan, Ranges) {
  EXPECT_EQ(parse_sweep_range("r", "1:64:x2", true), (V{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(parse_sweep_range("r", "1:64", true), (V{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(parse_sweep_range("r", "1:10:+3", true), (V{1, 4, 7, 10}));
  EXPECT_EQ(parse_sweep_range("r", "2:10:x3", true), (V{2, 6, 10}));
  EXPECT_EQ(parse_sweep_range("r", "0.5:2:0.5", false), (V{0.5, 1, 1.5, 2}));
  EXPECT_EQ(parse_sweep_range("r", "4:4", true), (V{4}));
  EXPECT_EQ(parse_sweep_range("r", "1:3:x1.5", true), (V{1, 2, 3}));  // rounded, no duplicates
  EXPECT_THROW(parse_sweep_range("r", "8:2", true), UsageError);
  EXPECT_THROW(parse_sweep_range("r", "1:8:x1", true), UsageError);
  EXPECT_THROW(parse_sweep_range("r", "1", true), UsageError);
  EXPECT_THROW(parse_sweep_range("r", "1:2:3:4", true), UsageError);
  EXPECT_THROW(parse_sweep_range("r", "1:1000000:+1", true), UsageError);  // too many points
}

// Runs the bisection against a known capacity: values <= capacity pass.
std::pair<std::optional<double>, int> search(double lo, double hi, int iterations, bool ints, double capacity) {
  SloBisection b(lo, hi, iterations, ints);
  int probes = 0;
  while (auto v = b.next()) {
    b.record(*v, *v <= capacity);
    ++probes;
    if (probes > 200) break;
  }
  return {b.best(), probes};
}

TEST(SloBisection, IntegerConvergesExactly) {
  for (double capacity : {1.0, 2.0, 5.0, 13.0, 63.0}) {
    const auto [best, probes] = search(1, 64, 20, true, capacity);
    ASSERT_TRUE(best.has_value());
    EXPECT_EQ(*best, capacity);
    EXPECT_LE(probes, 2 + 7);  // bounds + log2(64) bisections
  }
}

TEST(SloBisection, RateWithinResolution) {
  const auto [best, probes] = search(1, 65, 6, false, 23.3);
  ASSERT_TRUE(best.has_value());
  EXPECT_LE(*best, 23.3);
  EXPECT_GE(*best, 23.3 - 64.0 / 64);  // interval halves 6 times
  EXPECT_EQ(probes, 8);
}

TEST(SloBisection, BoundsDecideEarly) {
  auto none = search(2, 10, 6, false, 1);
  EXPECT_FALSE(none.first.has_value());
  EXPECT_EQ(none.second, 1);
  auto all = search(2, 10, 6, false, 100);
  EXPECT_EQ(all.first, 10);
  EXPECT_EQ(all.second, 2);
  EXPECT_THROW(SloBisection(5, 5, 3, true), UsageError);
  EXPECT_THROW(SloBisection(0, 5, 3, true), UsageError);
}

TEST(Repetitions, MeanAndIntervalAcrossRuns) {
  std::vector<nlohmann::json> docs = {
      {{"mean_ttft_ms", 10.0}, {"request_rate", 5.0}, {"request_throughput", 4.0}, {"completed", 10}},
      {{"mean_ttft_ms", 12.0}, {"request_rate", 5.0}, {"request_throughput", 4.2}, {"completed", 10}},
      {{"mean_ttft_ms", 14.0}, {"request_rate", 5.0}, {"request_throughput", 3.8}, {"completed", 10}}};
  const auto r = repetitions_json(docs);
  EXPECT_EQ(r["runs"], 3);
  const auto& m = r["metrics"]["mean_ttft_ms"];
  EXPECT_DOUBLE_EQ(m["mean"].get<double>(), 12.0);
  EXPECT_DOUBLE_EQ(m["stdev"].get<double>(), 2.0);
  // t(0.975, 2) = 4.302653: half-width 4.302653 * 2 / sqrt(3).
  EXPECT_NEAR(m["ci95_low"].get<double>(), 12.0 - 4.968275, 1e-4);
  EXPECT_NEAR(m["ci95_high"].get<double>(), 12.0 + 4.968275, 1e-4);
  EXPECT_EQ(m["values"].size(), 3u);
  EXPECT_FALSE(r["metrics"].contains("request_rate"));
  EXPECT_TRUE(r["metrics"].contains("request_throughput"));
  EXPECT_NE(format_repetitions(r).find("mean_ttft_ms"), std::string::npos);
  const auto one = repetitions_json({docs[0]});
  EXPECT_TRUE(one["metrics"]["mean_ttft_ms"]["ci95_low"].is_null());
}

}  // namespace
}  // namespace llmbench::app

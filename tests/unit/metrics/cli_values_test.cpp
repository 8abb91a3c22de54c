#include "metrics/cli_values.h"

#include <gtest/gtest.h>

namespace llmbench::metrics {
namespace {

TEST(ParseMetricPercentiles, ListsAndErrors) {
  EXPECT_EQ(parse_metric_percentiles("99"), (std::vector<double>{99}));
  EXPECT_EQ(parse_metric_percentiles("25, 50,99.9"), (std::vector<double>{25, 50, 99.9}));
  EXPECT_THROW(parse_metric_percentiles(""), std::invalid_argument);
  EXPECT_THROW(parse_metric_percentiles("99,"), std::invalid_argument);
  EXPECT_THROW(parse_metric_percentiles("p99"), std::invalid_argument);
  EXPECT_THROW(parse_metric_percentiles("101"), std::invalid_argument);
  EXPECT_THROW(parse_metric_percentiles("-1"), std::invalid_argument);
  EXPECT_THROW(parse_metric_percentiles("nan"), std::invalid_argument);
}

TEST(ParseGoodput, VllmSyntax) {
  const auto slos = parse_goodput({"ttft:500", "tpot:50.5", "e2el:0", "itl:20"});
  ASSERT_EQ(slos.size(), 4u);
  EXPECT_EQ(slos[0].metric, "ttft");
  EXPECT_DOUBLE_EQ(slos[0].threshold_ms, 500);
  EXPECT_DOUBLE_EQ(slos[1].threshold_ms, 50.5);
  EXPECT_THROW(parse_goodput({"ttft=500"}), std::invalid_argument);
  EXPECT_THROW(parse_goodput({"ttft:500:1"}), std::invalid_argument);
  EXPECT_THROW(parse_goodput({"latency:500"}), std::invalid_argument);
  EXPECT_THROW(parse_goodput({"ttft:-1"}), std::invalid_argument);
  EXPECT_THROW(parse_goodput({"ttft:abc"}), std::invalid_argument);
  EXPECT_THROW(parse_goodput({"ttft:1", "ttft:2"}), std::invalid_argument);
  try {
    parse_goodput({"bogus:1"});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
  }
}

TEST(ParsePercentileMetrics, KnownNames) {
  EXPECT_EQ(parse_percentile_metrics("ttft,tpot,itl"), (std::vector<std::string>{"ttft", "tpot", "itl"}));
  EXPECT_EQ(parse_percentile_metrics("e2el"), (std::vector<std::string>{"e2el"}));
  EXPECT_THROW(parse_percentile_metrics("ttft,latency"), std::invalid_argument);
}

}  // namespace
}  // namespace llmbench::metrics

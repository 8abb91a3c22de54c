#include "telemetry/time_series.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace llmbench::telemetry {
namespace {

TEST(TimeSeries, KeepsEverythingUnderTheCap) {
  TimeSeries s(10);
  for (int i = 0; i < 10; ++i) s.add(i * 0.5, i);
  EXPECT_EQ(s.points().size(), 10u);
  EXPECT_FALSE(s.decimated());
  EXPECT_EQ(s.points()[3].t_s, 1.5);
  EXPECT_EQ(*s.min(), 0);
  EXPECT_EQ(*s.max(), 9);
  EXPECT_DOUBLE_EQ(*s.mean(), 4.5);
  EXPECT_EQ(*s.first(), 0);
  EXPECT_EQ(*s.last(), 9);
}

TEST(TimeSeries, DecimatesEvenlyAndKeepsExactStatistics) {
  TimeSeries s(100);
  const int n = 10000;
  for (int i = 0; i < n; ++i) s.add(i, i);
  EXPECT_TRUE(s.decimated());
  EXPECT_LE(s.points().size(), 100u);
  EXPECT_GE(s.points().size(), 50u);
  EXPECT_EQ(s.samples(), static_cast<size_t>(n));
  EXPECT_EQ(s.points().front().t_s, 0);
  // Evenly spaced, covering the whole run.
  double step = s.points()[1].t_s - s.points()[0].t_s;
  for (size_t i = 1; i < s.points().size(); ++i) EXPECT_EQ(s.points()[i].t_s - s.points()[i - 1].t_s, step);
  EXPECT_GT(s.points().back().t_s, n - 2 * step);
  EXPECT_DOUBLE_EQ(*s.mean(), (n - 1) / 2.0);
  EXPECT_EQ(*s.max(), n - 1);
  EXPECT_EQ(*s.last(), n - 1);
}

TEST(TimeSeries, NonFiniteValuesAreKeptAsPointsButNotInStatistics) {
  TimeSeries s;
  EXPECT_FALSE(s.mean().has_value());
  s.add(0, std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(s.max().has_value());
  s.add(1, 2);
  s.add(2, std::numeric_limits<double>::infinity());
  s.add(3, 4);
  EXPECT_EQ(s.points().size(), 4u);
  EXPECT_EQ(*s.max(), 4);
  EXPECT_EQ(*s.mean(), 3);
  EXPECT_EQ(*s.first(), 2);
}

TEST(CounterTracker, IncreaseAcrossResets) {
  CounterTracker c;
  EXPECT_FALSE(c.has_value());
  for (double v : {100.0, 110.0, 130.0, 5.0, 25.0, std::nan("")}) c.add(v);
  EXPECT_TRUE(c.has_value());
  EXPECT_EQ(c.increase(), 30 + 25);  // 100->130, then a restart at 0 -> 25
  EXPECT_EQ(c.resets(), 1u);
  EXPECT_EQ(c.first(), 100);
  EXPECT_EQ(c.last(), 25);
}

}  // namespace
}  // namespace llmbench::telemetry

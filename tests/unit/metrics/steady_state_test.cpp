#include "metrics/steady_state.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/clock.h"

#include "metrics/summary.h"

namespace llmbench::metrics {
namespace {

using loadgen::RequestRecord;
using loadgen::RunInfo;

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kT0 = 5 * kS;

RequestRecord timed(uint64_t index, int64_t sent_ns, int64_t duration_ns) {
  RequestRecord r;
  r.index = index;
  r.scheduled_ns = r.sent_ns = sent_ns;
  r.end_ns = sent_ns + duration_ns;
  r.first_token_ns = sent_ns + duration_ns / 2;
  r.events.push_back({r.first_token_ns, 1});
  r.output_tokens = 1;
  r.prompt_tokens = 4;
  return r;
}

TEST(Concurrency, PeakAndMean) {
  std::vector<ConcurrencyEvent> e{{10, +1}, {20, +1}, {30, -1}, {30, +1}, {40, -1}, {50, -1}};
  sort_concurrency_events(e);
  EXPECT_EQ(peak_concurrency(e), 2);  // the departure at 30 precedes the arrival at 30
  // [10,20): 1, [20,40): 2, [40,50): 1 -> mean over [10,50) = (10 + 40 + 10) / 40.
  EXPECT_DOUBLE_EQ(mean_concurrency(e, 10, 50), 60.0 / 40.0);
  EXPECT_DOUBLE_EQ(mean_concurrency(e, 0, 10), 0.0);
}

// Four users start one second apart (ramp), each sends 1 s requests back to back for 20 s, and stop
// one second apart (drain). All four are in flight from 3 s to 20 s.
TEST(SteadyState, ClosedLoopRampPlateauDrain) {
  std::vector<RequestRecord> records;
  uint64_t index = 0;
  for (int u = 0; u < 4; ++u) {
    for (int k = 0; k < 20; ++k) {
      auto r = timed(index++, kT0 + (u + k) * kS, kS);
      r.worker = u;
      records.push_back(r);
    }
  }
  RunInfo info;
  info.mode = loadgen::LoadMode::kClosedLoop;
  info.concurrency = 4;
  info.start_ns = kT0;
  const Summary s = summarize(records, info);
  const auto& ss = s.steady_state;
  ASSERT_TRUE(ss.found) << ss.reason;
  EXPECT_DOUBLE_EQ(ss.start_s, 3.0);
  EXPECT_DOUBLE_EQ(ss.end_s, 20.0);
  EXPECT_DOUBLE_EQ(ss.duration_s, 17.0);
  EXPECT_DOUBLE_EQ(ss.mean_concurrency, 4.0);
  EXPECT_EQ(ss.requests, 68);     // 17 per user start and end inside [3, 20]
  EXPECT_EQ(ss.completions, 71);  // ends inside [3, 20]: 18 + 18 + 18 + 17
  EXPECT_NEAR(ss.request_throughput, 71.0 / 17.0, 1e-12);
  EXPECT_EQ(ss.latency.e2el_ms.count, 68);
  EXPECT_NEAR(ss.latency.e2el_ms.mean, 1000.0, 1e-9);
  // Tokens arrive mid-request: those at 3.5 .. 19.5 s, i.e. 17 + 17 + 17 + 16 + the 2.5..: count them.
  int64_t expected_tokens = 0;
  for (const auto& r : records) {
    if (r.events[0].arrived_ns >= kT0 + 3 * kS && r.events[0].arrived_ns <= kT0 + 20 * kS) ++expected_tokens;
  }
  EXPECT_EQ(ss.output_tokens, expected_tokens);
  EXPECT_NE(ss.rule.find("closed loop"), std::string::npos);
}

TEST(SteadyState, ClosedLoopNeverAtTarget) {
  std::vector<RequestRecord> records{timed(0, kT0, kS), timed(1, kT0 + kS, kS)};
  RunInfo info;
  info.mode = loadgen::LoadMode::kClosedLoop;
  info.concurrency = 8;
  const Summary s = summarize(records, info);
  EXPECT_FALSE(s.steady_state.found);
  EXPECT_NE(s.steady_state.reason.find("never reached"), std::string::npos);
}

// Constant 10 req/s for 10 s, each request takes 0.5 s: 5 in flight from 0.4 s on; the window ends at
// the last arrival (9.9 s), excluding the drain.
TEST(SteadyState, OpenLoopExcludesRampAndDrain) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 100; ++i) records.push_back(timed(static_cast<uint64_t>(i), kT0 + i * (kS / 10), kS / 2));
  RunInfo info;
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = 10;
  info.arrival = loadgen::ArrivalDistribution::kConstant;
  info.start_ns = kT0;
  const Summary s = summarize(records, info);
  const auto& ss = s.steady_state;
  ASSERT_TRUE(ss.found) << ss.reason;
  EXPECT_DOUBLE_EQ(ss.target_concurrency, 5.0);
  EXPECT_NEAR(ss.start_s, 0.4, 1e-12);
  EXPECT_NEAR(ss.end_s, 9.9, 1e-12);
  EXPECT_EQ(ss.requests, 91);  // sent at >= 0.4 s and ended by 9.9 s: i = 4 .. 94
  EXPECT_NEAR(ss.mean_concurrency, 5.0, 1e-9);
}

// Poisson arrivals (20/s for 30 s, fixed seed) with 1 s latency settle at ~20 in flight after about
// one latency; the window must start early, end at the last arrival and hold most requests.
TEST(SteadyState, OpenLoopPoissonSettlesAfterOneLatency) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> gap_s(20.0);
  std::vector<RequestRecord> records;
  double t = 0;
  for (uint64_t i = 0; t < 30.0; ++i) {
    records.push_back(timed(i, kT0 + static_cast<int64_t>(t * 1e9), kS));
    t += gap_s(rng);
  }
  RunInfo info;
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = 20;
  info.start_ns = kT0;
  const Summary s = summarize(records, info);
  const auto& ss = s.steady_state;
  ASSERT_TRUE(ss.found) << ss.reason;
  EXPECT_NEAR(ss.target_concurrency, 20.0, 3.0);
  EXPECT_GT(ss.start_s, 0.5);
  EXPECT_LT(ss.start_s, 2.0);
  EXPECT_NEAR(ss.end_s, ns_to_s(records.back().sent_ns - kT0), 1e-9);
  EXPECT_GT(ss.requests, static_cast<int64_t>(records.size() * 8 / 10));
  EXPECT_NEAR(ss.request_throughput, 20.0, 3.0);
}

TEST(SteadyState, OpenLoopWithoutSteadyState) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back(timed(static_cast<uint64_t>(i), kT0, kS));
  RunInfo info;
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = std::numeric_limits<double>::infinity();
  Summary s = summarize(records, info);
  EXPECT_FALSE(s.steady_state.found);
  EXPECT_NE(s.steady_state.reason.find("at once"), std::string::npos);

  // The same burst capped at 5 in flight behaves like a closed loop of 5.
  info.max_concurrency = 5;
  records.clear();
  for (int i = 0; i < 20; ++i) records.push_back(timed(static_cast<uint64_t>(i), kT0 + (i / 5) * kS, kS));
  s = summarize(records, info);
  ASSERT_TRUE(s.steady_state.found) << s.steady_state.reason;
  EXPECT_EQ(s.steady_state.requests, 20);

  // A ramp over the whole run has no steady part.
  info = RunInfo{};
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = 5;
  info.ramp_up = loadgen::RampUp::kLinear;
  s = summarize(records, info);
  EXPECT_FALSE(s.steady_state.found);
  EXPECT_NE(s.steady_state.reason.find("ramps"), std::string::npos);
}

}  // namespace
}  // namespace llmbench::metrics

#include "metrics/summary.h"

#include <gtest/gtest.h>

#include <cmath>

#include "metrics/request_metrics.h"

namespace llmbench::metrics {
namespace {

using loadgen::RequestRecord;
using loadgen::RequestStatus;
using loadgen::RunInfo;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000'000'000'000;  // an arbitrary steady-clock origin

// A completed streaming request: sent at sent_ms, token events at (ms, tokens), ended at end_ms.
RequestRecord make_request(uint64_t index, double sent_ms, std::vector<std::pair<double, int>> events, double end_ms,
                           int prompt_tokens = 10) {
  RequestRecord r;
  r.index = index;
  r.scheduled_ns = kT0 + static_cast<int64_t>(sent_ms * kMs);
  r.sent_ns = r.scheduled_ns;
  r.end_ns = kT0 + static_cast<int64_t>(end_ms * kMs);
  r.prompt_tokens = prompt_tokens;
  for (auto [t, k] : events) {
    r.events.push_back({kT0 + static_cast<int64_t>(t * kMs), k});
    r.output_tokens += k;
    if (k > 0 && r.first_token_ns == 0) r.first_token_ns = r.events.back().arrived_ns;
  }
  return r;
}

RunInfo closed_info(int users) {
  RunInfo info;
  info.scenario = "load";
  info.mode = loadgen::LoadMode::kClosedLoop;
  info.concurrency = users;
  info.start_ns = kT0;
  return info;
}

TEST(RequestMetrics, KnownTimeline) {
  // A role-only event (0 tokens) at 50 ms does not count as the first token.
  RequestRecord r = make_request(0, 0, {{50, 0}, {100, 1}, {150, 2}, {250, 1}}, 260);
  r.scheduled_ns = kT0 - 10 * kMs;  // sent 10 ms late
  const RequestMetrics m = request_metrics(r);
  ASSERT_TRUE(m.has_ttft);
  EXPECT_NEAR(m.ttft_ms, 100, 1e-9);
  EXPECT_NEAR(m.ttft_scheduled_ms, 110, 1e-9);
  EXPECT_NEAR(m.e2el_ms, 260, 1e-9);
  EXPECT_NEAR(m.e2el_scheduled_ms, 270, 1e-9);
  EXPECT_NEAR(m.lag_ms, 10, 1e-9);
  // vLLM's TPOT: (last token - first token) / (output tokens - 1) = 150 / 3.
  ASSERT_TRUE(m.has_tpot);
  EXPECT_NEAR(m.tpot_ms, 50, 1e-9);
  EXPECT_NEAR(m.tokens_per_s, 4 / 0.26, 1e-9);
  std::vector<std::pair<int64_t, int>> gaps;
  for_each_token_gap(r, [&](int64_t g, int32_t k) { gaps.emplace_back(g, k); });
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0], std::make_pair(50 * kMs, 2));
  EXPECT_EQ(gaps[1], std::make_pair(100 * kMs, 1));
}

TEST(RequestMetrics, MissingStampsLeaveFlagsOff) {
  RequestRecord r;
  EXPECT_FALSE(request_metrics(r).sent);
  r.sent_ns = kT0;
  r.end_ns = kT0 + 5 * kMs;
  r.output_tokens = 1;
  const auto m = request_metrics(r);
  EXPECT_TRUE(m.sent);
  EXPECT_FALSE(m.has_ttft);
  EXPECT_FALSE(m.has_tpot);
  EXPECT_NEAR(m.e2el_ms, 5, 1e-9);
}

TEST(Summarize, CountsLatenciesAndThroughput) {
  std::vector<RequestRecord> records;
  records.push_back(make_request(0, 0, {{100, 1}, {150, 2}, {250, 1}}, 260));  // ttft 100, tpot 50
  records.push_back(make_request(1, 100, {{300, 1}, {400, 1}}, 1100));         // ttft 200, tpot 100
  RequestRecord failed = make_request(2, 200, {}, 400);
  failed.status = RequestStatus::kFailed;
  failed.failure_kind = "http_503";
  failed.error = "Service Unavailable";
  records.push_back(failed);
  failed.index = 3;
  failed.failure_kind = "read_timeout";
  records.push_back(failed);
  failed.index = 4;
  failed.failure_kind = "http_503";
  records.push_back(failed);
  RequestRecord warm = make_request(5, -5000, {{-4900, 1}}, -4000);
  warm.warmup = true;
  records.push_back(warm);
  RequestRecord cancelled = make_request(6, 500, {}, 0);
  cancelled.end_ns = 0;
  cancelled.status = RequestStatus::kCancelled;
  records.push_back(cancelled);

  RunInfo info = closed_info(2);
  info.metric_percentiles = {50, 99};
  const Summary s = summarize(records, info);
  EXPECT_EQ(s.measured_requests, 6);
  EXPECT_EQ(s.warmup_requests, 1);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.cancelled, 1);
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0].kind, "http_503");
  EXPECT_EQ(s.failures[0].count, 2);
  EXPECT_EQ(s.failures[0].example, "Service Unavailable");
  EXPECT_EQ(s.failures[1].kind, "read_timeout");

  EXPECT_EQ(s.total_input_tokens, 20);
  EXPECT_EQ(s.total_output_tokens, 6);
  // Duration: first send (0 ms) to last end (1100 ms); the warm-up and the unended request do not count.
  EXPECT_NEAR(s.duration_s, 1.1, 1e-12);
  EXPECT_NEAR(s.request_throughput, 2 / 1.1, 1e-9);
  EXPECT_NEAR(s.output_throughput, 6 / 1.1, 1e-9);
  EXPECT_NEAR(s.total_token_throughput, 26 / 1.1, 1e-9);

  EXPECT_EQ(s.latency.ttft_ms.count, 2);
  EXPECT_NEAR(s.latency.ttft_ms.mean, 150, 1e-9);
  EXPECT_NEAR(s.latency.ttft_ms.stdev, 50, 1e-9);
  EXPECT_NEAR(s.latency.ttft_ms.at(99), 100 + 0.99 * 100, 1e-9);
  EXPECT_NEAR(s.latency.tpot_ms.mean, 75, 1e-9);
  // ITL per chunk: 50, 100 (request 0) and 100 (request 1).
  EXPECT_EQ(s.latency.itl_ms.count, 3);
  EXPECT_NEAR(s.latency.itl_ms.mean, 250.0 / 3, 1e-9);
  EXPECT_NEAR(s.latency.itl_ms.median, 100, 1e-9);
  // ITL per token: 25, 25 (the 2-token chunk), 100, 100 -> mean 62.5, median 62.5.
  EXPECT_EQ(s.itl_per_token_ms.count, 4);
  EXPECT_NEAR(s.itl_per_token_ms.mean, 62.5, 1e-9);
  EXPECT_NEAR(s.itl_per_token_ms.median, 62.5, 1e-9);
  EXPECT_NEAR(s.latency.e2el_ms.mean, (260 + 1000) / 2.0, 1e-9);
  // Peak output tokens in a 1 s bucket from the first send: all 6 tokens arrive within [0, 1 s).
  EXPECT_DOUBLE_EQ(s.max_output_tokens_per_s, 6);
  EXPECT_EQ(s.max_concurrent_requests, 2);
  EXPECT_FALSE(s.has_goodput);
  EXPECT_EQ(s.token_source_counts[0], 2);
  EXPECT_TRUE(s.warnings.empty());
  // The time series covers every second up to the last end.
  ASSERT_EQ(s.time_series.output_tokens.size(), 2u);
  EXPECT_DOUBLE_EQ(s.time_series.output_tokens[0], 6);
  EXPECT_DOUBLE_EQ(s.time_series.completed[0], 1);
  EXPECT_DOUBLE_EQ(s.time_series.completed[1], 1);
  EXPECT_DOUBLE_EQ(s.time_series.failed[0], 3);
}

TEST(Summarize, GoodputAsVllm) {
  std::vector<RequestRecord> records;
  records.push_back(make_request(0, 0, {{100, 1}, {150, 2}, {250, 1}}, 260));  // ttft 100, tpot 50, e2el 260
  records.push_back(make_request(1, 0, {{300, 1}, {400, 1}}, 1000));           // ttft 300, tpot 100, e2el 1000
  records.push_back(make_request(2, 0, {{50, 1}}, 2000));  // ttft 50, 1 token: tpot counts as 0, e2el 2000
  records[1].scheduled_ns -= 500 * kMs;                    // request 1 was sent 500 ms late

  RunInfo info = closed_info(3);
  info.goodput = {{"ttft", 300}, {"tpot", 100}};
  Summary s = summarize(records, info);
  EXPECT_TRUE(s.has_goodput);
  EXPECT_EQ(s.good_requests, 3);            // the SLO holds when value <= threshold
  EXPECT_EQ(s.good_requests_scheduled, 2);  // request 1's TTFT from schedule is 800 ms
  EXPECT_NEAR(s.request_goodput, 3 / 2.0, 1e-12);

  info.goodput = {{"ttft", 300}, {"e2el", 999.99}};
  s = summarize(records, info);
  EXPECT_EQ(s.good_requests, 1);

  // itl: every gap of the request must meet it. Request 0's gaps are 50 and 100 ms (mean 75), request
  // 1's is 100 ms, request 2 has none.
  info.goodput = {{"itl", 80}, {"bogus", 1}};
  s = summarize(records, info);
  EXPECT_EQ(s.good_requests, 1);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("bogus"), std::string::npos);
}

TEST(Summarize, ChunkCountedTokensAreFlagged) {
  std::vector<RequestRecord> records{make_request(0, 0, {{10, 1}, {20, 1}}, 30)};
  records[0].token_source = loadgen::TokenCountSource::kChunkCount;
  const Summary s = summarize(records, closed_info(1));
  EXPECT_EQ(s.token_source_counts[1], 1);
  ASSERT_EQ(s.warnings.size(), 1u);
}

TEST(Summarize, BadPercentilesAreDroppedWithAWarning) {
  std::vector<RequestRecord> records{make_request(0, 0, {{10, 1}, {20, 1}}, 30)};
  RunInfo info = closed_info(1);
  info.metric_percentiles = {150, 50};
  const Summary s = summarize(records, info);
  EXPECT_EQ(s.user_percentiles, std::vector<double>{50});
  ASSERT_EQ(s.warnings.size(), 1u);
}

TEST(Summarize, EmptyRunIsAllZero) {
  const Summary s = summarize({}, closed_info(4));
  EXPECT_EQ(s.completed, 0);
  EXPECT_EQ(s.duration_s, 0);
  EXPECT_EQ(s.request_throughput, 0);
  EXPECT_EQ(s.latency.ttft_ms.at(99), 0);
  EXPECT_FALSE(s.steady_state.found);
}

TEST(SummarizeSingle, TrialsWithConfidenceIntervals) {
  std::vector<RequestRecord> records;
  records.push_back(make_request(0, 0, {{100, 1}, {200, 9}}, 1000));
  records.push_back(make_request(1, 2000, {{2200, 10}}, 3000));
  records.push_back(make_request(2, 4000, {{4300, 5}, {4400, 5}}, 5000));
  RequestRecord failed = make_request(3, 6000, {}, 6001);
  failed.status = RequestStatus::kFailed;
  records.push_back(failed);
  RunInfo info;
  info.label = "vLLM";
  const SingleSummary s = summarize_single(records, info);
  EXPECT_EQ(s.label, "vLLM");
  EXPECT_EQ(s.trials, 3);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NEAR(s.ttft_s.mean, 0.2, 1e-12);
  EXPECT_NEAR(s.ttft_s.stdev, 0.1, 1e-12);
  EXPECT_NEAR(s.latency_s.mean, 1.0, 1e-12);
  EXPECT_NEAR(s.tokens.mean, 10, 1e-12);
  EXPECT_NEAR(s.tokens_per_s.mean, 10, 1e-9);
  const double half = 4.30265272975 * 0.1 / std::sqrt(3.0);
  EXPECT_NEAR(s.ttft_s.ci_low, 0.2 - half, 1e-8);
}

}  // namespace
}  // namespace llmbench::metrics

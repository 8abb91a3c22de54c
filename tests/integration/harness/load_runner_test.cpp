// The load generator over real HTTP against ScriptedSseServer. Timing tolerances are generous:
// these run on a loaded 2-core machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "core/clock.h"
#include "loadgen/load_runner.h"
#include "loopback_port.h"
#include "scripted_sse_server.h"
#include "workload/synthetic_prompts.h"

namespace llmbench::loadgen {
namespace {

using testing::ResponseScript;
using testing::ScriptedSseServer;

std::vector<workload::RequestSpec> specs(int32_t n, int32_t max_tokens = 16) {
  workload::SyntheticOptions o;
  o.model = "test-model";
  o.num_requests = n;
  o.input_len = 8;
  o.output_len = max_tokens;
  return workload::build_synthetic_requests(o);
}

net::Url url_of(const std::string& text) {
  std::string error;
  auto url = net::Url::parse(text, &error);
  EXPECT_TRUE(url) << error;
  return *url;
}

std::vector<const RequestRecord*> measured(const RunOutcome& out) {
  std::vector<const RequestRecord*> v;
  for (const auto& r : out.records) {
    if (!r.warmup) v.push_back(&r);
  }
  return v;
}

TEST(LoadRunner, ClosedLoopReachesTargetConcurrency) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 60, .itl_ms = 5, .tokens = 5}; });
  LoadOptions o;
  o.mode = LoadMode::kClosedLoop;
  o.concurrency = 6;
  o.num_prompts = 24;
  LoadRunner runner(url_of(server.base_url()), specs(24), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 24u);
  EXPECT_EQ(server.requests(), 24);
  EXPECT_EQ(server.peak_in_flight(), 6);  // the server really saw 6 at once
  EXPECT_EQ(out.peak_in_flight, 6);
  EXPECT_FALSE(out.partial);
  std::map<int32_t, int> per_worker;
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kOk) << r.failure_kind << " " << r.error;
    EXPECT_EQ(r.output_tokens, 5);
    EXPECT_EQ(r.token_source, TokenCountSource::kServerUsage);
    EXPECT_EQ(r.prompt_tokens, 8);
    EXPECT_EQ(r.finish_reason, "length");
    ++per_worker[r.worker];
  }
  EXPECT_EQ(per_worker.size(), 6u);
  EXPECT_EQ(runner.counters().completed.load(), 24);
  EXPECT_EQ(runner.counters().output_tokens.load(), 24 * 5);
}

TEST(LoadRunner, OpenLoopSendsAtAbsoluteScheduledTimes) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 5, .itl_ms = 1, .tokens = 3}; });
  LoadOptions o;
  o.mode = LoadMode::kOpenLoop;
  o.arrival.request_rate = 20;  // one every 50 ms
  o.arrival.distribution = ArrivalDistribution::kConstant;
  o.num_prompts = 20;
  LoadRunner runner(url_of(server.base_url()), specs(20), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 20u);
  std::vector<const RequestRecord*> recs = measured(out);
  std::sort(recs.begin(), recs.end(), [](auto* a, auto* b) { return a->index < b->index; });
  std::vector<int64_t> lags;
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& r = *recs[i];
    EXPECT_EQ(r.status, RequestStatus::kOk) << r.failure_kind;
    EXPECT_EQ(r.worker, -1);
    // The schedule is absolute: exactly start + i * 50 ms, whatever happened before.
    EXPECT_NEAR(static_cast<double>(r.scheduled_ns - out.start_ns), static_cast<double>(i) * 50e6, 1e3) << i;
    lags.push_back(r.sent_ns - r.scheduled_ns);
    EXPECT_GE(lags.back(), 0);
    EXPECT_LT(lags.back(), ms_to_ns(250)) << "request " << i << " sent " << ns_to_ms(lags.back()) << " ms late";
  }
  // Typically well under a millisecond; generous for a loaded machine. A late send does not delay
  // the next ones (no chain of sleeps), so the last is not later than the typical one.
  std::sort(lags.begin(), lags.end());
  EXPECT_LT(ns_to_ms(lags[lags.size() / 2]), 20.0);
  EXPECT_LT(ns_to_ms(recs.back()->sent_ns - recs.back()->scheduled_ns), 100.0);
  // The server saw them ~50 ms apart too.
  const auto arrivals = server.arrival_ns();
  ASSERT_EQ(arrivals.size(), 20u);
  const double span_ms = ns_to_ms(arrivals.back() - arrivals.front());
  EXPECT_NEAR(span_ms, 19 * 50.0, 150.0);
}

TEST(LoadRunner, MeasuresTtftAndItlAgainstTheScript) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 120, .itl_ms = 30, .tokens = 8}; });
  LoadOptions o;
  o.concurrency = 1;
  o.num_prompts = 2;
  LoadRunner runner(url_of(server.base_url()), specs(2), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 2u);
  for (const auto& r : out.records) {
    ASSERT_EQ(r.status, RequestStatus::kOk) << r.failure_kind << " " << r.error;
    ASSERT_EQ(r.events.size(), 8u);
    EXPECT_EQ(r.output_tokens, 8);
    const double ttft_ms = ns_to_ms(r.first_token_ns - r.sent_ns);
    EXPECT_GE(ttft_ms, 115);
    EXPECT_LT(ttft_ms, 400);
    EXPECT_GT(r.first_byte_ns, 0);
    EXPECT_LE(r.headers_ns, r.first_byte_ns);
    EXPECT_LE(r.written_ns, r.headers_ns);
    double gaps = 0;
    for (size_t i = 1; i < r.events.size(); ++i) {
      EXPECT_EQ(r.events[i].tokens, 1);
      gaps += ns_to_ms(r.events[i].arrived_ns - r.events[i - 1].arrived_ns);
    }
    const double itl_ms = gaps / 7;
    EXPECT_GE(itl_ms, 28);
    EXPECT_LT(itl_ms, 120);
    EXPECT_GE(r.end_ns, r.events.back().arrived_ns);
  }
}

TEST(LoadRunner, FaultsFailTheirRequestWithAReasonAndTheRunCompletes) {
  // Request i gets fault i % 5.
  ScriptedSseServer server([](int64_t i) {
    ResponseScript s{.ttft_ms = 5, .itl_ms = 2, .tokens = 6};
    switch (i % 5) {
      case 1:
        s.status = 503;
        break;
      case 2:
        s.close_after = 3;
        break;
      case 3:
        s.malformed_at = 2;
        break;
      case 4:
        s.stall_at = 2, s.stall_ms = 3000;
        break;
      default:
        break;
    }
    return s;
  });
  LoadOptions o;
  o.concurrency = 1;  // one at a time, so request i meets script i
  o.num_prompts = 10;
  o.client.read_timeout_ms = 300;
  LoadRunner runner(url_of(server.base_url()), specs(10), o);
  const int64_t t0 = now_ns();
  const auto out = runner.run();
  EXPECT_LT(ns_to_s(now_ns() - t0), 10);
  ASSERT_EQ(out.records.size(), 10u);
  std::map<std::string, int> kinds;
  for (const auto& r : out.records) {
    EXPECT_GT(r.end_ns, 0);
    kinds[r.status == RequestStatus::kOk ? "ok" : r.failure_kind]++;
    if (r.status != RequestStatus::kOk) {
      EXPECT_FALSE(r.error.empty()) << r.failure_kind;
    }
  }
  EXPECT_EQ(kinds["ok"], 2);
  EXPECT_EQ(kinds["http_503"], 2);
  EXPECT_EQ(kinds["connection_closed"], 2);
  EXPECT_EQ(kinds["malformed_json"], 2);
  EXPECT_EQ(kinds["read_timeout"], 2);
  EXPECT_EQ(runner.counters().failed.load(), 8);
  for (const auto& r : out.records) {
    if (r.failure_kind == "http_503") {
      EXPECT_EQ(r.http_status, 503);
      EXPECT_NE(r.error.find("scripted status 503"), std::string::npos) << r.error;
    }
  }
}

TEST(LoadRunner, RefusedConnectionsFailFastAndTheRunEnds) {
  LoadOptions o;
  o.concurrency = 2;
  o.num_prompts = 6;
  LoadRunner runner(url_of("http://127.0.0.1:" + std::to_string(testing::unused_port())), specs(6), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 6u);
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kFailed);
    EXPECT_EQ(r.failure_kind, "connection_refused") << r.error;
  }
}

// A closed-loop user whose connection is refused backs off (1 ms doubling to 1 s) instead of
// spinning: for half a second against a dead port, a handful of attempts, not tens of thousands.
TEST(LoadRunner, RefusedConnectionsBackOffInAClosedLoop) {
  LoadOptions o;
  o.concurrency = 1;
  o.num_prompts = 0;  // unlimited: the duration ends the run
  o.duration_s = 0.5;
  LoadRunner runner(url_of("http://127.0.0.1:" + std::to_string(testing::unused_port())), specs(4), o);
  const auto out = runner.run();
  EXPECT_GE(out.records.size(), 2u);
  EXPECT_LE(out.records.size(), 12u);  // 1+2+4+...+256 ms: at most 10 attempts fit in 0.5 s
  for (const auto& r : out.records) EXPECT_EQ(r.failure_kind, "connection_refused") << r.error;
}

TEST(LoadRunner, StopDrainsThenCancelsAndMarksPartial) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 10, .itl_ms = 50, .tokens = 200}; });
  LoadOptions o;
  o.concurrency = 4;
  o.num_prompts = 100;
  o.drain_timeout_s = 0.3;
  LoadRunner runner(url_of(server.base_url()), specs(100, 256), o);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    runner.request_stop("interrupted (SIGINT)");
  });
  const int64_t t0 = now_ns();
  const auto out = runner.run();
  stopper.join();
  const double took_s = ns_to_s(now_ns() - t0);
  EXPECT_LT(took_s, 3.0);  // 200 tokens x 50 ms would be 10 s per request
  EXPECT_TRUE(out.partial);
  EXPECT_EQ(out.partial_reason, "interrupted (SIGINT)");
  ASSERT_EQ(out.records.size(), 4u);  // nothing new after the stop
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kCancelled);
    EXPECT_EQ(r.failure_kind, "cancelled");
    EXPECT_GT(r.output_tokens, 0);  // what streamed before the stop is kept
  }
}

TEST(LoadRunner, WarmupsComeFirstAndAreFlagged) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 2, .itl_ms = 1, .tokens = 2}; });
  LoadOptions o;
  o.concurrency = 2;
  o.num_prompts = 5;
  o.num_warmups = 3;
  o.warmup_concurrency = 2;
  LoadRunner runner(url_of(server.base_url()), specs(5), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 8u);
  int64_t last_warmup_end = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(out.records[i].warmup);
    last_warmup_end = std::max(last_warmup_end, out.records[i].end_ns);
  }
  for (size_t i = 3; i < 8; ++i) {
    EXPECT_FALSE(out.records[i].warmup);
    EXPECT_GE(out.records[i].sent_ns, last_warmup_end);  // measuring starts after the warm-ups
  }
  EXPECT_GE(out.start_ns, last_warmup_end);
  EXPECT_EQ(runner.counters().completed.load(), 5);
}

TEST(LoadRunner, MaxConcurrencyCapsOpenLoopAndShowsAsLag) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 80, .itl_ms = 1, .tokens = 2}; });
  LoadOptions o;
  o.mode = LoadMode::kOpenLoop;
  o.arrival.request_rate = std::numeric_limits<double>::infinity();
  o.max_concurrency = 3;
  o.num_prompts = 9;
  LoadRunner runner(url_of(server.base_url()), specs(9), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 9u);
  EXPECT_EQ(server.peak_in_flight(), 3);
  EXPECT_EQ(out.peak_in_flight, 3);
  int64_t max_lag = 0;
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kOk);
    EXPECT_EQ(r.scheduled_ns, out.start_ns);  // rate inf: all scheduled at t = 0
    max_lag = std::max(max_lag, r.sent_ns - r.scheduled_ns);
  }
  EXPECT_GT(ns_to_ms(max_lag), 140);  // the last three waited for two rounds of ~80 ms
}

TEST(LoadRunner, DurationLimitStopsSending) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 20, .itl_ms = 5, .tokens = 4}; });
  LoadOptions o;
  o.concurrency = 2;
  o.num_prompts = 0;
  o.duration_s = 0.6;
  LoadRunner runner(url_of(server.base_url()), specs(4), o);
  const int64_t t0 = now_ns();
  const auto out = runner.run();
  const double took_s = ns_to_s(now_ns() - t0);
  EXPECT_GE(took_s, 0.55);
  EXPECT_LT(took_s, 3);
  EXPECT_FALSE(out.partial);  // in-flight requests finished within the drain time
  EXPECT_GE(out.records.size(), 6u);
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kOk);
    EXPECT_LE(r.sent_ns, out.start_ns + s_to_ns(0.6));
  }
}

TEST(LoadRunner, ThreadsShareAClosedLoopAndMergeRecords) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 50, .itl_ms = 5, .tokens = 4}; });
  LoadOptions o;
  o.concurrency = 6;
  o.num_prompts = 30;
  o.num_warmups = 2;
  o.warmup_concurrency = 2;
  o.num_threads = 3;
  LoadRunner runner(url_of(server.base_url()), specs(30), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 32u);
  EXPECT_EQ(server.peak_in_flight(), 6);
  EXPECT_EQ(out.peak_in_flight, 6);
  std::set<uint64_t> indices;
  for (size_t i = 0; i < out.records.size(); ++i) {
    const auto& r = out.records[i];
    EXPECT_EQ(r.warmup, i < 2);
    EXPECT_EQ(r.status, RequestStatus::kOk) << r.failure_kind;
    if (!r.warmup) indices.insert(r.index);
  }
  EXPECT_EQ(indices.size(), 30u);  // every measured index exactly once, across threads
  EXPECT_EQ(*indices.rbegin(), 29u);
  EXPECT_EQ(runner.counters().completed.load(), 30);
  EXPECT_EQ(runner.counters().in_flight.load(), 0);
}

TEST(LoadRunner, ThreadsKeepTheOpenLoopScheduleAndSplitTheCap) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 60, .itl_ms = 1, .tokens = 2}; });
  LoadOptions o;
  o.mode = LoadMode::kOpenLoop;
  o.arrival.request_rate = 100;
  o.arrival.distribution = ArrivalDistribution::kConstant;
  o.num_prompts = 40;
  o.max_concurrency = 4;
  o.num_threads = 2;
  LoadRunner runner(url_of(server.base_url()), specs(40), o);
  const auto out = runner.run();
  ASSERT_EQ(out.records.size(), 40u);
  EXPECT_LE(server.peak_in_flight(), 4);
  for (size_t i = 0; i < out.records.size(); ++i) {
    const auto& r = out.records[i];
    EXPECT_EQ(r.index, i);
    EXPECT_EQ(r.status, RequestStatus::kOk);
    EXPECT_NEAR(static_cast<double>(r.scheduled_ns - out.start_ns), static_cast<double>(i) * 10e6, 1e3) << i;
  }
}

TEST(LoadRunner, StopReachesEveryThread) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 10, .itl_ms = 50, .tokens = 200}; });
  LoadOptions o;
  o.concurrency = 4;
  o.num_prompts = 100;
  o.num_threads = 2;
  o.drain_timeout_s = 0.2;
  LoadRunner runner(url_of(server.base_url()), specs(100, 256), o);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    runner.request_stop("interrupted (SIGTERM)");
  });
  const int64_t t0 = now_ns();
  const auto out = runner.run();
  stopper.join();
  EXPECT_LT(ns_to_s(now_ns() - t0), 3.0);
  EXPECT_TRUE(out.partial);
  EXPECT_EQ(out.partial_reason, "interrupted (SIGTERM)");
  EXPECT_EQ(out.records.size(), 4u);
}

}  // namespace
}  // namespace llmbench::loadgen

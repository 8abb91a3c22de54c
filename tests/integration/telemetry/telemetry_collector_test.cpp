// TelemetryCollector over real loopback HTTP against a scripted /metrics server whose values change
// over time; failures (server down mid-run, garbage, errors, no /metrics) are counted, not fatal.
#include "telemetry/telemetry_collector.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "metrics_server.h"

namespace llmbench::telemetry {
namespace {

using testing::MetricsServer;
using testing::ScriptedResponse;

// A vLLM-like exposition whose values grow with n: kv usage, running requests, token counters and
// spec-decode counters with exactly 3 draft tokens per draft and 60% of draft tokens accepted.
std::string vllm_exposition(uint64_t n) {
  double kv = std::min(1.0, 0.05 * static_cast<double>(n));
  return fmt::format(
      "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
      "# TYPE vllm:kv_cache_usage_perc gauge\n"
      "vllm:kv_cache_usage_perc{{model_name=\"m\",engine=\"0\"}} {}\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{{model_name=\"m\",engine=\"0\"}} {}\n"
      "# TYPE vllm:generation_tokens_total counter\n"
      "vllm:generation_tokens_total{{model_name=\"m\",engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_drafts_total counter\n"
      "vllm:spec_decode_num_drafts_total{{model_name=\"m\",engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_draft_tokens_total counter\n"
      "vllm:spec_decode_num_draft_tokens_total{{model_name=\"m\",engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_accepted_tokens_total counter\n"
      "vllm:spec_decode_num_accepted_tokens_total{{model_name=\"m\",engine=\"0\"}} {}\n",
      kv, n, 1000 + 100 * n, 500 + 10 * n, 1500 + 30 * n, 900 + 18 * n);
}

TelemetryOptions fast_options() {
  TelemetryOptions options;
  options.interval_ms = 100;
  options.scrape_timeout_ms = 2000;
  options.sample_gpu = false;
  return options;
}

void run_for(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

TEST(TelemetryCollector, SeriesFollowTheServerAndSpecDecodeComesFromDeltas) {
  MetricsServer server([](uint64_t n, const std::string& target) {
    if (target != "/metrics") return ScriptedResponse{404, "not found"};
    return ScriptedResponse{200, vllm_exposition(n)};
  });
  TelemetryOptions options = fast_options();
  options.sample_gpu = true;
  options.nvml_library = LLMBENCH_FAKE_NVML_PATH;
  // The base URL of an OpenAI-style API: /metrics is taken from its origin.
  TelemetryCollector collector(server.base_url() + "/v1", options);
  int64_t t0 = now_ns();
  collector.start(t0);
  EXPECT_GE(server.requests(), 1u);  // the "before" scrape happened inside start()
  run_for(900);
  TelemetryReport mid = collector.report();  // callable while running
  EXPECT_TRUE(mid.metrics_available);
  collector.stop();
  collector.stop();  // idempotent
  TelemetryReport report = collector.report();

  EXPECT_EQ(report.metrics_url, server.base_url() + "/metrics");
  EXPECT_TRUE(report.metrics_available);
  EXPECT_EQ(report.server, ServerKind::kVllm);
  EXPECT_EQ(report.scrapes.failures, 0u) << report.scrapes.last_error;
  const SeriesReport& kv = report.normalized.at("kv_cache_usage");
  // before + ~8 ticks + after; generous for a loaded machine.
  ASSERT_GE(kv.points.size(), 4u);
  EXPECT_EQ(kv.points.size(), report.scrapes.successes);
  for (size_t i = 1; i < kv.points.size(); ++i) {
    EXPECT_GT(kv.points[i].t_s, kv.points[i - 1].t_s);
    EXPECT_GT(kv.points[i].value, kv.points[i - 1].value);  // the server's value grew every scrape
  }
  EXPECT_LT(kv.points.front().t_s, 0.5);
  EXPECT_GE(kv.points.front().t_s, 0.0);
  EXPECT_EQ(*kv.max, kv.points.back().value);

  // Counter deltas are exactly what the server advanced between the first and last scrape.
  const SeriesReport& gen = report.normalized.at("generation_tokens_total");
  double scrapes_between = static_cast<double>(kv.points.size() - 1);
  EXPECT_DOUBLE_EQ(*gen.delta, *gen.last - *gen.first);
  EXPECT_GE(*gen.delta, 100 * scrapes_between);
  ASSERT_TRUE(report.spec_decode.present);
  EXPECT_NEAR(*report.spec_decode.acceptance_rate, 0.6, 1e-12);
  EXPECT_NEAR(*report.spec_decode.mean_acceptance_length, 1.0 + 18.0 / 10.0, 1e-12);

  // GPUs through the fake NVML, on the same interval.
  ASSERT_TRUE(report.gpu_available);
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[1].name, "Fake H200");
  EXPECT_GE(report.gpus[0].memory_used_bytes.points.size(), 4u);
  EXPECT_DOUBLE_EQ(*report.gpus[0].power_w.mean, 250.5);

  nlohmann::json j = report.to_json();
  EXPECT_EQ(j["server"]["detected"], "vllm");
  EXPECT_EQ(j["gpu"].size(), 2u);
  EXPECT_NEAR(j["server"]["spec_decode"]["acceptance_rate"].get<double>(), 0.6, 1e-12);
  EXPECT_TRUE(report.notices.empty()) << report.notices.front();
}

TEST(TelemetryCollector, ServerDownMidRunIsCountedNotFatal) {
  MetricsServer server([](uint64_t n, const std::string&) { return ScriptedResponse{200, vllm_exposition(n)}; });
  TelemetryCollector collector(server.base_url(), fast_options());
  collector.start();
  run_for(350);
  server.stop();  // the server goes away in the middle of the run
  run_for(450);
  int64_t stop_started = now_ns();
  collector.stop();
  EXPECT_LT(ns_to_s(now_ns() - stop_started), 10.0);  // bounded by the scrape timeout, not stuck
  TelemetryReport report = collector.report();
  EXPECT_TRUE(report.metrics_available);
  EXPECT_GE(report.scrapes.successes, 2u);
  EXPECT_GE(report.scrapes.failures, 2u);
  EXPECT_EQ(report.scrapes.attempts, report.scrapes.successes + report.scrapes.failures);
  EXPECT_FALSE(report.scrapes.last_error.empty());
  EXPECT_EQ(report.normalized.at("kv_cache_usage").points.size(), report.scrapes.successes);
  ASSERT_FALSE(report.notices.empty());
  EXPECT_NE(report.notices.back().find("scrapes of"), std::string::npos) << report.notices.back();
  EXPECT_EQ(report.to_json()["errors"]["scrape_failures"], report.scrapes.failures);
}

TEST(TelemetryCollector, GarbageAndErrorAnswersAreCounted) {
  MetricsServer server([](uint64_t n, const std::string&) {
    if (n % 3 == 1) return ScriptedResponse{500, "internal error"};
    if (n % 3 == 2) return ScriptedResponse{200, "", 0, true};  // connection dropped mid-answer
    return ScriptedResponse{200, "<html><body>not metrics</body></html>\nvllm:num_requests_running 4\n{{{\n"};
  });
  TelemetryCollector collector(server.base_url(), fast_options());
  collector.start();
  run_for(700);
  collector.stop();
  TelemetryReport report = collector.report();
  EXPECT_GE(report.scrapes.attempts, 4u);
  EXPECT_GE(report.scrapes.successes, 1u);
  EXPECT_GE(report.scrapes.failures, 2u);
  EXPECT_GE(report.scrapes.parse_issues, 2 * report.scrapes.successes);
  ASSERT_FALSE(report.scrapes.first_parse_issues.empty());
  EXPECT_EQ(report.scrapes.first_parse_issues[0].line, 1u);
  EXPECT_EQ(*report.normalized.at("requests_running").max, 4);  // the good line still counts
  bool malformed_notice = false;
  for (const std::string& n : report.notices) malformed_notice |= n.find("malformed") != std::string::npos;
  EXPECT_TRUE(malformed_notice);
}

TEST(TelemetryCollector, TargetWithoutMetricsSaysSoOnceAndStopsAsking) {
  MetricsServer server([](uint64_t, const std::string&) {
    return ScriptedResponse{404, "{\"detail\":\"Not Found\"}"};
  });
  TelemetryCollector collector(server.base_url(), fast_options());
  collector.start();
  run_for(400);
  collector.stop();
  TelemetryReport report = collector.report();
  EXPECT_FALSE(report.metrics_available);
  EXPECT_EQ(report.scrapes.attempts, 1u);
  EXPECT_EQ(server.requests(), 1u);
  ASSERT_EQ(report.notices.size(), 1u);
  EXPECT_NE(report.notices[0].find("HTTP 404"), std::string::npos) << report.notices[0];
}

TEST(TelemetryCollector, NothingListeningIsNotFatal) {
  uint16_t port = 0;
  {
    MetricsServer probe([](uint64_t, const std::string&) { return ScriptedResponse{}; });
    port = probe.port();
  }  // closed: nothing listens on that port now
  TelemetryCollector collector(fmt::format("http://127.0.0.1:{}", port), fast_options());
  collector.start();
  run_for(300);
  collector.stop();
  TelemetryReport report = collector.report();
  EXPECT_FALSE(report.metrics_available);
  EXPECT_GE(report.scrapes.failures, 2u);
  ASSERT_FALSE(report.notices.empty());
  EXPECT_NE(report.notices.back().find("every scrape"), std::string::npos) << report.notices.back();
}

TEST(TelemetryCollector, SlowScrapesSkipTicksInsteadOfPilingUp) {
  MetricsServer server([](uint64_t n, const std::string&) { return ScriptedResponse{200, vllm_exposition(n), 250}; });
  TelemetryCollector collector(server.base_url(), fast_options());
  collector.start();
  run_for(800);
  collector.stop();
  TelemetryReport report = collector.report();
  EXPECT_GE(report.scrapes.skipped, 1u);
  EXPECT_EQ(report.scrapes.failures, 0u) << report.scrapes.last_error;
  EXPECT_GE(report.scrapes.max_duration_ms, 200.0);
}

TEST(TelemetryCollector, DisabledEverythingAndBadUrl) {
  TelemetryOptions off = fast_options();
  off.scrape_server = false;
  TelemetryCollector idle("http://127.0.0.1:1", off);
  idle.start();
  idle.stop();
  TelemetryReport report = idle.report();
  EXPECT_FALSE(report.server_enabled);
  EXPECT_EQ(report.scrapes.attempts, 0u);
  EXPECT_TRUE(report.notices.empty());

  TelemetryCollector bad("not a url", fast_options());
  bad.start();
  bad.stop();
  TelemetryReport bad_report = bad.report();
  ASSERT_EQ(bad_report.notices.size(), 1u);
  EXPECT_NE(bad_report.notices[0].find("bad metrics URL"), std::string::npos);

  TelemetryOptions no_gpu = off;
  no_gpu.sample_gpu = true;
  no_gpu.nvml_library = "libnvidia-ml-absent.so.1";
  TelemetryCollector gpu_less("http://127.0.0.1:1", no_gpu);
  gpu_less.start();
  gpu_less.stop();
  TelemetryReport gpu_report = gpu_less.report();
  EXPECT_FALSE(gpu_report.gpu_available);
  ASSERT_EQ(gpu_report.notices.size(), 1u);
  EXPECT_NE(gpu_report.notices[0].find("GPU telemetry off"), std::string::npos);

  TelemetryCollector never_started("http://127.0.0.1:1", fast_options());
  never_started.stop();  // no start: nothing to do, no hang
}

}  // namespace
}  // namespace llmbench::telemetry

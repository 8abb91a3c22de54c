#include "telemetry/telemetry_recorder.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_data.h"

namespace llmbench::telemetry {
namespace {

// A vLLM exposition with the given values (one engine).
std::string vllm(double kv, double running, double gen_tokens, double drafts, double draft_tokens, double accepted) {
  return fmt::format(
      "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{{engine=\"0\"}} {}\n"
      "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{engine=\"0\"}} {}\n"
      "# TYPE vllm:generation_tokens_total counter\nvllm:generation_tokens_total{{engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_drafts_total counter\nvllm:spec_decode_num_drafts_total{{engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_draft_tokens_total counter\n"
      "vllm:spec_decode_num_draft_tokens_total{{engine=\"0\"}} {}\n"
      "# TYPE vllm:spec_decode_num_accepted_tokens_total counter\n"
      "vllm:spec_decode_num_accepted_tokens_total{{engine=\"0\"}} {}\n"
      "# TYPE lat histogram\nlat_bucket{{le=\"1\"}} 1\nlat_bucket{{le=\"+Inf\"}} 2\nlat_sum 1.5\nlat_count 2\n",
      kv, running, gen_tokens, drafts, draft_tokens, accepted);
}

TEST(TelemetryRecorder, SeriesPeaksMeansAndCounterDeltasOverARun) {
  TelemetryRecorder r;
  // Before the run the server has history: the counters do not start at zero.
  r.add_scrape(-0.01, parse_prometheus_text(vllm(0.0, 0, 5000, 1000, 3000, 1500)), 1.0);
  r.add_scrape(1.0, parse_prometheus_text(vllm(0.5, 8, 5400, 1040, 3120, 1590)), 2.0);
  r.add_scrape(2.0, parse_prometheus_text(vllm(0.9, 16, 6000, 1080, 3240, 1660)), 3.0);
  r.add_scrape(3.0, parse_prometheus_text(vllm(0.2, 2, 6500, 1100, 3300, 1710)), 2.0);
  TelemetryReport report = r.report();

  EXPECT_TRUE(report.metrics_available);
  EXPECT_EQ(report.server, ServerKind::kVllm);
  const SeriesReport& kv = report.normalized.at("kv_cache_usage");
  EXPECT_EQ(kv.points.size(), 4u);
  EXPECT_EQ(kv.points[2].t_s, 2.0);
  EXPECT_EQ(kv.points[2].value, 0.9);
  EXPECT_EQ(*kv.max, 0.9);
  EXPECT_DOUBLE_EQ(*kv.mean, (0.0 + 0.5 + 0.9 + 0.2) / 4);
  EXPECT_EQ(kv.unit, "ratio");
  EXPECT_EQ(kv.source, "vllm:kv_cache_usage_perc");
  EXPECT_EQ(*report.normalized.at("requests_running").max, 16);

  const SeriesReport& gen = report.normalized.at("generation_tokens_total");
  EXPECT_EQ(gen.kind, SeriesKind::kCounter);
  EXPECT_EQ(*gen.delta, 1500);

  // Deltas, not totals: 100 drafts, 300 draft tokens, 210 accepted over the run.
  ASSERT_TRUE(report.spec_decode.present);
  EXPECT_EQ(report.spec_decode.source, "counters");
  EXPECT_EQ(*report.spec_decode.drafts, 100);
  EXPECT_EQ(*report.spec_decode.draft_tokens, 300);
  EXPECT_EQ(*report.spec_decode.accepted_tokens, 210);
  EXPECT_DOUBLE_EQ(*report.spec_decode.acceptance_rate, 0.7);
  EXPECT_DOUBLE_EQ(*report.spec_decode.mean_acceptance_length, 3.1);

  EXPECT_EQ(report.scrapes.attempts, 4u);
  EXPECT_EQ(report.scrapes.successes, 4u);
  EXPECT_DOUBLE_EQ(report.scrapes.mean_duration_ms, 2.0);
  EXPECT_EQ(report.scrapes.max_duration_ms, 3.0);
  EXPECT_DOUBLE_EQ(report.duration_s, 3.0);

  // Raw series: every sample except histogram buckets, by canonical key.
  EXPECT_EQ(report.raw.count("vllm:kv_cache_usage_perc{engine=\"0\"}"), 1u);
  EXPECT_EQ(report.raw.count("lat_sum"), 1u);
  EXPECT_EQ(report.raw.count("lat_bucket{le=\"1\"}"), 0u);
  EXPECT_EQ(report.raw.at("lat_count").kind, SeriesKind::kCounter);
  EXPECT_EQ(*report.raw.at("vllm:generation_tokens_total{engine=\"0\"}").delta, 1500);
  EXPECT_FALSE(report.raw_capped);
}

TEST(TelemetryRecorder, CounterResetDuringTheRunIsNotANegativeDelta) {
  TelemetryRecorder r;
  r.add_scrape(0, parse_prometheus_text(vllm(0, 0, 1000, 0, 0, 0)), 1);
  r.add_scrape(1, parse_prometheus_text(vllm(0, 0, 1200, 0, 0, 0)), 1);
  r.add_scrape(2, parse_prometheus_text(vllm(0, 0, 50, 0, 0, 0)), 1);  // server restarted
  r.add_scrape(3, parse_prometheus_text(vllm(0, 0, 80, 0, 0, 0)), 1);
  TelemetryReport report = r.report();
  const SeriesReport& gen = report.normalized.at("generation_tokens_total");
  EXPECT_EQ(*gen.delta, 200 + 50 + 30);
  EXPECT_EQ(gen.resets, 1u);
}

TEST(TelemetryRecorder, RawSeriesAreCappedAndTheDropIsReported) {
  RecorderOptions options;
  options.max_raw_series = 3;
  TelemetryRecorder r(options);
  std::string text;
  for (int i = 0; i < 10; ++i) text += fmt::format("series_{} {}\n", i, i);
  for (int scrape = 0; scrape < 5; ++scrape) r.add_scrape(scrape, parse_prometheus_text(text), 1);
  TelemetryReport report = r.report();
  EXPECT_EQ(report.raw.size(), 3u);
  EXPECT_TRUE(report.raw_capped);
  EXPECT_EQ(report.raw_series_dropped, 7u);  // counted once each, not once per scrape
  EXPECT_EQ(report.raw.at("series_0").points.size(), 5u);
}

TEST(TelemetryRecorder, BucketsKeptOnRequest) {
  RecorderOptions options;
  options.raw_include_buckets = true;
  TelemetryRecorder r(options);
  r.add_scrape(0, parse_prometheus_text(vllm(0, 0, 0, 0, 0, 0)), 1);
  EXPECT_EQ(r.report().raw.count("lat_bucket{le=\"+Inf\"}"), 1u);
}

TEST(TelemetryRecorder, FailuresAndParseIssuesAreCountedNotFatal) {
  TelemetryRecorder r;
  r.add_scrape_failure(0, "kConnectRefused: connection refused", 0.5);
  r.add_scrape(1, parse_prometheus_text("vllm:num_requests_running 3\nthis is garbage\n"), 1);
  r.add_scrape_failure(2, "HTTP 500", 0.5);
  r.add_scrape_skipped();
  TelemetryReport report = r.report();
  EXPECT_TRUE(report.metrics_available);
  EXPECT_EQ(report.scrapes.attempts, 3u);
  EXPECT_EQ(report.scrapes.failures, 2u);
  EXPECT_EQ(report.scrapes.skipped, 1u);
  EXPECT_EQ(report.scrapes.last_error, "HTTP 500");
  EXPECT_EQ(report.scrapes.parse_issues, 1u);
  ASSERT_EQ(report.scrapes.first_parse_issues.size(), 1u);
  EXPECT_EQ(report.scrapes.first_parse_issues[0].line, 2u);
  EXPECT_EQ(*report.normalized.at("requests_running").last, 3);
}

TEST(TelemetryRecorder, NothingScrapedIsAnEmptyReport) {
  TelemetryReport report = TelemetryRecorder().report();
  EXPECT_FALSE(report.metrics_available);
  EXPECT_TRUE(report.normalized.empty());
  EXPECT_FALSE(report.spec_decode.present);
  EXPECT_FALSE(report.gpu_available);
  nlohmann::json j = report.to_json();
  EXPECT_EQ(j["server"]["normalized"].size(), 0u);
  EXPECT_EQ(j["gpu"].size(), 0u);
  EXPECT_TRUE(j["errors"]["last_scrape_error"].is_null());
}

TEST(TelemetryRecorder, SglangSpecDecodeFromGauges) {
  TelemetryRecorder r;
  r.add_scrape(0, parse_prometheus_text("sglang:spec_accept_length 2.0\nsglang:spec_accept_rate 0.4\n"), 1);
  r.add_scrape(1, parse_prometheus_text("sglang:spec_accept_length 3.0\nsglang:spec_accept_rate 0.6\n"), 1);
  TelemetryReport report = r.report();
  EXPECT_EQ(report.server, ServerKind::kSglang);
  ASSERT_TRUE(report.spec_decode.present);
  EXPECT_EQ(report.spec_decode.source, "gauges");
  EXPECT_DOUBLE_EQ(*report.spec_decode.mean_acceptance_length, 2.5);
  EXPECT_DOUBLE_EQ(*report.spec_decode.acceptance_rate, 0.5);
}

TEST(TelemetryRecorder, GpuSamplesAndJsonShape) {
  TelemetryRecorder r;
  r.set_gpu_devices({GpuDeviceInfo{0, "Test GPU", 80ull << 30}});
  GpuSample a;
  a.memory_used_bytes = 10ull << 30;
  a.memory_total_bytes = 80ull << 30;
  a.utilization_pct = 40;
  a.power_w = 200.0;
  GpuSample b = a;
  b.memory_used_bytes = 30ull << 30;
  b.utilization_pct = 100;
  b.power_w.reset();
  b.error = "nvmlDeviceGetPowerUsage: Not Supported (3)";
  r.add_gpu_sample(0.0, 0, a);
  r.add_gpu_sample(1.0, 0, b);
  r.add_gpu_sample(1.0, 7, b);  // no such GPU: ignored
  r.add_scrape(0.5, parse_prometheus_text(vllm(0.25, 1, 10, 0, 0, 0)), 1);
  TelemetryReport report = r.report();
  report.gpu_enabled = true;
  ASSERT_EQ(report.gpus.size(), 1u);
  EXPECT_EQ(*report.gpus[0].memory_used_bytes.max, static_cast<double>(30ull << 30));
  EXPECT_EQ(*report.gpus[0].utilization_pct.mean, 70);
  EXPECT_EQ(report.gpus[0].power_w.samples, 1u);
  EXPECT_EQ(report.gpus[0].errors, 1u);

  nlohmann::json j = report.to_json();
  const auto& kv = j["server"]["normalized"]["kv_cache_usage"];
  EXPECT_EQ(kv["kind"], "gauge");
  EXPECT_EQ(kv["peak"], 0.25);
  EXPECT_EQ(kv["points"][0][0], 0.5);
  EXPECT_EQ(kv["points"][0][1], 0.25);
  EXPECT_EQ(j["server"]["normalized"]["generation_tokens_total"]["delta"], 0.0);
  EXPECT_EQ(j["server"]["detected"], "vllm");
  EXPECT_TRUE(j["server"]["raw"]["series"].contains("vllm:num_requests_running{engine=\"0\"}"));
  EXPECT_EQ(j["server"]["spec_decode"]["present"], true);
  EXPECT_TRUE(j["server"]["spec_decode"]["acceptance_rate"].is_null());  // no drafts in the run
  const auto& gpu = j["gpu"][0];
  EXPECT_EQ(gpu["index"], 0);
  EXPECT_EQ(gpu["name"], "Test GPU");
  EXPECT_EQ(gpu["memory_total_bytes"], 80ull << 30);
  EXPECT_EQ(gpu["memory_used_bytes"]["points"].size(), 2u);
  EXPECT_EQ(gpu["peak_memory_used_bytes"], static_cast<double>(30ull << 30));
  EXPECT_EQ(gpu["utilization_pct"]["mean"], 70.0);
  EXPECT_EQ(gpu["power_w"]["peak"], 200.0);
  EXPECT_EQ(j["errors"]["gpu_errors"], 1);
  EXPECT_EQ(j["gpu_status"]["available"], true);
}

}  // namespace
}  // namespace llmbench::telemetry

namespace llmbench::telemetry {
namespace {

TEST(TelemetryRecorder, RawSeriesHaveTheirOwnSmallerPointCap) {
  RecorderOptions options;
  options.max_points_per_series = 64;
  options.max_points_per_raw_series = 8;
  TelemetryRecorder r(options);
  for (int i = 0; i < 40; ++i) {
    r.add_scrape(i, parse_prometheus_text(fmt::format("vllm:num_requests_running {}\n", i)), 1);
  }
  TelemetryReport report = r.report();
  const SeriesReport& raw = report.raw.at("vllm:num_requests_running");
  EXPECT_LE(raw.points.size(), 8u);
  EXPECT_TRUE(raw.decimated);
  EXPECT_EQ(*raw.max, 39);  // statistics stay exact
  EXPECT_EQ(report.normalized.at("requests_running").points.size(), 40u);
}

}  // namespace
}  // namespace llmbench::telemetry

namespace llmbench::telemetry {
namespace {

TEST(TelemetryRecorder, InvalidUtf8FromTheServerStillDumps) {
  TelemetryRecorder r;
  r.add_scrape(0, parse_prometheus_text("# TYPE h h\xff\xfe\nm{a=\"\xc3\x28\xed\xa0\x80ok\"} 1\n"), 1);
  r.add_scrape_failure(1, "kProtocol: \xff bad", 1);
  TelemetryReport report = r.report();
  report.notices.push_back("notice \xe0\x80");
  std::string dumped = report.to_json().dump();
  EXPECT_NE(dumped.find("m{a=\\\"\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDok\\\"}"), std::string::npos)
      << dumped;
  EXPECT_NE(dumped.find("kProtocol: \xEF\xBF\xBD bad"), std::string::npos);
}

}  // namespace
}  // namespace llmbench::telemetry

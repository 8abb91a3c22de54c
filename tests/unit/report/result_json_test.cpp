#include "report/result_json.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "report_test_support.h"

namespace llmbench::report {
namespace {

using nlohmann::json;
using namespace testing;

TEST(PercentileWord, PythonFormatting) {
  EXPECT_EQ(percentile_word(99), "99");
  EXPECT_EQ(percentile_word(99.9), "99.9");
  EXPECT_EQ(percentile_word(50), "50");
  EXPECT_EQ(percentile_word(99.99), "99.99");
  EXPECT_EQ(percentile_word(0.5), "0.5");
}

TEST(Iso8601, UtcWithMillis) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123Z");
}

TEST(ResultJson, HasVllmKeys) {
  const auto records = sample_records();
  const auto info = sample_info();
  const auto summary = metrics::summarize(records, info);
  const json j = result_json(summary, records, info, false);
  // The keys of `vllm bench serve --save-result`, spelled as vLLM spells them.
  for (const char* key : {"date",
                          "endpoint_type",
                          "backend",
                          "label",
                          "model_id",
                          "tokenizer_id",
                          "num_prompts",
                          "request_rate",
                          "burstiness",
                          "max_concurrency",
                          "duration",
                          "completed",
                          "failed",
                          "total_input_tokens",
                          "total_output_tokens",
                          "request_throughput",
                          "request_goodput",
                          "output_throughput",
                          "total_token_throughput",
                          "max_output_tokens_per_s",
                          "max_concurrent_requests",
                          "mean_ttft_ms",
                          "median_ttft_ms",
                          "std_ttft_ms",
                          "p50_ttft_ms",
                          "p99_ttft_ms",
                          "p99.9_ttft_ms",
                          "mean_tpot_ms",
                          "median_tpot_ms",
                          "std_tpot_ms",
                          "p99_tpot_ms",
                          "mean_itl_ms",
                          "median_itl_ms",
                          "std_itl_ms",
                          "p99_itl_ms",
                          "mean_e2el_ms",
                          "median_e2el_ms",
                          "std_e2el_ms",
                          "p99_e2el_ms",
                          "gpu",
                          "llmbench"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  // Detailed arrays only with --save-detailed.
  EXPECT_FALSE(j.contains("ttfts"));
  EXPECT_FALSE(j.contains("itls"));
  EXPECT_EQ(j["date"].get<std::string>().size(), 15u);  // YYYYMMDD-HHMMSS
  EXPECT_EQ(j["request_rate"], 4.0);
  EXPECT_EQ(j["max_concurrency"], 8);
  EXPECT_TRUE(j["tokenizer_id"].is_null());
  EXPECT_EQ(j["completed"], 2);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["total_output_tokens"], 6);
  EXPECT_NEAR(j["mean_ttft_ms"].get<double>(), 175.0, 1e-9);  // 100 and 250 ms
  EXPECT_NEAR(j["mean_tpot_ms"].get<double>(), 75.0, 1e-9);
  // request 0 meets ttft <= 150 ms, request 1 (250 ms) does not: 1 good request over 1.1 s.
  EXPECT_NEAR(j["request_goodput"].get<double>(), 1 / 1.1, 1e-9);

  const json& l = j["llmbench"];
  EXPECT_EQ(l["model"], "facebook/opt-125m");
  EXPECT_EQ(l["command_line"], "llmbench load --rate 4");
  EXPECT_EQ(l["host"], "testhost");
  EXPECT_EQ(l["partial"], false);
  EXPECT_EQ(l["failures_by_reason"]["http_503"], 1);
  EXPECT_EQ(l["token_count_source"]["server_usage"], 2);
  EXPECT_TRUE(l.contains("git_revision"));
  EXPECT_TRUE(l.contains("version"));
  EXPECT_EQ(l["start_time"].get<std::string>().back(), 'Z');
  EXPECT_TRUE(l["scheduled_latency_ms"]["ttft"].contains("p99.9"));
  EXPECT_TRUE(l["scheduling_lag_ms"].contains("p90"));
  EXPECT_TRUE(l["steady_state"].contains("found"));
  EXPECT_TRUE(l["latency_ms"]["itl_per_token"].contains("mean"));
  EXPECT_FALSE(l["time_series"]["output_tokens"].empty());
}

TEST(ResultJson, ClosedLoopMapsToVllmInfRateWithMaxConcurrency) {
  auto info = sample_info();
  info.mode = loadgen::LoadMode::kClosedLoop;
  info.concurrency = 16;
  info.request_rate = 0;
  const auto records = sample_records();
  const json j = result_json(metrics::summarize(records, info), records, info, false);
  EXPECT_EQ(j["request_rate"], "inf");
  EXPECT_EQ(j["max_concurrency"], 16);
}

TEST(ResultJson, DetailedArraysLikeVllm) {
  const auto records = sample_records();
  const auto info = sample_info();
  const json j = result_json(metrics::summarize(records, info), records, info, true);
  ASSERT_EQ(j["ttfts"].size(), 3u);
  EXPECT_NEAR(j["ttfts"][0].get<double>(), 0.1, 1e-12);  // seconds, as vLLM
  ASSERT_EQ(j["itls"][0].size(), 2u);
  EXPECT_NEAR(j["itls"][0][0].get<double>(), 0.05, 1e-12);
  EXPECT_EQ(j["output_lens"], json({4, 2, 0}));
  EXPECT_EQ(j["input_lens"], json({8, 8, 8}));
  EXPECT_EQ(j["errors"][0], "");
  EXPECT_EQ(j["errors"][2], "Service \"Unavailable\"\n");
  EXPECT_EQ(j["generated_texts"].size(), 3u);
  EXPECT_NEAR(j["start_times"][1].get<double>(), 0.05, 1e-12);
}

TEST(ResultJson, WrittenFileParsesBack) {
  ScratchDir dir("result_json");
  const auto records = sample_records();  // includes invalid UTF-8 output text
  const auto info = sample_info();
  const auto summary = metrics::summarize(records, info);
  const std::string path = (dir.path / "result.json").string();
  write_result_json(path, summary, records, info, true);
  std::ifstream in(path);
  const json j = json::parse(in);
  EXPECT_EQ(j["completed"], 2);
  EXPECT_NEAR(j["duration"].get<double>(), summary.duration_s, 1e-12);
  EXPECT_NEAR(j["p99_e2el_ms"].get<double>(), summary.latency.e2el_ms.at(99), 1e-9);
  EXPECT_NE(j["generated_texts"][1].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_THROW(write_result_json((dir.path / "missing" / "r.json").string(), summary, records, info, false),
               std::runtime_error);
}

TEST(SingleResultJson, HasStatsWithConfidenceIntervals) {
  const auto records = sample_records();
  auto info = sample_info();
  info.scenario = "single";
  const auto single = metrics::summarize_single(records, info);
  const json j = single_result_json(single, info);
  EXPECT_EQ(j["llmbench"]["single"]["trials"], 2);
  EXPECT_TRUE(j["llmbench"]["single"]["ttft_s"].contains("ci_low"));
  EXPECT_NEAR(j["mean_ttft_ms"].get<double>(), 175.0, 1e-9);
  ASSERT_EQ(j["llmbench"]["single"]["trials_detail"]["ttft_s"].size(), 2u);
  EXPECT_NEAR(j["llmbench"]["single"]["trials_detail"]["ttft_s"][1].get<double>(), 0.25, 1e-12);
}

}  // namespace
}  // namespace llmbench::report

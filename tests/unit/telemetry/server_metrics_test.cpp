#include "telemetry/server_metrics.h"

#include <gtest/gtest.h>

#include <map>

#include "test_data.h"

namespace llmbench::telemetry {
namespace {

using testing::read_sample;

std::map<std::string, NormalizedValue> normalized(const std::string& text, ServerKind* kind = nullptr) {
  Exposition e = parse_prometheus_text(text);
  ServerKind detected = detect_server(e);
  if (kind != nullptr) *kind = detected;
  std::map<std::string, NormalizedValue> out;
  for (NormalizedValue& v : normalize(e, detected)) out.emplace(v.name, v);
  return out;
}

TEST(ServerMetrics, VllmV1) {
  ServerKind kind{};
  auto n = normalized(read_sample("vllm_v1.txt"), &kind);
  EXPECT_EQ(kind, ServerKind::kVllm);
  EXPECT_EQ(n.at("kv_cache_usage").value, 0.4375);
  EXPECT_EQ(n.at("kv_cache_usage").source, "vllm:kv_cache_usage_perc");
  EXPECT_EQ(n.at("kv_cache_usage").kind, SeriesKind::kGauge);
  EXPECT_EQ(n.at("requests_running").value, 12);
  EXPECT_EQ(n.at("requests_waiting").value, 3);
  EXPECT_EQ(n.at("preemptions_total").value, 2);
  EXPECT_EQ(n.at("preemptions_total").kind, SeriesKind::kCounter);
  EXPECT_EQ(n.at("prompt_tokens_total").value, 40960);
  EXPECT_EQ(n.at("generation_tokens_total").value, 10240);
  EXPECT_EQ(n.at("spec_decode_drafts_total").value, 4000);
  EXPECT_EQ(n.at("spec_decode_draft_tokens_total").value, 12000);
  EXPECT_EQ(n.at("spec_decode_accepted_tokens_total").value, 7000);
  EXPECT_EQ(n.count("spec_decode_accept_length"), 0u);

  auto per_pos = spec_decode_accepted_per_position(parse_prometheus_text(read_sample("vllm_v1.txt")));
  EXPECT_EQ(per_pos, (std::map<int, double>{{0, 3200}, {1, 2300}, {2, 1500}}));
}

TEST(ServerMetrics, VllmV0FallsBackToGpuCacheUsage) {
  ServerKind kind{};
  auto n = normalized(read_sample("vllm_v0.txt"), &kind);
  EXPECT_EQ(kind, ServerKind::kVllm);
  EXPECT_EQ(n.at("kv_cache_usage").value, 0.91);
  EXPECT_EQ(n.at("kv_cache_usage").source, "vllm:gpu_cache_usage_perc");
  EXPECT_EQ(n.at("requests_running").value, 7);
  EXPECT_EQ(n.at("preemptions_total").value, 14);
  EXPECT_EQ(n.at("spec_decode_accept_rate").value, 0.62);
  EXPECT_EQ(n.at("spec_decode_draft_tokens_total").value, 5000);
  EXPECT_EQ(n.count("spec_decode_drafts_total"), 0u);
}

TEST(ServerMetrics, Sglang) {
  ServerKind kind{};
  auto n = normalized(read_sample("sglang.txt"), &kind);
  EXPECT_EQ(kind, ServerKind::kSglang);
  EXPECT_EQ(n.at("kv_cache_usage").value, 0.28);
  EXPECT_EQ(n.at("requests_running").value, 28);
  EXPECT_EQ(n.at("requests_waiting").value, 5);
  EXPECT_EQ(n.at("prompt_tokens_total").value, 8128902);
  EXPECT_EQ(n.at("generation_tokens_total").value, 7557572);
  EXPECT_EQ(n.at("preemptions_total").value, 3);
  EXPECT_EQ(n.at("spec_decode_accept_length").value, 2.75);
  EXPECT_EQ(n.at("spec_decode_accept_rate").value, 0.58);
}

TEST(ServerMetrics, Tgi) {
  ServerKind kind{};
  auto n = normalized(read_sample("tgi.txt"), &kind);
  EXPECT_EQ(kind, ServerKind::kTgi);
  EXPECT_EQ(n.at("requests_running").value, 32);
  EXPECT_EQ(n.at("requests_waiting").value, 17);
  EXPECT_EQ(n.at("prompt_tokens_total").value, 402118);
  EXPECT_EQ(n.at("generation_tokens_total").value, 171220);
  EXPECT_EQ(n.count("kv_cache_usage"), 0u);  // TGI does not export one
}

TEST(ServerMetrics, LlamaCpp) {
  ServerKind kind{};
  auto n = normalized(read_sample("llamacpp.txt"), &kind);
  EXPECT_EQ(kind, ServerKind::kLlamaCpp);
  EXPECT_EQ(n.at("kv_cache_usage").value, 0.0625);
  EXPECT_EQ(n.at("requests_running").value, 2);
  EXPECT_EQ(n.at("requests_waiting").value, 1);
  EXPECT_EQ(n.at("prompt_tokens_total").value, 6886);
  EXPECT_EQ(n.at("generation_tokens_total").value, 3469);
}

TEST(ServerMetrics, LlamaCppSpeculativeCountersEitherSpelling) {
  auto older = normalized("llamacpp:tokens_drafted_total 90\nllamacpp:tokens_drafted_accepted_total 60\n");
  EXPECT_EQ(older.at("spec_decode_draft_tokens_total").value, 90);
  EXPECT_EQ(older.at("spec_decode_accepted_tokens_total").value, 60);
  auto newer =
      normalized("llamacpp:spec_decode_num_draft_tokens_total 40\nllamacpp:spec_decode_num_accepted_tokens_total 10\n");
  EXPECT_EQ(newer.at("spec_decode_draft_tokens_total").source, "llamacpp:spec_decode_num_draft_tokens_total");
  EXPECT_EQ(newer.at("spec_decode_accepted_tokens_total").value, 10);
}

TEST(ServerMetrics, SeveralEnginesSumCountsAndAverageUsage) {
  auto n = normalized(
      "vllm:kv_cache_usage_perc{engine=\"0\"} 0.2\nvllm:kv_cache_usage_perc{engine=\"1\"} 0.6\n"
      "vllm:num_requests_running{engine=\"0\"} 3\nvllm:num_requests_running{engine=\"1\"} 5\n"
      "vllm:generation_tokens_total{engine=\"0\"} 100\nvllm:generation_tokens_total{engine=\"1\"} NaN\n");
  EXPECT_DOUBLE_EQ(n.at("kv_cache_usage").value, 0.4);
  EXPECT_EQ(n.at("requests_running").value, 8);
  EXPECT_EQ(n.at("generation_tokens_total").value, 100);  // NaN samples are left out
}

TEST(ServerMetrics, UnknownServerHasNoNormalizedSeries) {
  ServerKind kind{};
  auto n = normalized("# TYPE my_gauge gauge\nmy_gauge 3\nprocess_cpu_seconds_total 4\n", &kind);
  EXPECT_EQ(kind, ServerKind::kUnknown);
  EXPECT_TRUE(n.empty());
  EXPECT_STREQ(to_string(ServerKind::kUnknown), "unknown");
}

TEST(ServerMetrics, CatalogCoversEveryNormalizedName) {
  for (const char* name : {"kv_cache_usage", "requests_running", "requests_waiting", "preemptions_total",
                           "prompt_tokens_total", "generation_tokens_total", "spec_decode_drafts_total",
                           "spec_decode_draft_tokens_total", "spec_decode_accepted_tokens_total"}) {
    EXPECT_NE(normalized_series_info(name), nullptr) << name;
  }
}

TEST(SpecDecode, RatesFromDeltasAsVllmDefinesThem) {
  SpecDecodeSummary s = spec_decode_from_deltas(100.0, 300.0, 150.0, {{0, 80.0}, {1, 50.0}, {2, 20.0}});
  ASSERT_TRUE(s.present);
  EXPECT_EQ(s.source, "counters");
  EXPECT_DOUBLE_EQ(*s.acceptance_rate, 0.5);
  EXPECT_DOUBLE_EQ(*s.mean_acceptance_length, 2.5);
  EXPECT_EQ(s.per_position_acceptance_rate, (std::vector<double>{0.8, 0.5, 0.2}));
}

TEST(SpecDecode, NoDraftsMeansNoRates) {
  SpecDecodeSummary idle = spec_decode_from_deltas(0.0, 0.0, 0.0);
  EXPECT_TRUE(idle.present);
  EXPECT_FALSE(idle.acceptance_rate.has_value());
  EXPECT_FALSE(idle.mean_acceptance_length.has_value());
  SpecDecodeSummary absent = spec_decode_from_deltas(std::nullopt, std::nullopt, std::nullopt);
  EXPECT_FALSE(absent.present);
  // llama.cpp has no drafts counter: a rate but no length.
  SpecDecodeSummary no_drafts = spec_decode_from_deltas(std::nullopt, 90.0, 60.0);
  EXPECT_DOUBLE_EQ(*no_drafts.acceptance_rate, 60.0 / 90.0);
  EXPECT_FALSE(no_drafts.mean_acceptance_length.has_value());
}

}  // namespace
}  // namespace llmbench::telemetry

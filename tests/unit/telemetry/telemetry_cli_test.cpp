#include "telemetry/telemetry_cli.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "telemetry/telemetry_recorder.h"

namespace llmbench::telemetry {
namespace {

TEST(TelemetryCli, FlagsFillTheOptions) {
  CLI::App app;
  TelemetryOptions options;
  add_telemetry_flags(app, options);
  app.parse(std::vector<std::string>{"--no-gpu-telemetry", "http://x:1/metrics", "--metrics-url", "0.25",
                                     "--metrics-interval"});  // CLI11 takes arguments in reverse
  EXPECT_EQ(options.interval_ms, 250);
  EXPECT_EQ(options.metrics_url, "http://x:1/metrics");
  EXPECT_FALSE(options.sample_gpu);
  EXPECT_TRUE(options.scrape_server);
}

TEST(TelemetryCli, DefaultsAndRangeCheck) {
  CLI::App app;
  TelemetryOptions options;
  add_telemetry_flags(app, options);
  app.parse(std::vector<std::string>{"--no-server-metrics"});
  EXPECT_EQ(options.interval_ms, 1000);
  EXPECT_FALSE(options.scrape_server);
  CLI::App strict;
  TelemetryOptions other;
  add_telemetry_flags(strict, other);
  EXPECT_THROW(strict.parse(std::vector<std::string>{"0", "--metrics-interval"}), CLI::ValidationError);
  EXPECT_THROW(strict.parse(std::vector<std::string>{"fast", "--metrics-interval"}), CLI::ParseError);
}

TEST(TelemetryCli, SummaryLines) {
  TelemetryRecorder r;
  r.add_scrape(0, parse_prometheus_text("vllm:kv_cache_usage_perc 0.5\nvllm:num_preemptions_total 2\n"), 1);
  r.add_scrape(1, parse_prometheus_text("vllm:kv_cache_usage_perc 0.9\nvllm:num_preemptions_total 5\n"), 1);
  r.set_gpu_devices({GpuDeviceInfo{0, "G", 80ull << 30}});
  GpuSample s;
  s.memory_used_bytes = 40ull << 30;
  s.utilization_pct = 90;
  s.power_w = 600;
  r.add_gpu_sample(0.5, 0, s);
  TelemetryReport report = r.report();
  report.notices.push_back("a notice");
  std::vector<std::string> lines = summary_lines(report);
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  EXPECT_EQ(lines.front(), "a notice");
  EXPECT_NE(all.find("KV cache usage: peak 90%, mean 70%"), std::string::npos) << all;
  EXPECT_NE(all.find("preemptions: 3 during the run"), std::string::npos) << all;
  EXPECT_NE(all.find("GPU 0 (G): memory peak 40.00 GiB of 80.00, utilization mean 90%, power peak 600 W"),
            std::string::npos)
      << all;
  EXPECT_TRUE(summary_lines(TelemetryRecorder().report()).empty());
}

}  // namespace
}  // namespace llmbench::telemetry

#include "report/terminal_summary.h"

#include <gtest/gtest.h>

#include <sstream>

#include "report_test_support.h"

namespace llmbench::report {
namespace {

using namespace testing;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines) {
    if (l.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

TEST(TerminalSummary, VllmLayout) {
  const auto records = sample_records();
  auto info = sample_info();
  info.partial = true;
  info.partial_reason = "interrupted (SIGINT)";
  const std::string text = format_summary(metrics::summarize(records, info), info);
  const auto lines = lines_of(text);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "============ Serving Benchmark Result ============");
  EXPECT_EQ(lines.back(), std::string(50, '='));
  // "{:<40} {:<10}" as vLLM prints it.
  EXPECT_TRUE(has_line(lines, "Successful requests:                     2         "));
  EXPECT_TRUE(has_line(lines, "Failed requests:                         1         "));
  EXPECT_TRUE(has_line(lines, "Benchmark duration (s):                  1.10      "));
  EXPECT_TRUE(has_line(lines, "Request rate configured (RPS):           4.00      "));
  EXPECT_TRUE(has_line(lines, "Request goodput (req/s):"));
  EXPECT_TRUE(has_line(lines, "---------------Time to First Token----------------"));
  EXPECT_TRUE(has_line(lines, "-----Time per Output Token (excl. 1st token)------"));
  EXPECT_TRUE(has_line(lines, "---------------Inter-token Latency----------------"));
  EXPECT_TRUE(has_line(lines, "----------------End-to-end Latency----------------"));
  EXPECT_TRUE(has_line(lines, "Mean TTFT (ms):                          175.00    "));
  EXPECT_TRUE(has_line(lines, "P99.9 TTFT (ms):"));
  EXPECT_TRUE(has_line(lines, "P50 E2EL (ms):"));
  EXPECT_TRUE(has_line(lines, "P99 TTFT from schedule (ms):"));
  // Request 0's 50 ms gap carried 2 tokens: per token 25, 25, 100, and 100 (request 1) -> mean 62.5.
  EXPECT_TRUE(has_line(lines, "Mean ITL per token (ms):                 62.50     "));
  EXPECT_TRUE(has_line(lines, "http_503:                                1"));
  EXPECT_TRUE(has_line(lines, "Partial run: interrupted (SIGINT)"));
  for (const auto& l : lines) {
    if (l.find("---") != std::string::npos || l.find("===") != std::string::npos) {
      EXPECT_EQ(l.size(), 50u) << l;
    }
  }
}

TEST(TerminalSummary, SelectedMetricsOnly) {
  const auto records = sample_records();
  auto info = sample_info();
  info.percentile_metrics = {"ttft"};
  const auto lines = lines_of(format_summary(metrics::summarize(records, info), info));
  EXPECT_TRUE(has_line(lines, "Mean TTFT (ms):"));
  EXPECT_FALSE(has_line(lines, "Mean TPOT (ms):"));
  EXPECT_FALSE(has_line(lines, "Mean E2EL (ms):"));
}

TEST(TerminalSummary, SingleBlockInSeedStyle) {
  const auto records = sample_records();
  auto info = sample_info();
  info.label = "vLLM";
  const auto single = metrics::summarize_single(records, info);
  const auto lines = lines_of(format_single_summary(single));
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "=== vLLM Single Request Benchmark ===");
  EXPECT_EQ(lines[1].rfind("TTFT: 0.1750 sec (median 0.1750, stdev ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("95% CI ["), std::string::npos);
  EXPECT_EQ(lines[2].rfind("Total Latency: ", 0), 0u);
  EXPECT_EQ(lines[3].rfind("Tokens Generated: 3.0", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("Tokens/sec: ", 0), 0u);
  EXPECT_EQ(lines[5], "Failed trials: 1");
}

}  // namespace
}  // namespace llmbench::report

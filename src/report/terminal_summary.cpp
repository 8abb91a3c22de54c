#include "report/terminal_summary.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "report/result_json.h"

namespace llmbench::report {
namespace {

using Buffer = std::string;

// vLLM: "{s:{c}^{n}}".format(s=title, n=50, c=...)
// (Python puts the odd fill character on the right, as this does.)
void rule(Buffer& b, const std::string& title, char fill) {
  const size_t width = 50;
  const size_t pad = title.size() < width ? width - title.size() : 0;
  b.append(pad / 2, fill);
  b += title;
  b.append(pad - pad / 2, fill);
  b += '\n';
}
void line_int(Buffer& b, const std::string& label, int64_t value) {
  fmt::format_to(std::back_inserter(b), "{:<40} {:<10}\n", label, value);
}
void line_f(Buffer& b, const std::string& label, double value) {
  fmt::format_to(std::back_inserter(b), "{:<40} {:<10.2f}\n", label, value);
}
void line_s(Buffer& b, const std::string& label, const std::string& value) {
  fmt::format_to(std::back_inserter(b), "{:<40} {:<10}\n", label, value);
}

// One vLLM metric block: Mean, Median and the user's percentiles.
void metric_block(Buffer& b, const std::string& header, const std::string& name, const metrics::Distribution& d,
                  const std::vector<double>& user_percentiles) {
  rule(b, header, '-');
  line_f(b, fmt::format("Mean {} (ms):", name), d.mean);
  line_f(b, fmt::format("Median {} (ms):", name), d.median);
  for (double p : user_percentiles) line_f(b, fmt::format("P{} {} (ms):", percentile_word(p), name), d.at(p));
}

bool selected(const loadgen::RunInfo& info, const std::string& metric) {
  if (info.percentile_metrics.empty()) return true;
  return std::find(info.percentile_metrics.begin(), info.percentile_metrics.end(), metric) !=
         info.percentile_metrics.end();
}

void single_line(Buffer& b, const char* name, const metrics::SampleStats& s, const char* unit, int digits) {
  auto it = std::back_inserter(b);
  const std::string u = unit[0] != '\0' ? fmt::format(" {}", unit) : std::string();
  fmt::format_to(it, "{}: {:.{}f}{}", name, s.mean, digits, u);
  if (s.count >= 2) {
    fmt::format_to(it, " (median {:.{}f}, stdev {:.{}f}, {:.0f}% CI [{:.{}f}, {:.{}f}], n={})", s.median, digits,
                   s.stdev, digits, s.ci_level * 100, s.ci_low, digits, s.ci_high, digits, s.count);
  } else {
    fmt::format_to(it, " (n={})", s.count);
  }
  b += '\n';
}

}  // namespace

std::string format_summary(const metrics::Summary& s, const loadgen::RunInfo& info) {
  Buffer b;
  rule(b, " Serving Benchmark Result ", '=');
  line_int(b, "Successful requests:", s.completed);
  line_int(b, "Failed requests:", s.failed);
  const int32_t max_concurrency = info.mode == loadgen::LoadMode::kClosedLoop ? info.concurrency : info.max_concurrency;
  if (max_concurrency > 0) line_int(b, "Maximum request concurrency:", max_concurrency);
  if (info.mode == loadgen::LoadMode::kOpenLoop && std::isfinite(info.request_rate) && info.request_rate > 0) {
    line_f(b, "Request rate configured (RPS):", info.request_rate);
  }
  line_f(b, "Benchmark duration (s):", s.duration_s);
  line_int(b, "Total input tokens:", s.total_input_tokens);
  line_int(b, "Total generated tokens:", s.total_output_tokens);
  line_f(b, "Request throughput (req/s):", s.request_throughput);
  if (s.has_goodput) line_f(b, "Request goodput (req/s):", s.request_goodput);
  line_f(b, "Output token throughput (tok/s):", s.output_throughput);
  line_f(b, "Peak output token throughput (tok/s):", s.max_output_tokens_per_s);
  line_f(b, "Peak concurrent requests:", static_cast<double>(s.max_concurrent_requests));
  line_f(b, "Total token throughput (tok/s):", s.total_token_throughput);
  const auto& ps = s.user_percentiles;
  if (selected(info, "ttft")) metric_block(b, "Time to First Token", "TTFT", s.latency.ttft_ms, ps);
  if (selected(info, "tpot")) {
    metric_block(b, "Time per Output Token (excl. 1st token)", "TPOT", s.latency.tpot_ms, ps);
  }
  if (selected(info, "itl")) metric_block(b, "Inter-token Latency", "ITL", s.latency.itl_ms, ps);
  if (selected(info, "e2el")) metric_block(b, "End-to-end Latency", "E2EL", s.latency.e2el_ms, ps);

  // llmbench's own lines.
  rule(b, "Token Delivery", '-');
  line_f(b, "Input token throughput (tok/s):", s.input_throughput);
  line_f(b, "Mean ITL per token (ms):", s.itl_per_token_ms.mean);
  for (double p : ps) {
    line_f(b, fmt::format("P{} ITL per token (ms):", percentile_word(p)), s.itl_per_token_ms.at(p));
  }
  line_f(b, "Mean tokens per event:", s.tokens_per_event.mean);
  rule(b, "From Scheduled Send (CO-corrected)", '-');
  line_f(b, "Mean TTFT from schedule (ms):", s.ttft_scheduled_ms.mean);
  for (double p : ps)
    line_f(b, fmt::format("P{} TTFT from schedule (ms):", percentile_word(p)), s.ttft_scheduled_ms.at(p));
  line_f(b, "Mean E2EL from schedule (ms):", s.e2el_scheduled_ms.mean);
  for (double p : ps)
    line_f(b, fmt::format("P{} E2EL from schedule (ms):", percentile_word(p)), s.e2el_scheduled_ms.at(p));
  line_f(b, "Mean scheduling lag (ms):", s.scheduling_lag_ms.mean);
  for (double p : ps) line_f(b, fmt::format("P{} scheduling lag (ms):", percentile_word(p)), s.scheduling_lag_ms.at(p));
  line_f(b, "Max scheduling lag (ms):", s.scheduling_lag_ms.max);
  if (s.has_goodput) line_f(b, "Request goodput from schedule (req/s):", s.request_goodput_scheduled);

  rule(b, "Steady State", '-');
  const auto& ss = s.steady_state;
  if (ss.found) {
    line_s(b, "Window (s from start):", fmt::format("{:.2f} - {:.2f}", ss.start_s, ss.end_s));
    line_int(b, "Requests inside the window:", ss.requests);
    line_f(b, "Mean in-flight requests:", ss.mean_concurrency);
    line_f(b, "Request throughput (req/s):", ss.request_throughput);
    line_f(b, "Output token throughput (tok/s):", ss.output_throughput);
    line_f(b, "Median TTFT (ms):", ss.latency.ttft_ms.median);
    for (double p : ps) line_f(b, fmt::format("P{} TTFT (ms):", percentile_word(p)), ss.latency.ttft_ms.at(p));
    line_f(b, "Median TPOT (ms):", ss.latency.tpot_ms.median);
    line_f(b, "Median ITL (ms):", ss.latency.itl_ms.median);
    line_f(b, "Median E2EL (ms):", ss.latency.e2el_ms.median);
  } else {
    line_s(b, "Steady state:", "none");
    fmt::format_to(std::back_inserter(b), "  ({})\n", ss.reason);
  }

  if (s.failed > 0 || s.cancelled > 0 || s.warmup_requests > 0) {
    rule(b, "Failures by Reason", '-');
    for (const auto& f : s.failures) line_int(b, f.kind + ":", f.count);
    if (s.cancelled > 0) line_int(b, "Cancelled (not counted as failed):", s.cancelled);
    if (s.warmup_requests > 0) line_int(b, "Warm-up requests (excluded):", s.warmup_requests);
  }
  if (info.partial || !s.warnings.empty()) {
    rule(b, "Warnings", '-');
    if (info.partial) {
      fmt::format_to(std::back_inserter(b), "Partial run: {}\n",
                     info.partial_reason.empty() ? std::string("stopped early") : info.partial_reason);
    }
    for (const auto& w : s.warnings) fmt::format_to(std::back_inserter(b), "{}\n", w);
  }
  b += std::string(50, '=');
  b += '\n';
  return b;
}

void print_summary(std::FILE* out, const metrics::Summary& summary, const loadgen::RunInfo& info) {
  const std::string text = format_summary(summary, info);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

std::string format_single_summary(const metrics::SingleSummary& single) {
  Buffer b;
  fmt::format_to(std::back_inserter(b), "=== {} Single Request Benchmark ===\n", single.label);
  single_line(b, "TTFT", single.ttft_s, "sec", 4);
  single_line(b, "Total Latency", single.latency_s, "sec", 4);
  single_line(b, "Tokens Generated", single.tokens, "", 1);
  single_line(b, "Tokens/sec", single.tokens_per_s, "", 2);
  if (single.failed > 0) fmt::format_to(std::back_inserter(b), "Failed trials: {}\n", single.failed);
  return b;
}

void print_single_summary(std::FILE* out, const metrics::SingleSummary& single) {
  const std::string text = format_single_summary(single);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace llmbench::report

#pragma once
// Terminal summaries: the `vllm bench serve` result block (same labels and layout, so numbers can
// be compared line by line) followed by llmbench's own lines, and the `single` block.
#include <cstdio>
#include <string>

#include "loadgen/run_info.h"
#include "metrics/summary.h"

namespace llmbench::report {

// "============ Serving Benchmark Result ============" ... "==================================".
std::string format_summary(const metrics::Summary& summary, const loadgen::RunInfo& info);
void print_summary(std::FILE* out, const metrics::Summary& summary, const loadgen::RunInfo& info);

// "=== <label> Single Request Benchmark ===" with TTFT, Total Latency, Tokens Generated and
// Tokens/sec, each as mean with median, stdev and confidence interval.
std::string format_single_summary(const metrics::SingleSummary& single);
void print_single_summary(std::FILE* out, const metrics::SingleSummary& single);

}  // namespace llmbench::report

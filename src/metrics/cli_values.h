#pragma once
// Parsing the command-line values that shape summaries, with vLLM's syntax and clear errors:
// --metric-percentiles "25,50,99.9" and --goodput ttft:500 tpot:50 e2el:2000.
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/run_info.h"

namespace llmbench::metrics {

// "99" or "25,50,99.9" -> {99} / {25, 50, 99.9}. Throws std::invalid_argument naming the bad item
// (not a number, outside [0, 100], empty).
std::vector<double> parse_metric_percentiles(std::string_view text);

// {"ttft:500", "tpot:50"} (milliseconds). Metric names: ttft, tpot, e2el (vLLM's) and itl (every
// inter-chunk gap of a request). Throws std::invalid_argument for a malformed pair, an unknown name,
// a negative or non-finite value, or a repeated name.
std::vector<loadgen::GoodputSlo> parse_goodput(const std::vector<std::string>& pairs);

// "ttft,tpot,itl" -> names; each must be one of ttft, tpot, itl, e2el (vLLM's --percentile-metrics).
std::vector<std::string> parse_percentile_metrics(std::string_view text);

}  // namespace llmbench::metrics

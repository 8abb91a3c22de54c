#pragma once
// --num-runs: the same scenario run N times, each metric summarized across runs by its mean and
// a Student-t 95% confidence interval (metrics/statistics.h), in the terminal and in the result
// JSON as llmbench.repetitions.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llmbench::app {

// True for the result keys summarized across runs: vLLM's latency (_ms), throughput, goodput,
// duration and count fields. Run settings (request_rate, num_prompts, ...) are not.
bool is_repeated_metric(const std::string& key);

// {"runs": N, "ci_level": 0.95, "metrics": {key: {mean, stdev, ci95_low, ci95_high, min, max,
// values: [...]}}} over the numeric metric keys present in every run document.
nlohmann::json repetitions_json(const std::vector<nlohmann::json>& run_documents);

// A terminal table: metric, mean, 95% CI, stdev, min, max.
std::string format_repetitions(const nlohmann::json& repetitions);

}  // namespace llmbench::app

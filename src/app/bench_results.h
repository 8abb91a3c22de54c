#pragma once
// Where `single` and `load` hand a finished run to metrics (src/metrics) and reports (src/report):
// the terminal summary, the result JSON and the per-request JSONL. The only file of the bench
// commands that calls those modules.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/bench_options.h"
#include "loadgen/request_record.h"
#include "loadgen/run_info.h"

namespace llmbench::app {

struct BenchResultFiles {
  std::string result_json;     // written result path, empty if none
  std::string requests_jsonl;  // written JSONL path, empty if none
};

// Prints the summary to stdout and writes the requested files. Throws std::runtime_error on I/O
// errors (after printing what it could).
// `telemetry` (server /metrics and GPU series; null when not collected) goes into the result JSON
// as llmbench.telemetry.
BenchResultFiles report_bench_run(const BenchPlan& plan, const std::vector<loadgen::RequestRecord>& records,
                                  const loadgen::RunInfo& info, const nlohmann::json& telemetry);

}  // namespace llmbench::app

#pragma once
#include <nlohmann/json.hpp>
// `llmbench single` (Benchmark 1: sequential trials, one request at a time) and `llmbench load`
// (Benchmark 2: closed- or open-loop load). Flags: app/bench_options.h.
#include <CLI/CLI.hpp>
#include <vector>

#include "app/bench_options.h"
#include "loadgen/request_record.h"
#include "loadgen/run_info.h"
#include "workload/request_spec.h"

namespace llmbench::app {

void add_single_command(CLI::App& app);
void add_load_command(CLI::App& app);

// One run of a resolved plan (used by single, load and sweep): SIGINT/SIGTERM stop it gracefully
// (in-flight requests drain, the result is partial); progress on stderr. Throws UsageError when
// the runner rejects the options.
struct BenchRunResult {
  std::vector<loadgen::RequestRecord> records;
  loadgen::RunInfo info;     // plan.info plus how the run went (start/end, partial)
  bool interrupted = false;  // a stop signal arrived
  nlohmann::json telemetry;  // llmbench.telemetry: server /metrics and GPU series (null if not collected)
};
BenchRunResult execute_bench_run(const BenchPlan& plan, const std::vector<workload::RequestSpec>& specs);

}  // namespace llmbench::app

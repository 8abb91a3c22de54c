#include "app/bench_results.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "metrics/summary.h"
#include "report/requests_jsonl.h"
#include "report/result_json.h"
#include "report/terminal_summary.h"

namespace llmbench::app {

BenchResultFiles report_bench_run(const BenchPlan& plan, const std::vector<loadgen::RequestRecord>& records,
                                  const loadgen::RunInfo& info, const nlohmann::json& telemetry) {
  BenchResultFiles files;
  std::string result_path;
  if (plan.save_result) {
    const std::string name = plan.result_filename.empty() ? default_result_filename(info) : plan.result_filename;
    result_path = plan.result_dir.empty() ? name : plan.result_dir + "/" + name;
  }
  if (plan.scenario == BenchScenario::kSingle) {
    const auto single = metrics::summarize_single(records, info);
    report::print_single_summary(stdout, single);
    if (!result_path.empty()) {
      nlohmann::json document = report::single_result_json(single, info);
      if (!telemetry.is_null()) document["llmbench"]["telemetry"] = telemetry;
      report::write_json_file(result_path, document);
      files.result_json = result_path;
    }
  } else {
    const auto summary = metrics::summarize(records, info);
    report::print_summary(stdout, summary, info);
    if (!result_path.empty()) {
      nlohmann::json document = report::result_json(summary, records, info, plan.save_detailed);
      if (!telemetry.is_null()) document["llmbench"]["telemetry"] = telemetry;
      report::write_json_file(result_path, document);
      files.result_json = result_path;
    }
  }
  std::fflush(stdout);
  if (!plan.save_requests_path.empty()) {
    report::write_requests_jsonl(plan.save_requests_path, records, info);
    files.requests_jsonl = plan.save_requests_path;
  }
  return files;
}

}  // namespace llmbench::app

#include "app/bench_results.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "metrics/statistics.h"
#include "metrics/summary.h"
#include "report/requests_jsonl.h"
#include "report/result_json.h"
#include "report/terminal_summary.h"

namespace llmbench::app {
namespace {

// --backend exec: how long each request's first token took from the adapter's own stamp to
// llmbench's receive stamp (pipe, JSON and the adapter's Python), over the measured requests.
// Null when the target reported no stamps.
nlohmann::json adapter_delay_json(const std::vector<loadgen::RequestRecord>& records) {
  std::vector<double> delays_ms;
  for (const auto& r : records) {
    if (r.warmup || r.server_ttft_ns <= 0 || r.first_token_ns <= 0 || r.sent_ns <= 0) continue;
    delays_ms.push_back(static_cast<double>(r.first_token_ns - r.sent_ns - r.server_ttft_ns) / 1e6);
  }
  if (delays_ms.empty()) return nullptr;
  std::sort(delays_ms.begin(), delays_ms.end());
  const double mean = std::accumulate(delays_ms.begin(), delays_ms.end(), 0.0) / static_cast<double>(delays_ms.size());
  return {{"definition", "llmbench first-token receive stamp minus the adapter's first-token stamp (same clock)"},
          {"requests", delays_ms.size()},
          {"mean_ms", mean},
          {"median_ms", metrics::percentile_sorted(delays_ms, 50)},
          {"p99_ms", metrics::percentile_sorted(delays_ms, 99)},
          {"max_ms", delays_ms.back()}};
}

}  // namespace

BenchResultFiles report_bench_run(const BenchPlan& plan, const std::vector<loadgen::RequestRecord>& records,
                                  const loadgen::RunInfo& info, const nlohmann::json& telemetry) {
  BenchResultFiles files;
  const nlohmann::json delay = adapter_delay_json(records);
  auto add_extras = [&](nlohmann::json& document) {
    if (!telemetry.is_null()) document["llmbench"]["telemetry"] = telemetry;
    if (!delay.is_null()) document["llmbench"]["adapter_output_delay"] = delay;
  };
  auto print_delay = [&] {
    if (delay.is_null()) return;
    fmt::print("Adapter output delay, first token (llmbench receive - adapter stamp): mean {:.3f} ms, p99 {:.3f} ms\n",
               delay["mean_ms"].get<double>(), delay["p99_ms"].get<double>());
  };
  std::string result_path;
  if (plan.save_result) {
    const std::string name = plan.result_filename.empty() ? default_result_filename(info) : plan.result_filename;
    result_path = plan.result_dir.empty() ? name : plan.result_dir + "/" + name;
  }
  if (plan.scenario == BenchScenario::kSingle) {
    const auto single = metrics::summarize_single(records, info);
    report::print_single_summary(stdout, single);
    print_delay();
    if (!result_path.empty()) {
      nlohmann::json document = report::single_result_json(single, info);
      add_extras(document);
      report::write_json_file(result_path, document);
      files.result_json = result_path;
    }
  } else {
    const auto summary = metrics::summarize(records, info);
    report::print_summary(stdout, summary, info);
    print_delay();
    if (!result_path.empty()) {
      nlohmann::json document = report::result_json(summary, records, info, plan.save_detailed);
      add_extras(document);
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

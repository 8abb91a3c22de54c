#pragma once
// The result JSON: the keys of `vllm bench serve --save-result` wherever a metric is the same (so
// existing dashboards and scripts read it), plus everything else under the "llmbench" key.
// Field list and units: docs/metrics.md ("Result JSON").
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "loadgen/request_record.h"
#include "loadgen/run_info.h"
#include "metrics/summary.h"

namespace llmbench::report {

// vLLM's percentile key word: 99 -> "99", 99.9 -> "99.9" (Python's str(int(p)) if p is integral,
// else str(p)).
std::string percentile_word(double p);

// The result document. `detailed` adds vLLM's --save-detailed per-request arrays (input_lens,
// output_lens, ttfts, itls, latencies, start_times, generated_texts, errors) in record order.
nlohmann::json result_json(const metrics::Summary& summary, const std::vector<loadgen::RequestRecord>& records,
                           const loadgen::RunInfo& info, bool detailed);

// The `single` scenario's document: run metadata plus mean/median/stdev/CI per quantity.
nlohmann::json single_result_json(const metrics::SingleSummary& single, const loadgen::RunInfo& info);

// Writes result_json(...) atomically (report/atomic_file.h), pretty-printed. Throws std::runtime_error
// with the path and reason when the file cannot be written.
void write_result_json(const std::string& path, const metrics::Summary& summary,
                       const std::vector<loadgen::RequestRecord>& records, const loadgen::RunInfo& info, bool detailed);
void write_json_file(const std::string& path, const nlohmann::json& document);

// Metadata shared by both documents (version, git revision, command line, host, start time, ...).
nlohmann::json run_metadata_json(const loadgen::RunInfo& info);

// ISO-8601 UTC with milliseconds ("2026-11-27T20:51:58.123Z") for Unix-epoch nanoseconds.
std::string iso8601_utc(int64_t wall_ns);

}  // namespace llmbench::report

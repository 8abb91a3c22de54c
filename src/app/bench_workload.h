#pragma once
// The workload side of `single`, `load` and `sweep`: the tokenizer and dataset behind a BenchPlan
// turned into request bodies before the clock starts, and the extra result-JSON sections that
// describe them (llmbench.workload) and repeated runs (llmbench.repetitions).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/bench_options.h"
#include "loadgen/request_record.h"
#include "loadgen/run_info.h"
#include "tokenizer/tokenizer.h"
#include "workload/request_spec.h"

namespace llmbench::app {

struct PreparedWorkload {
  std::vector<workload::RequestSpec> specs;
  nlohmann::json description;  // llmbench.workload (null for a fixed --prompt)
  std::string summary_line;    // one line for the terminal (empty for a fixed --prompt)
};

// --tokenizer: a model folder (tokenizer.json or vocab.json + merges.txt) or a tokenizer.json;
// empty: GPT-2's built-in vocabulary. Throws UsageError when the path cannot be loaded.
std::shared_ptr<const tokenizer::Tokenizer> load_bench_tokenizer(const std::string& path);

// Loads the dataset and builds every body. With --trace-replay it also sets the plan's open-loop
// schedule to the trace's offsets and its request count to the trace's length. Throws UsageError
// (bad flags, unreadable or rejected dataset files).
PreparedWorkload prepare_bench_workload(BenchPlan& plan);

// The result document of one finished run (the same one --save-result writes).
nlohmann::json bench_result_document(const BenchPlan& plan, const std::vector<loadgen::RequestRecord>& records,
                                     const loadgen::RunInfo& info);

// Adds document["llmbench"][key] = value to a written result file (atomically rewritten).
void add_to_result_file(const std::string& path, const std::string& key, const nlohmann::json& value);

// The result path --save-result uses for this run ("" when not saving).
std::string bench_result_path(const BenchPlan& plan, const loadgen::RunInfo& info);

}  // namespace llmbench::app

#pragma once
// Finding and reading result JSON files written by `llmbench single|load|sweep` (or by
// `vllm bench serve`, whose field names ours follow) for `compare` and `report`.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llmbench::report {

struct ResultFile {
  std::string path;
  std::string name;  // file stem, used when the result has no label
  nlohmann::json result;
};

// Expands folders (recursively, *.json in sorted order) and reads every result. A file that is not
// valid JSON or not a benchmark result throws std::runtime_error naming it, unless it was found by
// expanding a folder, where it is skipped.
std::vector<ResultFile> load_result_files(const std::vector<std::string>& paths);

// The run's display name: its label, else the file stem.
std::string run_label(const ResultFile& file);

}  // namespace llmbench::report

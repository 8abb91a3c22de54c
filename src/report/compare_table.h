#pragma once
// `llmbench compare`: a table in the seed README's shape (approach, TTFT, tokens/s, notes),
// extended with TPOT, ITL and E2E percentiles, request throughput, failures, peak KV cache and GPU
// memory, with each number's change against the first run.
#include <string>
#include <vector>

#include "report/result_files.h"

namespace llmbench::report {

enum class TableFormat { kMarkdown, kText };

std::string render_compare_table(const std::vector<ResultFile>& runs, TableFormat format, bool show_deltas = true);

}  // namespace llmbench::report

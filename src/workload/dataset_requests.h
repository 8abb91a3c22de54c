#pragma once
// Turns a loaded Dataset into ready-to-send RequestSpecs for one API backend, and describes what
// was built (requested vs achieved prompt lengths) for the run output and result JSON.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "workload/api_backend.h"
#include "workload/dataset.h"
#include "workload/request_body.h"
#include "workload/request_spec.h"

namespace llmbench::workload {

// One body per item. Chat backends get the item's messages (or its prompt as one user message);
// completions get token ids when the item has them, else text (messages joined by newlines); TGI
// gets text (token ids are decoded with the tokenizer). Each item's max_tokens replaces
// base.max_tokens. Throws std::invalid_argument on a bad --extra-body.
std::vector<RequestSpec> build_dataset_requests(const Dataset& dataset, ApiBackend backend, const std::string& endpoint,
                                                const BodyOptions& base, const tokenizer::Tokenizer& tokenizer);

// Offsets from the first request for trace replay: timestamp_i - timestamp_0 in ns. Empty when the
// items carry no timestamps.
std::vector<int64_t> trace_offsets_ns(const Dataset& dataset);

// {"dataset_name", "num_items", "input_len_counted_by" ("local tokenizer" or "server"),
//  "requested_input_len", "achieved_input_len_mean/min/max",
//  "exact_input_len_fraction", "output_len_mean/min/max", "skipped_lines", "bad_lines": [...], ...}
nlohmann::json describe_dataset(const Dataset& dataset, const DatasetOptions& options,
                                const std::string& tokenizer_name);

// One line for the terminal, e.g. "Dataset: random, 100 prompts, input 1024 tokens requested,
// input 1024.0 tokens achieved (min 1024, max 1024; counted by local tokenizer), output 128.0 ...".
std::string dataset_summary_line(const Dataset& dataset, const DatasetOptions& options);

}  // namespace llmbench::workload

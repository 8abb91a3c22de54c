#pragma once
// One request of a workload, fully built before the benchmark clock starts.
#include <cstdint>
#include <string>

namespace llmbench::workload {

struct RequestSpec {
  std::string body;                // the exact HTTP body to send (JSON)
  std::string target;              // path + query, e.g. "/v1/completions"
  int32_t prompt_tokens_sent = 0;  // prompt length as built by llmbench (0 = unknown, e.g. text prompts)
  int32_t max_tokens = 0;          // requested output tokens
};

}  // namespace llmbench::workload

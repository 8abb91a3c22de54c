#pragma once
// Request bodies for each API backend, built once before the run.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "workload/api_backend.h"

namespace llmbench::workload {

struct BodyOptions {
  std::string model;
  int32_t max_tokens = 128;
  bool ignore_eos = false;
  std::optional<double> temperature;
  std::optional<uint64_t> seed;
  std::string extra_body_json;  // JSON object merged last (overrides)
  bool stream_usage = true;
};

using Prompt = std::variant<std::string, std::vector<int32_t>>;

// Throws std::invalid_argument when the prompt kind does not fit the backend or extra_body is bad.
std::string build_request_body(ApiBackend backend, const Prompt& prompt, const BodyOptions& options);

}  // namespace llmbench::workload

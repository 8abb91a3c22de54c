#pragma once
// Maps each inference server's own /metrics names onto one set of normalized series, so that a
// vLLM run and an SGLang run report "kv_cache_usage" the same way. The tables and their sources
// are in server_metrics.cpp; docs/telemetry.md lists them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/prometheus_parser.h"

namespace llmbench::telemetry {

enum class ServerKind : uint8_t { kUnknown, kVllm, kSglang, kTgi, kLlamaCpp };
const char* to_string(ServerKind kind);

enum class SeriesKind : uint8_t { kGauge, kCounter };
const char* to_string(SeriesKind kind);

// Normalized series names.
namespace series {
inline constexpr std::string_view kKvCacheUsage = "kv_cache_usage";  // 0..1
inline constexpr std::string_view kRequestsRunning = "requests_running";
inline constexpr std::string_view kRequestsWaiting = "requests_waiting";
inline constexpr std::string_view kPreemptionsTotal = "preemptions_total";
inline constexpr std::string_view kPromptTokensTotal = "prompt_tokens_total";
inline constexpr std::string_view kGenerationTokensTotal = "generation_tokens_total";
inline constexpr std::string_view kSpecDecodeDraftsTotal = "spec_decode_drafts_total";
inline constexpr std::string_view kSpecDecodeDraftTokensTotal = "spec_decode_draft_tokens_total";
inline constexpr std::string_view kSpecDecodeAcceptedTokensTotal = "spec_decode_accepted_tokens_total";
inline constexpr std::string_view kSpecDecodeAcceptLength = "spec_decode_accept_length";  // server's gauge
inline constexpr std::string_view kSpecDecodeAcceptRate = "spec_decode_accept_rate";      // server's gauge
}  // namespace series

struct NormalizedSeriesInfo {
  std::string_view name;
  SeriesKind kind;
  std::string_view unit;
  std::string_view description;
};
// Every normalized series, in report order.
const std::vector<NormalizedSeriesInfo>& normalized_series_catalog();
const NormalizedSeriesInfo* normalized_series_info(std::string_view name);

// The server that produced an exposition, from its metric name prefixes (vllm:, sglang:, tgi_,
// llamacpp:). llmbench serve exposes vLLM's names and is reported as vLLM.
ServerKind detect_server(const Exposition& exposition);

struct NormalizedValue {
  std::string name;    // one of series::*
  SeriesKind kind;     //
  double value = 0.0;  // summed over label sets (engines, models), or averaged for ratios
  std::string source;  // the server's metric name it came from
};

// The normalized values present in one scrape of `server`. Missing series are simply absent.
std::vector<NormalizedValue> normalize(const Exposition& exposition, ServerKind server);

// vLLM's vllm:spec_decode_num_accepted_tokens_per_pos counter, summed over engines, by position.
std::map<int, double> spec_decode_accepted_per_position(const Exposition& exposition);

// Speculative-decoding quality over a run, from counter increases (vLLM, llama.cpp) or, where a
// server only exports gauges (SGLang), from their means.
struct SpecDecodeSummary {
  bool present = false;
  std::string source;  // "counters" or "gauges"
  std::optional<double> drafts;
  std::optional<double> draft_tokens;
  std::optional<double> accepted_tokens;
  std::optional<double> acceptance_rate;             // accepted / draft tokens
  std::optional<double> mean_acceptance_length;      // 1 + accepted / drafts (the bonus token included)
  std::vector<double> per_position_acceptance_rate;  // accepted at position i / drafts
};

// As vLLM defines them (vllm/v1/spec_decode/metrics.py): acceptance rate = accepted/draft tokens,
// mean acceptance length = 1 + accepted/drafts. Deltas are counter increases over the run.
SpecDecodeSummary spec_decode_from_deltas(std::optional<double> drafts, std::optional<double> draft_tokens,
                                          std::optional<double> accepted_tokens,
                                          const std::map<int, double>& accepted_per_position = {});

}  // namespace llmbench::telemetry

#pragma once
// The telemetry flags every benchmarking subcommand shares, so that their names and meaning stay
// the same everywhere, and a short console summary of a TelemetryReport.
#include <string>
#include <vector>

#include "telemetry/telemetry_collector.h"

namespace CLI {
class App;
}

namespace llmbench::telemetry {

// Adds --metrics-interval SECONDS, --metrics-url URL, --no-server-metrics, --no-gpu-telemetry,
// --nvml-library PATH to `app`, writing into `options` (which must outlive parsing).
void add_telemetry_flags(CLI::App& app, TelemetryOptions& options);

// A few lines for the console: notices, then peak/mean of the normalized series, counter deltas,
// speculative decoding and per-GPU peaks. Empty when there is nothing to say.
std::vector<std::string> summary_lines(const TelemetryReport& report);

}  // namespace llmbench::telemetry

#pragma once
// What telemetry produced over one benchmark run: server metrics scraped from /metrics (normalized
// and raw), speculative-decoding quality, and GPU readings from NVML. to_json() gives the object
// that the result file embeds under llmbench.telemetry; docs/telemetry.md describes it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "telemetry/prometheus_parser.h"
#include "telemetry/server_metrics.h"
#include "telemetry/time_series.h"

namespace llmbench::telemetry {

struct SeriesReport {
  SeriesKind kind = SeriesKind::kGauge;
  std::string unit;
  std::string source;  // normalized: the server's metric name; raw: empty
  std::vector<SeriesPoint> points;
  bool decimated = false;  // points thinned to stay within the point cap (statistics stay exact)
  size_t samples = 0;
  std::optional<double> min, max, mean, first, last;
  // Counters: increase over the run (resets handled) and how many resets were seen.
  std::optional<double> delta;
  size_t resets = 0;

  static SeriesReport from(const TimeSeries& series, SeriesKind kind);
};

struct GpuReport {
  unsigned index = 0;
  std::string name;
  std::optional<uint64_t> memory_total_bytes;
  SeriesReport memory_used_bytes;
  SeriesReport utilization_pct;
  SeriesReport memory_utilization_pct;
  SeriesReport power_w;
  size_t errors = 0;
  std::string last_error;
};

struct ScrapeStats {
  size_t attempts = 0;
  size_t successes = 0;
  size_t failures = 0;
  size_t skipped = 0;  // ticks missed because the previous scrape was still running
  std::string last_error;
  size_t parse_issues = 0;                     // malformed lines over every scrape
  std::vector<ParseIssue> first_parse_issues;  // the first few, for the report
  double mean_duration_ms = 0.0;
  double max_duration_ms = 0.0;
};

struct TelemetryReport {
  // Server side.
  bool server_enabled = false;
  std::string metrics_url;
  bool metrics_available = false;  // at least one scrape succeeded
  ServerKind server = ServerKind::kUnknown;
  std::map<std::string, SeriesReport> normalized;  // by normalized name
  std::map<std::string, SeriesReport> raw;         // by series key, name{labels}
  bool raw_capped = false;                         // more series than the cap: the rest were not kept
  size_t raw_series_dropped = 0;
  SpecDecodeSummary spec_decode;
  ScrapeStats scrapes;

  // GPU side.
  bool gpu_enabled = false;
  bool gpu_available = false;
  std::string gpu_unavailable_reason;
  std::vector<GpuReport> gpus;

  double duration_s = 0.0;           // from run start to the last reading
  std::vector<std::string> notices;  // one line each, for the console ("no /metrics at ...")

  nlohmann::json to_json() const;
};

}  // namespace llmbench::telemetry

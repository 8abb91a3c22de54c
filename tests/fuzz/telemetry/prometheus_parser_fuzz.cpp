// Fuzzes parse_prometheus_text and what consumes its output (normalization, the recorder, the
// JSON report): no input may crash, hang or break the parser's own invariants.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "telemetry/prometheus_parser.h"
#include "telemetry/server_metrics.h"
#include "telemetry/telemetry_recorder.h"

using namespace llmbench::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Exposition e = parse_prometheus_text(text, ParseOptions{16});
  if (e.issues.size() > 16) std::abort();
  size_t last_line = 0;
  for (const Sample& s : e.samples) {
    if (!is_valid_metric_name(s.name)) std::abort();
    for (const Label& l : s.labels) {
      if (!is_valid_label_name(l.name)) std::abort();
    }
    if (s.line < last_line || s.line == 0 || s.line > e.lines) std::abort();
    last_line = s.line;
    // A series key parses back to the same series.
    Exposition again = parse_prometheus_text(series_key(s.name, s.labels) + " 1\n");
    if (again.samples.size() != 1 ||
        series_key(again.samples[0].name, again.samples[0].labels) != series_key(s.name, s.labels)) {
      std::abort();
    }
  }
  for (const ParseIssue& i : e.issues) {
    if (i.line == 0 || i.line > e.lines || i.reason.empty()) std::abort();
  }
  RecorderOptions options;
  options.max_raw_series = 64;
  options.max_points_per_series = 8;
  TelemetryRecorder recorder(options);
  recorder.add_scrape(0.0, e, 1.0);
  recorder.add_scrape(1.0, e, 1.0);
  std::string json = recorder.report().to_json().dump();
  if (json.empty()) std::abort();
  return 0;
}

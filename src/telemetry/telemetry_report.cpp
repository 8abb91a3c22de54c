#include "telemetry/telemetry_report.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

namespace llmbench::telemetry {
namespace {

using nlohmann::json;

// Text from a server (label values, metric types, error details) may be any bytes, and
// nlohmann::json refuses to dump invalid UTF-8: replace each invalid sequence with U+FFFD.
std::string utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80                   ? 1
                 : (c >= 0xC2 && c <= 0xDF) ? 2
                 : (c >= 0xE0 && c <= 0xEF) ? 3
                 : (c >= 0xF0 && c <= 0xF4) ? 4
                                            : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    if (ok && len >= 3) {
      unsigned char c1 = static_cast<unsigned char>(in[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) ok = false;  // overlong
      if (c == 0xED && c1 > 0x9F) ok = false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) ok = false;  // overlong
      if (c == 0xF4 && c1 > 0x8F) ok = false;  // above U+10FFFF
    }
    if (ok) {
      out.append(in.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

json number_or_null(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

json series_json(const SeriesReport& s, bool with_points = true) {
  json out;
  out["kind"] = to_string(s.kind);
  if (!s.unit.empty()) out["unit"] = s.unit;
  if (!s.source.empty()) out["source"] = utf8(s.source);
  out["samples"] = s.samples;
  if (s.kind == SeriesKind::kCounter) {
    out["delta"] = number_or_null(s.delta);
    out["resets"] = s.resets;
    out["first"] = number_or_null(s.first);
    out["last"] = number_or_null(s.last);
  } else {
    out["peak"] = number_or_null(s.max);
    out["mean"] = number_or_null(s.mean);
    out["min"] = number_or_null(s.min);
    out["last"] = number_or_null(s.last);
  }
  if (with_points) {
    json points = json::array();
    for (const SeriesPoint& p : s.points) {
      points.push_back(json::array({p.t_s, std::isfinite(p.value) ? json(p.value) : json(nullptr)}));
    }
    out["points"] = std::move(points);
    out["decimated"] = s.decimated;
  }
  return out;
}

json spec_json(const SpecDecodeSummary& s) {
  json out;
  out["present"] = s.present;
  if (!s.present) return out;
  out["source"] = s.source;
  out["drafts"] = number_or_null(s.drafts);
  out["draft_tokens"] = number_or_null(s.draft_tokens);
  out["accepted_tokens"] = number_or_null(s.accepted_tokens);
  out["acceptance_rate"] = number_or_null(s.acceptance_rate);
  out["mean_acceptance_length"] = number_or_null(s.mean_acceptance_length);
  json per_pos = json::array();
  for (double r : s.per_position_acceptance_rate) per_pos.push_back(r);
  out["per_position_acceptance_rate"] = std::move(per_pos);
  return out;
}

}  // namespace

SeriesReport SeriesReport::from(const TimeSeries& series, SeriesKind kind) {
  SeriesReport out;
  out.kind = kind;
  out.points = series.points();
  out.decimated = series.decimated();
  out.samples = series.samples();
  out.min = series.min();
  out.max = series.max();
  out.mean = series.mean();
  out.first = series.first();
  out.last = series.last();
  return out;
}

nlohmann::json TelemetryReport::to_json() const {
  json server;
  server["enabled"] = server_enabled;
  server["metrics_url"] = utf8(metrics_url);
  server["available"] = metrics_available;
  server["detected"] = to_string(this->server);
  json norm = json::object();
  for (const auto& [name, s] : normalized) norm[name] = series_json(s);
  server["normalized"] = std::move(norm);
  json raw_series = json::object();
  for (const auto& [key, s] : raw) raw_series[utf8(key)] = series_json(s);
  server["raw"] = {{"series", std::move(raw_series)}, {"capped", raw_capped}, {"dropped_series", raw_series_dropped}};
  server["spec_decode"] = spec_json(spec_decode);
  server["scrapes"] = {{"attempts", scrapes.attempts},
                       {"successes", scrapes.successes},
                       {"failures", scrapes.failures},
                       {"skipped", scrapes.skipped},
                       {"mean_duration_ms", scrapes.mean_duration_ms},
                       {"max_duration_ms", scrapes.max_duration_ms}};

  json gpu = json::array();
  for (const GpuReport& g : gpus) {
    json one;
    one["index"] = g.index;
    one["name"] = utf8(g.name);
    one["memory_total_bytes"] = g.memory_total_bytes ? json(*g.memory_total_bytes) : json(nullptr);
    one["memory_used_bytes"] = series_json(g.memory_used_bytes);
    one["utilization_pct"] = series_json(g.utilization_pct);
    one["memory_utilization_pct"] = series_json(g.memory_utilization_pct);
    one["power_w"] = series_json(g.power_w);
    one["peak_memory_used_bytes"] = number_or_null(g.memory_used_bytes.max);
    one["mean_utilization_pct"] = number_or_null(g.utilization_pct.mean);
    one["peak_power_w"] = number_or_null(g.power_w.max);
    one["mean_power_w"] = number_or_null(g.power_w.mean);
    one["errors"] = g.errors;
    gpu.push_back(std::move(one));
  }

  json errors;
  errors["scrape_failures"] = scrapes.failures;
  errors["last_scrape_error"] = scrapes.last_error.empty() ? json(nullptr) : json(utf8(scrapes.last_error));
  errors["parse_issues"] = scrapes.parse_issues;
  json issues = json::array();
  for (const ParseIssue& i : scrapes.first_parse_issues)
    issues.push_back({{"line", i.line}, {"reason", utf8(i.reason)}});
  errors["first_parse_issues"] = std::move(issues);
  size_t gpu_errors = 0;
  std::string last_gpu_error;
  for (const GpuReport& g : gpus) {
    gpu_errors += g.errors;
    if (!g.last_error.empty()) last_gpu_error = g.last_error;
  }
  errors["gpu_errors"] = gpu_errors;
  errors["last_gpu_error"] = last_gpu_error.empty() ? json(nullptr) : json(utf8(last_gpu_error));

  json out;
  out["server"] = std::move(server);
  out["gpu"] = std::move(gpu);
  out["gpu_status"] = {{"enabled", gpu_enabled},
                       {"available", gpu_available},
                       {"reason", gpu_unavailable_reason.empty() ? json(nullptr) : json(utf8(gpu_unavailable_reason))}};
  out["errors"] = std::move(errors);
  out["duration_s"] = duration_s;
  json notice_list = json::array();
  for (const std::string& n : notices) notice_list.push_back(utf8(n));
  out["notices"] = std::move(notice_list);
  return out;
}

}  // namespace llmbench::telemetry

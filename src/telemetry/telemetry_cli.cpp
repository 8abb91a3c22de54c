#include "telemetry/telemetry_cli.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cmath>

namespace llmbench::telemetry {

void add_telemetry_flags(CLI::App& app, TelemetryOptions& options) {
  app.add_option_function<double>(
         "--metrics-interval",
         [&options](double seconds) { options.interval_ms = static_cast<int64_t>(std::llround(seconds * 1000.0)); },
         "Seconds between two readings of the server's /metrics and the GPUs (default 1)")
      ->check(CLI::Range(0.01, 3600.0))
      ->type_name("SECONDS");
  app.add_option("--metrics-url", options.metrics_url,
                 "Prometheus endpoint to scrape (default: the target's origin + /metrics)")
      ->type_name("URL");
  app.add_flag_callback(
      "--no-server-metrics", [&options] { options.scrape_server = false; }, "Do not scrape the server's /metrics");
  app.add_flag_callback(
      "--no-gpu-telemetry", [&options] { options.sample_gpu = false; }, "Do not sample GPUs through NVML");
  app.add_option("--nvml-library", options.nvml_library, "NVML library to load (default libnvidia-ml.so.1)")
      ->type_name("PATH");
}

namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "n/a";
  if (std::fabs(v) >= 100 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

}  // namespace

std::vector<std::string> summary_lines(const TelemetryReport& report) {
  std::vector<std::string> out = report.notices;
  auto gauge = [&](const char* name, const char* label, double scale, const char* unit) {
    auto it = report.normalized.find(name);
    if (it == report.normalized.end() || !it->second.max) return;
    out.push_back(fmt::format("{}: peak {}{}, mean {}{}", label, number(*it->second.max * scale), unit,
                              number(*it->second.mean * scale), unit));
  };
  auto counter = [&](const char* name, const char* label) {
    auto it = report.normalized.find(name);
    if (it == report.normalized.end() || !it->second.delta) return;
    out.push_back(fmt::format("{}: {} during the run", label, number(*it->second.delta)));
  };
  if (report.metrics_available) {
    out.push_back(fmt::format("server metrics ({}): {} scrapes of {}", to_string(report.server),
                              report.scrapes.successes, report.metrics_url));
  }
  gauge("kv_cache_usage", "KV cache usage", 100.0, "%");
  gauge("requests_running", "requests running", 1.0, "");
  gauge("requests_waiting", "requests waiting", 1.0, "");
  counter("preemptions_total", "preemptions");
  const SpecDecodeSummary& spec = report.spec_decode;
  if (spec.present && (spec.acceptance_rate || spec.mean_acceptance_length)) {
    out.push_back(fmt::format("speculative decoding ({}): acceptance rate {}, mean acceptance length {}", spec.source,
                              spec.acceptance_rate ? number(*spec.acceptance_rate) : "n/a",
                              spec.mean_acceptance_length ? number(*spec.mean_acceptance_length) : "n/a"));
  }
  for (const GpuReport& g : report.gpus) {
    std::string line = fmt::format("GPU {} ({}):", g.index, g.name);
    if (g.memory_used_bytes.max) {
      line += fmt::format(" memory peak {:.2f} GiB", *g.memory_used_bytes.max / (1024.0 * 1024.0 * 1024.0));
      if (g.memory_total_bytes) line += fmt::format(" of {:.2f}", *g.memory_total_bytes / (1024.0 * 1024.0 * 1024.0));
    }
    if (g.utilization_pct.mean) line += fmt::format(", utilization mean {:.0f}%", *g.utilization_pct.mean);
    if (g.power_w.max) line += fmt::format(", power peak {:.0f} W mean {:.0f} W", *g.power_w.max, *g.power_w.mean);
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace llmbench::telemetry

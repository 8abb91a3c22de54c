#include "app/bench_repetitions.h"

#include <fmt/format.h>

#include <cmath>

#include "metrics/statistics.h"

namespace llmbench::app {

bool is_repeated_metric(const std::string& key) {
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return key.size() >= s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with("_ms") || key.find("throughput") != std::string::npos || key.find("goodput") != std::string::npos ||
         key == "duration" || key == "completed" || key == "failed" || key == "total_input_tokens" ||
         key == "total_output_tokens" || key == "max_output_tokens_per_s" || key == "max_concurrent_requests";
}

nlohmann::json repetitions_json(const std::vector<nlohmann::json>& docs) {
  nlohmann::json metrics = nlohmann::json::object();
  if (!docs.empty()) {
    for (const auto& [key, first] : docs.front().items()) {
      if (!first.is_number() || !is_repeated_metric(key)) continue;
      std::vector<double> values;
      for (const auto& d : docs) {
        const auto it = d.find(key);
        if (it == d.end() || !it->is_number()) break;
        values.push_back(it->get<double>());
      }
      if (values.size() != docs.size()) continue;
      const auto st = metrics::sample_stats(values, 0.95);
      auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
      metrics[key] = {{"mean", st.mean},
                      {"stdev", st.stdev},
                      {"ci95_low", num(st.ci_low)},
                      {"ci95_high", num(st.ci_high)},
                      {"min", st.min},
                      {"max", st.max},
                      {"values", values}};
    }
  }
  return {{"runs", docs.size()}, {"ci_level", 0.95}, {"metrics", std::move(metrics)}};
}

std::string format_repetitions(const nlohmann::json& reps) {
  std::string out = fmt::format("{:=^78}\n", fmt::format(" Across {} runs (mean, 95% CI) ", reps.value("runs", 0)));
  out += fmt::format("{:<32}{:>12}  {:>25}{:>9}\n", "Metric", "Mean", "95% CI", "Stdev");
  for (const auto& [key, m] : reps["metrics"].items()) {
    const bool has_ci = m["ci95_low"].is_number();
    const std::string ci =
        has_ci ? fmt::format("[{:.2f}, {:.2f}]", m["ci95_low"].get<double>(), m["ci95_high"].get<double>()) : "n/a";
    out += fmt::format("{:<32}{:>12.2f}  {:>25}{:>9.2f}\n", key, m["mean"].get<double>(), ci, m["stdev"].get<double>());
  }
  out += std::string(78, '=') + "\n";
  return out;
}

}  // namespace llmbench::app

#include "metrics/cli_values.h"

#include <fmt/core.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace llmbench::metrics {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_double(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

}  // namespace

std::vector<double> parse_metric_percentiles(std::string_view text) {
  std::vector<double> out;
  for (std::string_view item : split(text, ',')) {
    double p = 0;
    if (!parse_double(item, p)) {
      throw std::invalid_argument(fmt::format("--metric-percentiles: '{}' is not a number", trim(item)));
    }
    if (p < 0 || p > 100) {
      throw std::invalid_argument(fmt::format("--metric-percentiles: {} is outside [0, 100]", trim(item)));
    }
    out.push_back(p);
  }
  return out;
}

std::vector<loadgen::GoodputSlo> parse_goodput(const std::vector<std::string>& pairs) {
  static const std::vector<std::string_view> kNames{"ttft", "tpot", "e2el", "itl"};
  std::vector<loadgen::GoodputSlo> out;
  for (const std::string& pair : pairs) {
    const auto colon = pair.find(':');
    if (colon == std::string::npos || pair.find(':', colon + 1) != std::string::npos) {
      throw std::invalid_argument(
          fmt::format("--goodput: '{}' is not KEY:VALUE (e.g. ttft:500, a value in milliseconds)", pair));
    }
    const std::string name(trim(std::string_view(pair).substr(0, colon)));
    if (std::find(kNames.begin(), kNames.end(), name) == kNames.end()) {
      throw std::invalid_argument(fmt::format("--goodput: unknown metric '{}' (use ttft, tpot, e2el or itl)", name));
    }
    double value = 0;
    if (!parse_double(std::string_view(pair).substr(colon + 1), value) || value < 0) {
      throw std::invalid_argument(fmt::format("--goodput: '{}' needs a non-negative number of milliseconds", pair));
    }
    for (const auto& g : out) {
      if (g.metric == name) throw std::invalid_argument(fmt::format("--goodput: '{}' given twice", name));
    }
    out.push_back({name, value});
  }
  return out;
}

std::vector<std::string> parse_percentile_metrics(std::string_view text) {
  static const std::vector<std::string_view> kNames{"ttft", "tpot", "itl", "e2el"};
  std::vector<std::string> out;
  for (std::string_view item : split(text, ',')) {
    item = trim(item);
    if (std::find(kNames.begin(), kNames.end(), item) == kNames.end()) {
      throw std::invalid_argument(
          fmt::format("--percentile-metrics: unknown metric '{}' (use ttft, tpot, itl, e2el)", item));
    }
    out.emplace_back(item);
  }
  return out;
}

}  // namespace llmbench::metrics

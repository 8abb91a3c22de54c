#include "app/sweep_plan.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

#include "app/bench_options.h"

namespace llmbench::app {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

double parse_value(const std::string& flag, const std::string& text, bool integers) {
  const std::string t = trim(text);
  if (!integers && (t == "inf" || t == "Inf" || t == "infinity")) return std::numeric_limits<double>::infinity();
  double v = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v) || !(v > 0)) {
    throw UsageError(fmt::format("{}: expected a number > 0, got '{}'", flag, text));
  }
  if (integers && v != std::floor(v)) throw UsageError(fmt::format("{}: expected an integer, got '{}'", flag, text));
  return v;
}

}  // namespace

const char* to_string(SweepDimension d) {
  return d == SweepDimension::kConcurrency ? "concurrency" : "request_rate";
}

std::vector<double> parse_sweep_list(const std::string& flag, const std::string& text, bool integers) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (trim(part).empty()) continue;
    out.push_back(parse_value(flag, part, integers));
  }
  if (out.empty()) throw UsageError(fmt::format("{}: give at least one value", flag));
  return out;
}

std::vector<double> parse_sweep_range(const std::string& flag, const std::string& text, bool integers) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(trim(part));
  if (parts.size() < 2 || parts.size() > 3) {
    throw UsageError(fmt::format("{}: expected START:END[:STEP] (STEP xF or +S), got '{}'", flag, text));
  }
  const double start = parse_value(flag, parts[0], integers);
  const double end = parse_value(flag, parts[1], integers);
  if (!std::isfinite(start) || !std::isfinite(end) || end < start) {
    throw UsageError(fmt::format("{}: END must be >= START (both finite), got '{}'", flag, text));
  }
  bool multiply = true;
  double step = 2;
  if (parts.size() == 3) {
    std::string s = parts[2];
    if (!s.empty() && (s[0] == 'x' || s[0] == '*')) {
      step = parse_value(flag, s.substr(1), false);
      if (!(step > 1)) throw UsageError(fmt::format("{}: a multiplying step must be > 1, got '{}'", flag, parts[2]));
    } else {
      multiply = false;
      if (!s.empty() && s[0] == '+') s = s.substr(1);
      step = parse_value(flag, s, false);
    }
  }
  std::vector<double> out;
  for (double v = start; v <= end * (1 + 1e-12); v = multiply ? v * step : v + step) {
    double value = integers ? std::round(v) : v;
    if (out.empty() || value > out.back()) out.push_back(value);
    if (out.size() > 10000) throw UsageError(fmt::format("{}: more than 10000 points", flag));
  }
  if (out.back() < end) out.push_back(end);
  return out;
}

SloBisection::SloBisection(double min_value, double max_value, int iterations, bool integers)
    : min_(min_value), max_(max_value), iterations_(iterations), integers_(integers) {
  if (!(min_value > 0) || !(max_value > min_value) || !std::isfinite(max_value)) {
    throw UsageError("--search-min/--search-max: need 0 < min < max (finite)");
  }
  if (iterations < 0) throw UsageError("--search-iterations: must be >= 0");
}

std::optional<double> SloBisection::next() const {
  if (!probed_min_) return min_;
  if (min_failed_) return std::nullopt;
  if (!probed_max_) return max_;
  if (max_passed_) return std::nullopt;
  if (bisections_ >= iterations_) return std::nullopt;
  if (integers_) {
    if (hi_ - lo_ <= 1) return std::nullopt;
    return std::floor((lo_ + hi_) / 2);
  }
  return (lo_ + hi_) / 2;
}

void SloBisection::record(double value, bool pass) {
  if (!probed_min_) {
    probed_min_ = true;
    min_failed_ = !pass;
    lo_ = value;
  } else if (!probed_max_) {
    probed_max_ = true;
    max_passed_ = pass;
    hi_ = value;
  } else {
    ++bisections_;
    (pass ? lo_ : hi_) = value;
  }
  if (pass && (!best_ || value > *best_)) best_ = value;
}

std::string SloBisection::conclusion() const {
  if (min_failed_) return "none passed (even --search-min fails the SLOs)";
  if (max_passed_) return "all passed (capacity is above --search-max)";
  return fmt::format("highest passing value found; the first failing value probed is {}", hi_);
}

}  // namespace llmbench::app

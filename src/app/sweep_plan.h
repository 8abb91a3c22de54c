#pragma once
// `llmbench sweep`: which points to run (concurrency levels or request rates, from a list or a
// range) and the SLO search (bisection for the highest rate/concurrency whose SLOs hold at a
// percentile). Pure parsing and decisions here, so they are unit-tested; running is in
// sweep_command.cpp.
#include <optional>
#include <string>
#include <vector>

#include "loadgen/run_info.h"

namespace llmbench::app {

enum class SweepDimension { kConcurrency, kRequestRate };
const char* to_string(SweepDimension d);  // "concurrency" | "request_rate"

// "1,2,4,8" -> {1, 2, 4, 8}; "inf" allowed for rates. Throws UsageError naming `flag`.
std::vector<double> parse_sweep_list(const std::string& flag, const std::string& text, bool integers);

// "START:END[:STEP]": STEP "xF" multiplies by F (> 1), "+S" or "S" adds S (> 0); default x2.
// Values from START up to END inclusive (END is added when the steps skip past it).
// "1:64:x2" -> 1 2 4 8 16 32 64; "1:10:+3" -> 1 4 7 10; "2:10:x3" -> 2 6 10.
std::vector<double> parse_sweep_range(const std::string& flag, const std::string& text, bool integers);

// The SLO search's bisection state: probe the bounds first, then halve the interval between the
// highest passing and the lowest failing value. Integer dimensions stop when they are adjacent.
class SloBisection {
 public:
  SloBisection(double min_value, double max_value, int iterations, bool integers);
  // The next value to probe, or nullopt when the search is over.
  std::optional<double> next() const;
  void record(double value, bool pass);
  // The highest value seen passing (nullopt if none passed).
  std::optional<double> best() const { return best_; }
  bool done() const { return !next().has_value(); }
  // "ok", "none passed (even --search-min fails)", "all passed (capacity above --search-max)".
  std::string conclusion() const;

 private:
  double min_, max_;
  int iterations_;
  bool integers_;
  int bisections_ = 0;
  bool probed_min_ = false, probed_max_ = false;
  bool min_failed_ = false, max_passed_ = false;
  double lo_ = 0, hi_ = 0;  // lo_ passes, hi_ fails
  std::optional<double> best_;
};

}  // namespace llmbench::app

#pragma once
// Finding the steady-state window of a run: the time span where the number of in-flight requests
// stays near its target, excluding the ramp at the start and the drain at the end.
// The rules are documented in docs/metrics.md ("Steady state").
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "loadgen/run_info.h"

namespace llmbench::metrics {

// +1 when a request is sent, -1 when it ends (no other deltas).
struct ConcurrencyEvent {
  int64_t t_ns = 0;
  int32_t delta = 0;
};

// Sorts by time with departures before arrivals at equal times (half-open [sent, end) intervals, as
// vLLM's peak-concurrency sweep).
void sort_concurrency_events(std::vector<ConcurrencyEvent>& events);

// Largest number of simultaneously in-flight requests over sorted events.
int64_t peak_concurrency(std::span<const ConcurrencyEvent> sorted);

// Time-weighted mean number of in-flight requests over [from_ns, to_ns).
double mean_concurrency(std::span<const ConcurrencyEvent> sorted, int64_t from_ns, int64_t to_ns);

struct SteadyWindow {
  bool found = false;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  double target_concurrency = 0;  // the level the rule looked for
  double threshold = 0;           // in-flight count that counts as "near the target"
  std::string rule;               // which rule applied, in words
  std::string reason;             // why no window was found (when !found)
};

// sorted: concurrency events of the measured requests; arrivals_ns: scheduled send times of the
// measured requests (any order); fraction: how near the target counts as steady (0.9).
SteadyWindow find_steady_window(std::span<const ConcurrencyEvent> sorted, std::span<const int64_t> arrivals_ns,
                                const loadgen::RunInfo& info, double fraction);

}  // namespace llmbench::metrics

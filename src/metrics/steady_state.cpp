#include "metrics/steady_state.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "metrics/statistics.h"

namespace llmbench::metrics {
namespace {

// Closed-loop rule: the window runs from the first moment at least `threshold` requests are in
// flight to the last moment the count falls below it for good (the start of the drain).
SteadyWindow closed_loop_window(std::span<const ConcurrencyEvent> sorted, double target, double fraction) {
  SteadyWindow w;
  w.target_concurrency = target;
  w.threshold = std::max(1.0, std::ceil(fraction * target - 1e-9));
  int64_t inflight = 0;
  bool started = false;
  bool above = false;
  for (size_t i = 0; i < sorted.size();) {
    const int64_t t = sorted[i].t_ns;
    while (i < sorted.size() && sorted[i].t_ns == t) inflight += sorted[i++].delta;
    const bool now_above = static_cast<double>(inflight) >= w.threshold;
    if (now_above && !started) {
      started = true;
      w.start_ns = t;
    }
    if (above && !now_above) w.end_ns = t;
    above = now_above;
  }
  if (!started) {
    w.reason = fmt::format("in-flight requests never reached {:.0f} (of target {:.0f})", w.threshold, target);
    return w;
  }
  if (w.end_ns <= w.start_ns) {
    w.reason = "the in-flight count never stayed at the target";
    return w;
  }
  w.found = true;
  return w;
}

}  // namespace

void sort_concurrency_events(std::vector<ConcurrencyEvent>& events) {
  if (events.empty()) return;
  // Radix-sortable keys: time since the earliest event, shifted left, with the low bit set for
  // arrivals so that departures sort first at equal times.
  int64_t min_t = events.front().t_ns;
  for (const auto& e : events) min_t = std::min(min_t, e.t_ns);
  std::vector<uint64_t> keys(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    keys[i] = (static_cast<uint64_t>(events[i].t_ns - min_t) << 1) | (events[i].delta > 0 ? 1u : 0u);
  }
  sort_keys(keys);
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].t_ns = min_t + static_cast<int64_t>(keys[i] >> 1);
    events[i].delta = (keys[i] & 1u) != 0 ? +1 : -1;
  }
}

int64_t peak_concurrency(std::span<const ConcurrencyEvent> sorted) {
  int64_t current = 0;
  int64_t peak = 0;
  for (const auto& e : sorted) {
    current += e.delta;
    peak = std::max(peak, current);
  }
  return peak;
}

double mean_concurrency(std::span<const ConcurrencyEvent> sorted, int64_t from_ns, int64_t to_ns) {
  if (to_ns <= from_ns) return 0.0;
  int64_t inflight = 0;
  double area = 0;  // in-flight x ns
  int64_t previous = from_ns;
  for (const auto& e : sorted) {
    if (e.t_ns >= to_ns) break;
    if (e.t_ns > previous) {
      area += static_cast<double>(inflight) * static_cast<double>(e.t_ns - previous);
      previous = e.t_ns;
    }
    inflight += e.delta;
  }
  area += static_cast<double>(inflight) * static_cast<double>(to_ns - previous);
  return area / static_cast<double>(to_ns - from_ns);
}

SteadyWindow find_steady_window(std::span<const ConcurrencyEvent> sorted, std::span<const int64_t> arrivals_ns,
                                const loadgen::RunInfo& info, double fraction) {
  SteadyWindow w;
  if (sorted.empty()) {
    w.reason = "no measured requests";
    return w;
  }
  if (info.mode == loadgen::LoadMode::kClosedLoop) {
    double target = info.concurrency > 0 ? info.concurrency : 0;
    if (info.max_concurrency > 0 && (target == 0 || info.max_concurrency < target)) target = info.max_concurrency;
    if (target <= 0) target = static_cast<double>(peak_concurrency(sorted));
    w = closed_loop_window(sorted, target, fraction);
    w.rule = fmt::format(
        "closed loop: in-flight >= {:.0f} ({:.0f}% of {:.0f} users), from first reaching it to the "
        "start of the drain",
        w.threshold, fraction * 100, target);
    return w;
  }
  // Open loop.
  if (!std::isfinite(info.request_rate) || info.request_rate <= 0) {
    if (info.max_concurrency > 0) {
      w = closed_loop_window(sorted, info.max_concurrency, fraction);
      w.rule = fmt::format(
          "all requests arrive at once, capped at {} in flight: in-flight >= {:.0f} ({:.0f}% of the "
          "cap), from first reaching it to the start of the drain",
          info.max_concurrency, w.threshold, fraction * 100);
      return w;
    }
    w.rule = "open loop with infinite rate";
    w.reason = "all requests were sent at once (infinite rate, no concurrency cap): there is no steady state";
    return w;
  }
  if (arrivals_ns.size() < 2) {
    w.reason = "fewer than two arrivals";
    return w;
  }
  const auto [first_it, last_it] = std::minmax_element(arrivals_ns.begin(), arrivals_ns.end());
  const int64_t first_arrival = *first_it;
  const int64_t last_arrival = *last_it;
  int64_t ramp_end = first_arrival;
  if (info.ramp_up != loadgen::RampUp::kNone) {
    if (info.ramp_up_duration_s <= 0) {
      w.rule = "open loop with a rate ramp";
      w.reason = "the arrival rate ramps for the whole run: there is no steady state";
      return w;
    }
    ramp_end = first_arrival + s_to_ns(info.ramp_up_duration_s);
  }
  if (ramp_end >= last_arrival) {
    w.reason = "the arrival phase ends before the rate ramp does";
    return w;
  }
  // The level the system settles at: time-weighted mean in-flight over the second half of the arrival
  // phase (after any start-up transient, before the drain).
  const int64_t mid = ramp_end + (last_arrival - ramp_end) / 2;
  w.target_concurrency = mean_concurrency(sorted, mid, last_arrival);
  w.threshold = fraction * w.target_concurrency;
  w.rule = fmt::format(
      "open loop: from the first time in-flight >= {:.2f} ({:.0f}% of the mean in-flight {:.2f} over "
      "the second half of the arrival phase) to the last arrival; drain excluded",
      w.threshold, fraction * 100, w.target_concurrency);
  if (w.target_concurrency <= 0) {
    w.reason = "no requests were in flight during the arrival phase";
    return w;
  }
  int64_t inflight = 0;
  bool started = false;
  for (size_t i = 0; i < sorted.size();) {
    const int64_t t = sorted[i].t_ns;
    while (i < sorted.size() && sorted[i].t_ns == t) inflight += sorted[i++].delta;
    if (static_cast<double>(inflight) >= w.threshold && t < last_arrival) {
      w.start_ns = std::max(t, ramp_end);
      // Before ramp_end the count may be high already; only accept it if it still holds at ramp_end.
      if (t >= ramp_end || (i < sorted.size() && sorted[i].t_ns > ramp_end)) {
        started = true;
        break;
      }
    }
  }
  if (!started || w.start_ns >= last_arrival) {
    w.reason = "in-flight requests never reached the steady level before the last arrival";
    return w;
  }
  w.end_ns = last_arrival;
  w.found = true;
  return w;
}

}  // namespace llmbench::metrics

#include "telemetry/time_series.h"

#include <algorithm>
#include <cmath>

namespace llmbench::telemetry {

TimeSeries::TimeSeries(size_t max_points) : max_points_(std::max<size_t>(max_points, 2)) {}

void TimeSeries::add(double t_s, double value) {
  size_t index = samples_++;
  if (std::isfinite(value)) {
    if (finite_ == 0) {
      first_ = min_ = max_ = value;
    } else {
      min_ = std::min(min_, value);
      max_ = std::max(max_, value);
    }
    last_ = value;
    sum_ += value;
    ++finite_;
  }
  if (index % stride_ != 0) return;
  if (points_.size() >= max_points_) {
    // Keep points 0, 2, 4, ...: they are exactly the samples whose index is a multiple of 2*stride.
    size_t kept = 0;
    for (size_t i = 0; i < points_.size(); i += 2) points_[kept++] = points_[i];
    points_.resize(kept);
    stride_ *= 2;
    if (index % stride_ != 0) return;
  }
  points_.push_back(SeriesPoint{t_s, value});
}

std::optional<double> TimeSeries::min() const {
  return finite_ ? std::optional<double>(min_) : std::nullopt;
}
std::optional<double> TimeSeries::max() const {
  return finite_ ? std::optional<double>(max_) : std::nullopt;
}
std::optional<double> TimeSeries::mean() const {
  return finite_ ? std::optional<double>(sum_ / static_cast<double>(finite_)) : std::nullopt;
}
std::optional<double> TimeSeries::first() const {
  return finite_ ? std::optional<double>(first_) : std::nullopt;
}
std::optional<double> TimeSeries::last() const {
  return finite_ ? std::optional<double>(last_) : std::nullopt;
}

void CounterTracker::add(double value) {
  if (!std::isfinite(value)) return;
  if (!has_value_) {
    has_value_ = true;
    first_ = last_ = value;
    return;
  }
  if (value >= last_) {
    increase_ += value - last_;
  } else {
    ++resets_;
    increase_ += value;
  }
  last_ = value;
}

}  // namespace llmbench::telemetry

#pragma once
// Bounded time series and counter bookkeeping for telemetry samples.
//
// A TimeSeries keeps at most max_points points: when full it drops every other point and from then
// on keeps one sample in two (then four, ...), so a run of any length stays covered end to end in
// bounded memory. Its statistics (min, max, mean, first, last) are exact over every value added.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace llmbench::telemetry {

struct SeriesPoint {
  double t_s = 0.0;  // seconds relative to the run start
  double value = 0.0;
};

class TimeSeries {
 public:
  explicit TimeSeries(size_t max_points = 4096);

  void add(double t_s, double value);

  const std::vector<SeriesPoint>& points() const { return points_; }
  size_t samples() const { return samples_; }  // every value added, kept or not
  bool decimated() const { return stride_ > 1; }
  // Over finite values only; nullopt when there were none.
  std::optional<double> min() const;
  std::optional<double> max() const;
  std::optional<double> mean() const;
  std::optional<double> first() const;
  std::optional<double> last() const;

 private:
  size_t max_points_;
  size_t stride_ = 1;
  size_t samples_ = 0;
  size_t finite_ = 0;
  double sum_ = 0.0;
  double min_ = 0.0;
  double max_ = 0.0;
  double first_ = 0.0;
  double last_ = 0.0;
  std::vector<SeriesPoint> points_;
};

// A Prometheus counter's increase over a run, with resets handled as Prometheus' increase() does:
// a value lower than the previous one means the counter restarted from zero.
class CounterTracker {
 public:
  void add(double value);
  bool has_value() const { return has_value_; }
  double increase() const { return increase_; }
  size_t resets() const { return resets_; }
  double first() const { return first_; }
  double last() const { return last_; }

 private:
  bool has_value_ = false;
  double first_ = 0.0;
  double last_ = 0.0;
  double increase_ = 0.0;
  size_t resets_ = 0;
};

}  // namespace llmbench::telemetry

#pragma once
// Turns a sequence of scrapes and GPU readings into a TelemetryReport. Pure bookkeeping, no I/O or
// threads (TelemetryCollector feeds it), so every rule here is unit-testable on synthetic input.
#include <cstddef>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "telemetry/nvml_sampler.h"
#include "telemetry/prometheus_parser.h"
#include "telemetry/server_metrics.h"
#include "telemetry/telemetry_report.h"
#include "telemetry/time_series.h"

namespace llmbench::telemetry {

struct RecorderOptions {
  size_t max_points_per_series = 4096;     // per normalized or GPU series; longer runs are thinned evenly
  size_t max_points_per_raw_series = 512;  // raw series are many: fewer points each keeps the result small
  size_t max_raw_series = 2000;            // distinct raw series kept; the rest are counted, not kept
  bool raw_include_buckets = false;        // histogram buckets, summary quantiles and _created samples
  size_t max_reported_parse_issues = 20;
};

class TelemetryRecorder {
 public:
  explicit TelemetryRecorder(RecorderOptions options = {});

  // t_s: seconds since the run start (negative for a scrape just before it).
  void add_scrape(double t_s, const Exposition& exposition, double duration_ms);
  void add_scrape_failure(double t_s, const std::string& reason, double duration_ms);
  void add_scrape_skipped() { ++scrapes_.skipped; }

  void set_gpu_devices(const std::vector<GpuDeviceInfo>& devices);
  void add_gpu_sample(double t_s, size_t device, const GpuSample& sample);

  // Series, statistics, counter deltas and spec-decode summary so far. The caller fills in the
  // fields it owns (enabled flags, URL, notices).
  TelemetryReport report() const;

 private:
  struct Tracked {
    explicit Tracked(size_t max_points) : series(max_points) {}
    TimeSeries series;
    CounterTracker counter;
    SeriesKind kind = SeriesKind::kGauge;
    std::string source;
  };
  struct Gpu {
    explicit Gpu(size_t max_points)
        : memory_used(max_points), utilization(max_points), memory_utilization(max_points), power(max_points) {}
    GpuDeviceInfo info;
    TimeSeries memory_used, utilization, memory_utilization, power;
    size_t errors = 0;
    std::string last_error;
  };

  bool keep_raw(const Sample& sample, const Exposition& exposition) const;
  void note_time(double t_s);

  RecorderOptions options_;
  ServerKind server_ = ServerKind::kUnknown;
  std::map<std::string, Tracked> normalized_;
  std::map<std::string, Tracked> raw_;
  size_t raw_dropped_ = 0;
  // Hashes of the series not kept, so that each is counted once. Bounded: past 2^18 distinct
  // dropped series the count stops growing (a lower bound, never an overcount).
  std::unordered_set<size_t> raw_dropped_hashes_;
  std::map<int, CounterTracker> accepted_per_position_;
  ScrapeStats scrapes_;
  double scrape_duration_sum_ms_ = 0.0;
  size_t scrape_durations_ = 0;
  std::vector<Gpu> gpus_;
  double last_t_s_ = 0.0;
};

}  // namespace llmbench::telemetry

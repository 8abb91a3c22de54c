#include "telemetry/telemetry_recorder.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace llmbench::telemetry {
namespace {

constexpr size_t kMaxDroppedHashes = 1u << 18;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && std::string_view(s).substr(s.size() - suffix.size()) == suffix;
}

SeriesKind raw_kind(const Sample& sample, const Exposition& exposition) {
  const MetricFamily* family = exposition.family_of(sample.name);
  if (family != nullptr && family->has_type) {
    if (family->type == MetricType::kCounter) return SeriesKind::kCounter;
    if ((family->type == MetricType::kHistogram || family->type == MetricType::kSummary) &&
        (ends_with(sample.name, "_sum") || ends_with(sample.name, "_count") || ends_with(sample.name, "_bucket"))) {
      return SeriesKind::kCounter;
    }
    return SeriesKind::kGauge;
  }
  return ends_with(sample.name, "_total") ? SeriesKind::kCounter : SeriesKind::kGauge;
}

SeriesReport tracked_report(const TimeSeries& series, const CounterTracker& counter, SeriesKind kind,
                            const std::string& source, std::string_view unit) {
  SeriesReport out = SeriesReport::from(series, kind);
  out.source = source;
  out.unit = std::string(unit);
  if (kind == SeriesKind::kCounter && counter.has_value()) {
    out.delta = counter.increase();
    out.resets = counter.resets();
  }
  return out;
}

}  // namespace

TelemetryRecorder::TelemetryRecorder(RecorderOptions options) : options_(options) {}

void TelemetryRecorder::note_time(double t_s) {
  last_t_s_ = std::max(last_t_s_, t_s);
}

bool TelemetryRecorder::keep_raw(const Sample& sample, const Exposition& exposition) const {
  if (options_.raw_include_buckets) return true;
  if (ends_with(sample.name, "_created")) return false;
  const MetricFamily* family = exposition.family_of(sample.name);
  if (family == nullptr) return true;
  if (family->type == MetricType::kHistogram && ends_with(sample.name, "_bucket")) return false;
  if (family->type == MetricType::kSummary && sample.name == family->name) return false;  // quantiles
  return true;
}

void TelemetryRecorder::add_scrape(double t_s, const Exposition& exposition, double duration_ms) {
  note_time(t_s);
  ++scrapes_.attempts;
  ++scrapes_.successes;
  scrape_duration_sum_ms_ += duration_ms;
  ++scrape_durations_;
  scrapes_.max_duration_ms = std::max(scrapes_.max_duration_ms, duration_ms);
  scrapes_.parse_issues += exposition.issue_count();
  for (const ParseIssue& issue : exposition.issues) {
    if (scrapes_.first_parse_issues.size() >= options_.max_reported_parse_issues) break;
    scrapes_.first_parse_issues.push_back(issue);
  }

  if (server_ == ServerKind::kUnknown) server_ = detect_server(exposition);
  for (const NormalizedValue& v : normalize(exposition, server_)) {
    auto it = normalized_.try_emplace(v.name, options_.max_points_per_series).first;
    it->second.kind = v.kind;
    it->second.source = v.source;
    it->second.series.add(t_s, v.value);
    if (v.kind == SeriesKind::kCounter) it->second.counter.add(v.value);
  }
  for (const auto& [position, value] : spec_decode_accepted_per_position(exposition)) {
    accepted_per_position_[position].add(value);
  }

  for (const Sample& sample : exposition.samples) {
    if (!keep_raw(sample, exposition)) continue;
    std::string key = series_key(sample.name, sample.labels);
    auto it = raw_.find(key);
    if (it == raw_.end()) {
      if (raw_.size() >= options_.max_raw_series) {
        // Count each dropped series once, remembering up to kMaxDroppedHashes of them.
        size_t hash = std::hash<std::string>{}(key);
        if (raw_dropped_hashes_.size() < kMaxDroppedHashes && raw_dropped_hashes_.insert(hash).second) ++raw_dropped_;
        continue;
      }
      it = raw_.try_emplace(std::move(key), options_.max_points_per_raw_series).first;
      it->second.kind = raw_kind(sample, exposition);
    }
    it->second.series.add(t_s, sample.value);
    if (it->second.kind == SeriesKind::kCounter) it->second.counter.add(sample.value);
  }
}

void TelemetryRecorder::add_scrape_failure(double t_s, const std::string& reason, double duration_ms) {
  note_time(t_s);
  ++scrapes_.attempts;
  ++scrapes_.failures;
  scrapes_.last_error = reason;
  scrape_duration_sum_ms_ += duration_ms;
  ++scrape_durations_;
  scrapes_.max_duration_ms = std::max(scrapes_.max_duration_ms, duration_ms);
}

void TelemetryRecorder::set_gpu_devices(const std::vector<GpuDeviceInfo>& devices) {
  gpus_.clear();
  gpus_.reserve(devices.size());
  for (const GpuDeviceInfo& d : devices) {
    gpus_.emplace_back(options_.max_points_per_series);
    gpus_.back().info = d;
  }
}

void TelemetryRecorder::add_gpu_sample(double t_s, size_t device, const GpuSample& sample) {
  if (device >= gpus_.size()) return;
  note_time(t_s);
  Gpu& g = gpus_[device];
  if (sample.memory_used_bytes) g.memory_used.add(t_s, static_cast<double>(*sample.memory_used_bytes));
  if (sample.memory_total_bytes) g.info.memory_total_bytes = sample.memory_total_bytes;
  if (sample.utilization_pct) g.utilization.add(t_s, *sample.utilization_pct);
  if (sample.memory_utilization_pct) g.memory_utilization.add(t_s, *sample.memory_utilization_pct);
  if (sample.power_w) g.power.add(t_s, *sample.power_w);
  if (!sample.error.empty()) {
    ++g.errors;
    g.last_error = sample.error;
  }
}

TelemetryReport TelemetryRecorder::report() const {
  TelemetryReport out;
  out.metrics_available = scrapes_.successes > 0;
  out.server = server_;
  for (const auto& [name, t] : normalized_) {
    const NormalizedSeriesInfo* info = normalized_series_info(name);
    out.normalized.emplace(name, tracked_report(t.series, t.counter, t.kind, t.source, info ? info->unit : ""));
  }
  for (const auto& [key, t] : raw_) out.raw.emplace(key, tracked_report(t.series, t.counter, t.kind, "", ""));
  out.raw_capped = raw_dropped_ > 0;
  out.raw_series_dropped = raw_dropped_;

  auto delta = [this](std::string_view name) -> std::optional<double> {
    auto it = normalized_.find(std::string(name));
    if (it == normalized_.end() || !it->second.counter.has_value()) return std::nullopt;
    return it->second.counter.increase();
  };
  std::map<int, double> per_position;
  for (const auto& [position, tracker] : accepted_per_position_) per_position[position] = tracker.increase();
  out.spec_decode =
      spec_decode_from_deltas(delta(series::kSpecDecodeDraftsTotal), delta(series::kSpecDecodeDraftTokensTotal),
                              delta(series::kSpecDecodeAcceptedTokensTotal), per_position);
  if (!out.spec_decode.present) {
    // Servers that only export gauges (SGLang): report their means over the run.
    auto length = normalized_.find(std::string(series::kSpecDecodeAcceptLength));
    auto rate = normalized_.find(std::string(series::kSpecDecodeAcceptRate));
    if (length != normalized_.end() || rate != normalized_.end()) {
      out.spec_decode.present = true;
      out.spec_decode.source = "gauges";
      if (length != normalized_.end()) out.spec_decode.mean_acceptance_length = length->second.series.mean();
      if (rate != normalized_.end()) out.spec_decode.acceptance_rate = rate->second.series.mean();
    }
  }

  out.scrapes = scrapes_;
  out.scrapes.mean_duration_ms =
      scrape_durations_ > 0 ? scrape_duration_sum_ms_ / static_cast<double>(scrape_durations_) : 0.0;

  for (const Gpu& g : gpus_) {
    GpuReport r;
    r.index = g.info.index;
    r.name = g.info.name;
    r.memory_total_bytes = g.info.memory_total_bytes;
    r.memory_used_bytes = SeriesReport::from(g.memory_used, SeriesKind::kGauge);
    r.memory_used_bytes.unit = "bytes";
    r.utilization_pct = SeriesReport::from(g.utilization, SeriesKind::kGauge);
    r.utilization_pct.unit = "percent";
    r.memory_utilization_pct = SeriesReport::from(g.memory_utilization, SeriesKind::kGauge);
    r.memory_utilization_pct.unit = "percent";
    r.power_w = SeriesReport::from(g.power, SeriesKind::kGauge);
    r.power_w.unit = "watts";
    r.errors = g.errors;
    r.last_error = g.last_error;
    out.gpus.push_back(std::move(r));
  }
  out.gpu_available = !gpus_.empty();
  out.duration_s = last_t_s_;
  return out;
}

}  // namespace llmbench::telemetry

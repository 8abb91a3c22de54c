#pragma once
// Prometheus metrics of `llmbench serve`, named as vLLM names them (vllm/v1/metrics/loggers.py)
// where the concept is the same, with vLLM's histogram buckets and a model_name label. Latency
// histograms are observed on the server from per-request stamps; gauges and token counters come
// from the engine's stats snapshot at scrape time.
#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace llmbench::server {

class Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds);
  void observe(double value);  // not thread-safe: ServerMetrics locks
  // Appends the _bucket/_sum/_count lines (prometheus_client's text format 0.0.4).
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  explicit ServerMetrics(std::string model_name);

  // Thread-safe observations, in seconds.
  void observe_ttft(double seconds);
  void observe_itl(double seconds, int count = 1);  // `count` tokens that each took `seconds`
  void observe_e2e(double seconds);
  void observe_queue(double seconds);
  void count_finished(engine::FinishReason reason);
  void count_http(int status);

  std::string render(const engine::EngineStats& stats) const;

  static const std::array<double, 22> kTtftBuckets;
  static const std::array<double, 19> kItlBuckets;
  static const std::array<double, 21> kRequestLatencyBuckets;

 private:
  std::string labels_;  // model_name="..."
  mutable std::mutex mutex_;
  Histogram ttft_;
  Histogram itl_;
  Histogram e2e_;
  Histogram queue_;
  uint64_t finished_stop_ = 0, finished_length_ = 0, finished_abort_ = 0;
  uint64_t http_2xx_ = 0, http_4xx_ = 0, http_5xx_ = 0;
};

}  // namespace llmbench::server

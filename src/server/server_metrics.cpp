#include "server/server_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace llmbench::server {
namespace {

// prometheus_client's floatToGoString: integers keep ".0", +Inf for infinity.
std::string go_float(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.1f}", v);
  return fmt::format("{}", v);
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, go_float(value));
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

const std::array<double, 22> ServerMetrics::kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                                            0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                                            20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::array<double, 19> ServerMetrics::kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                                           0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::array<double, 21> ServerMetrics::kRequestLatencyBuckets = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                                                      5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                                                      60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

Histogram::Histogram(std::span<const double> upper_bounds)
    : bounds_(upper_bounds.begin(), upper_bounds.end()), counts_(upper_bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // le: value <= bound
  ++counts_[static_cast<size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = i < bounds_.size() ? go_float(bounds_[i]) : "+Inf";
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le,
                   go_float(static_cast<double>(cumulative)));
  }
  fmt::format_to(std::back_inserter(out), "{}_count{{{}}} {}\n", name, labels, go_float(static_cast<double>(count_)));
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n", name, labels, go_float(sum_));
}

ServerMetrics::ServerMetrics(std::string model_name)
    : labels_("model_name=\"" + escape_label(model_name) + "\""),
      ttft_(kTtftBuckets),
      itl_(kItlBuckets),
      e2e_(kRequestLatencyBuckets),
      queue_(kRequestLatencyBuckets) {}

void ServerMetrics::observe_ttft(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}
void ServerMetrics::observe_itl(double seconds, int count) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) itl_.observe(seconds);
}
void ServerMetrics::observe_e2e(double seconds) {
  std::lock_guard lock(mutex_);
  e2e_.observe(seconds);
}
void ServerMetrics::observe_queue(double seconds) {
  std::lock_guard lock(mutex_);
  queue_.observe(seconds);
}
void ServerMetrics::count_finished(engine::FinishReason reason) {
  std::lock_guard lock(mutex_);
  if (reason == engine::FinishReason::kStop) ++finished_stop_;
  if (reason == engine::FinishReason::kLength) ++finished_length_;
  if (reason == engine::FinishReason::kAbort) ++finished_abort_;
}
void ServerMetrics::count_http(int status) {
  std::lock_guard lock(mutex_);
  if (status < 400) {
    ++http_2xx_;
  } else if (status < 500) {
    ++http_4xx_;
  } else {
    ++http_5xx_;
  }
}

std::string ServerMetrics::render(const engine::EngineStats& stats) const {
  std::string out;
  out.reserve(16 << 10);
  auto gauge = [&](const char* name, const char* help, double value) {
    header(out, name, "gauge", help);
    sample(out, name, labels_, value);
  };
  auto counter = [&](const char* name, const char* help, double value) {
    header(out, name, "counter", help);
    sample(out, name, labels_, value);
  };
  gauge("vllm:num_requests_running", "Number of requests in model execution batches.", stats.running);
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", stats.waiting);
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", stats.kv_cache_usage);
  counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.",
          static_cast<double>(stats.preemptions_total));
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
          static_cast<double>(stats.prompt_tokens_total));
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
          static_cast<double>(stats.generation_tokens_total));
  gauge("llmbench:kv_cache_num_blocks", "KV-cache blocks in total.", stats.num_blocks);
  gauge("llmbench:kv_cache_block_size", "Tokens per KV-cache block.", stats.block_size);
  counter("llmbench:engine_steps_total", "Engine steps run.", static_cast<double>(stats.steps_total));

  std::lock_guard lock(mutex_);
  header(out, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  sample(out, "vllm:request_success_total", labels_ + ",finished_reason=\"stop\"", static_cast<double>(finished_stop_));
  sample(out, "vllm:request_success_total", labels_ + ",finished_reason=\"length\"",
         static_cast<double>(finished_length_));
  sample(out, "vllm:request_success_total", labels_ + ",finished_reason=\"abort\"",
         static_cast<double>(finished_abort_));
  header(out, "vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
  ttft_.render(out, "vllm:time_to_first_token_seconds", labels_);
  header(out, "vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.");
  itl_.render(out, "vllm:inter_token_latency_seconds", labels_);
  header(out, "vllm:e2e_request_latency_seconds", "histogram", "Histogram of e2e request latency in seconds.");
  e2e_.render(out, "vllm:e2e_request_latency_seconds", labels_);
  header(out, "vllm:request_queue_time_seconds", "histogram", "Histogram of time spent in WAITING phase for request.");
  queue_.render(out, "vllm:request_queue_time_seconds", labels_);
  header(out, "llmbench:http_responses_total", "counter", "HTTP responses by status class.");
  sample(out, "llmbench:http_responses_total", labels_ + ",code=\"2xx\"", static_cast<double>(http_2xx_));
  sample(out, "llmbench:http_responses_total", labels_ + ",code=\"4xx\"", static_cast<double>(http_4xx_));
  sample(out, "llmbench:http_responses_total", labels_ + ",code=\"5xx\"", static_cast<double>(http_5xx_));
  return out;
}

}  // namespace llmbench::server

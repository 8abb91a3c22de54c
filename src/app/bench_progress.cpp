#include "app/bench_progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "core/clock.h"

namespace llmbench::app {

BenchProgress::BenchProgress(const loadgen::LiveCounters& counters, ProgressOptions options,
                             std::function<bool()> poll_stop, std::function<void()> on_stop)
    : counters_(counters), options_(options), poll_stop_(std::move(poll_stop)), on_stop_(std::move(on_stop)) {
  tty_ = isatty(fileno(options_.out)) != 0;
  thread_ = std::thread([this] { loop(); });
}

BenchProgress::~BenchProgress() {
  finish();
}

void BenchProgress::finish() {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (options_.display && drew_) draw(true);
}

void BenchProgress::loop() {
  bool stop_sent = false;
  const int64_t interval_ns = (tty_ ? options_.tty_interval_ms : options_.plain_interval_ms) * 1'000'000;
  int64_t next_draw = now_ns() + interval_ns;
  std::unique_lock lock(mutex_);
  while (!done_) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (done_) break;
    if (!stop_sent && poll_stop_ && poll_stop_()) {
      stop_sent = true;
      if (on_stop_) on_stop_();
    }
    if (options_.display && now_ns() >= next_draw) {
      draw(false);
      next_draw += interval_ns;
    }
  }
}

void BenchProgress::draw(bool final_line) {
  const int64_t t = now_ns();
  const int64_t completed = counters_.completed.load(std::memory_order_relaxed);
  const int64_t failed = counters_.failed.load(std::memory_order_relaxed);
  const int64_t tokens = counters_.output_tokens.load(std::memory_order_relaxed);
  const int64_t in_flight = counters_.in_flight.load(std::memory_order_relaxed);
  const int64_t start = counters_.measure_start_ns.load(std::memory_order_relaxed);
  // Live rates over a sliding window of about two seconds.
  samples_.push_back({t, completed, tokens});
  while (samples_.size() > 2 && samples_[1].t_ns <= t - 2'000'000'000) samples_.pop_front();
  const Sample& first = samples_.front();
  const double window_s = static_cast<double>(t - first.t_ns) / 1e9;
  const double rate_rps = window_s > 0 ? static_cast<double>(completed - first.completed) / window_s : 0;
  const double rate_tps = window_s > 0 ? static_cast<double>(tokens - first.tokens) / window_s : 0;
  const double elapsed_s = start ? static_cast<double>(t - start) / 1e9 : 0;

  std::string progress;
  if (start == 0) {
    progress = "warming up";
  } else if (options_.total > 0) {
    const double frac = std::clamp(static_cast<double>(completed) / static_cast<double>(options_.total), 0.0, 1.0);
    const int width = 24;
    const int filled = static_cast<int>(frac * width);
    progress = fmt::format("[{}{}] {}/{}", std::string(static_cast<size_t>(filled), '#'),
                           std::string(static_cast<size_t>(width - filled), ' '), completed, options_.total);
  } else {
    progress = fmt::format("{} done, {:.0f}/{:.0f} s", completed, elapsed_s, options_.duration_s);
  }
  const std::string line = fmt::format(
      "{}  {:.1f} req/s  {:.0f} tok/s  in-flight {}  errors {}  {:.1f} s", progress,
      final_line && elapsed_s > 0 ? static_cast<double>(completed) / elapsed_s : rate_rps,
      final_line && elapsed_s > 0 ? static_cast<double>(tokens) / elapsed_s : rate_tps, in_flight, failed, elapsed_s);
  if (tty_) {
    fmt::print(options_.out, "\r\033[2K{}{}", line, final_line ? "\n" : "");
  } else {
    fmt::print(options_.out, "{}\n", line);
  }
  std::fflush(options_.out);
  drew_ = true;
}

}  // namespace llmbench::app

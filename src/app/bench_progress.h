#pragma once
// The progress display of a run and the watcher of the stop signal, on their own thread. Reads only
// the runner's atomic counters, never its records. On a terminal: one line redrawn ~4 times a
// second; otherwise a plain line every few seconds.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "loadgen/load_runner.h"

namespace llmbench::app {

struct ProgressOptions {
  bool display = true;
  int64_t total = 0;      // measured requests expected (0 = unknown)
  double duration_s = 0;  // --duration, shown when total is unknown
  std::FILE* out = stderr;
  int64_t tty_interval_ms = 250;
  int64_t plain_interval_ms = 5000;
};

class BenchProgress {
 public:
  // `poll_stop` is called every ~50 ms; when it returns true, `on_stop` is called once.
  BenchProgress(const loadgen::LiveCounters& counters, ProgressOptions options, std::function<bool()> poll_stop,
                std::function<void()> on_stop);
  ~BenchProgress();  // stops the thread and finishes the line
  void finish();

 private:
  void loop();
  void draw(bool final_line);

  const loadgen::LiveCounters& counters_;
  ProgressOptions options_;
  std::function<bool()> poll_stop_;
  std::function<void()> on_stop_;
  bool tty_ = false;
  bool drew_ = false;
  struct Sample {
    int64_t t_ns, completed, tokens;
  };
  std::deque<Sample> samples_;  // the last ~2 s, for live rates
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace llmbench::app

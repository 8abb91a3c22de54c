#pragma once
// Collects the outputs of engine requests (callbacks run on the engine thread) for tests.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace llmbench::engine::testing {

struct RequestLog {
  std::vector<RequestOutput> outputs;
  std::vector<int32_t> tokens;
  std::string text;
  bool finished = false;
  int finals = 0;
};

class OutputCollector {
 public:
  // A callback that appends to log `index` (created on demand).
  OutputCallback callback(size_t index) {
    {
      std::lock_guard lock(mutex_);
      if (logs_.size() <= index) logs_.resize(index + 1);
    }
    return [this, index](const RequestOutput& out) {
      {
        std::lock_guard lock(mutex_);
        RequestLog& log = logs_[index];
        log.outputs.push_back(out);
        log.tokens.insert(log.tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
        log.text += out.text_delta;
        if (out.finished) {
          log.finished = true;
          ++log.finals;
        }
      }
      cv_.notify_all();
    };
  }
  // Waits (up to a generous timeout) until every log has finished.
  bool wait_all(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& log : logs_) {
        if (!log.finished) return false;
      }
      return true;
    });
  }
  bool wait_outputs(size_t index, size_t count, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return logs_[index].outputs.size() >= count; });
  }
  RequestLog log(size_t index) {
    std::lock_guard lock(mutex_);
    return logs_.at(index);
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return logs_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<RequestLog> logs_;
};

}  // namespace llmbench::engine::testing

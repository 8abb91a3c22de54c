#pragma once
// Test doubles for the engine: a fake ModelRunner whose "KV cache" stores the tokens themselves, so
// that the next token is a function of the history read back through the block table (a block
// table bug, a shared block or a lost preemption shows up as a wrong token), and a byte tokenizer.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/model_runner.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::engine::testing {

// Next token from the full history (prompt + generated so far).
using NextTokenFn = std::function<int32_t(std::span<const int32_t> history)>;

inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline uint64_t history_hash(std::span<const int32_t> history) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < history.size(); ++i) h = mix(h ^ (static_cast<uint64_t>(history[i]) + (i << 20)));
  return h;
}

// A next-token rule that depends on every token and position and never yields a token below `lo`.
inline NextTokenFn hash_rule(int32_t lo, int32_t hi) {
  return [lo, hi](std::span<const int32_t> history) {
    return lo + static_cast<int32_t>(history_hash(history) % static_cast<uint64_t>(hi - lo));
  };
}

inline std::vector<int32_t> reference_tokens(std::vector<int32_t> history, int count, const NextTokenFn& next) {
  std::vector<int32_t> out;
  for (int i = 0; i < count; ++i) {
    const int32_t t = next(history);
    out.push_back(t);
    history.push_back(t);
  }
  return out;
}

struct StepRecord {
  int num_slices = 0;
  int num_tokens = 0;
  int num_logits = 0;
};

class FakeModelRunner : public ModelRunner {
 public:
  FakeModelRunner(int vocab_size, int max_position, int eos_token_id, NextTokenFn next) : next_(std::move(next)) {
    config_.name = "fake";
    config_.vocab_size = vocab_size;
    config_.max_position = max_position;
    config_.eos_token_id = eos_token_id;
    config_.bos_token_id = eos_token_id;
  }

  const ModelConfig& config() const override { return config_; }
  size_t kv_bytes_per_block(int block_size) const override { return static_cast<size_t>(block_size) * 8; }
  void allocate_kv_cache(int num_blocks, int block_size) override {
    block_size_ = block_size;
    cache_.assign(static_cast<size_t>(num_blocks) * static_cast<size_t>(block_size), -1);
  }
  size_t weight_bytes() const override { return 0; }
  // With set_workers(n > 1), run_tasks spreads tasks over n threads, as a real backend's pool does
  // (task i on thread i % n, each a separate std::thread), so that work the engine hands to the
  // model's threads really runs concurrently in tests.
  void set_workers(int n) { workers_ = n; }
  int num_workers() const override { return workers_; }
  void run_tasks(int num_tasks, TaskFn fn, void* ctx) override {
    if (workers_ <= 1) return ModelRunner::run_tasks(num_tasks, fn, ctx);
    ++parallel_task_runs_;
    std::vector<std::thread> threads;
    for (int w = 0; w < workers_; ++w) {
      threads.emplace_back([fn, ctx, w, num_tasks, stride = workers_] {
        for (int t = w; t < num_tasks; t += stride) fn(ctx, t, w);
      });
    }
    for (auto& t : threads) t.join();
  }
  int parallel_task_runs() const { return parallel_task_runs_.load(); }

  void forward(std::span<const SequenceSlice> slices, float* logits_out) override {
    {
      std::unique_lock lock(mutex_);
      ++forward_calls_;
      entered_.notify_all();
      gate_cv_.wait(lock, [&] { return gate_open_; });
      StepRecord rec;
      rec.num_slices = static_cast<int>(slices.size());
      for (const auto& s : slices) {
        rec.num_tokens += static_cast<int>(s.tokens.size());
        rec.num_logits += s.want_logits ? 1 : 0;
      }
      steps_.push_back(rec);
    }
    if (fail_) throw std::runtime_error("fake model failure");
    int row = 0;
    for (const auto& s : slices) {
      for (size_t i = 0; i < s.tokens.size(); ++i) slot(s, s.start_pos + static_cast<int>(i)) = s.tokens[i];
      if (!s.want_logits) continue;
      const int len = s.start_pos + static_cast<int>(s.tokens.size());
      std::vector<int32_t> history(static_cast<size_t>(len));
      for (int p = 0; p < len; ++p) {
        const int64_t t = slot(s, p);
        if (t < 0) throw std::logic_error("fake model: KV of position " + std::to_string(p) + " was never written");
        history[static_cast<size_t>(p)] = static_cast<int32_t>(t);
      }
      const int32_t next = next_(history);
      float* row_out = logits_out + static_cast<size_t>(row) * static_cast<size_t>(config_.vocab_size);
      // Noisy logits in [0, 2) plus a clear winner: greedy picks `next`, sampling varies.
      const uint64_t h = history_hash(history);
      for (int v = 0; v < config_.vocab_size; ++v) {
        row_out[v] = static_cast<float>(mix(h + static_cast<uint64_t>(v)) % 1000) / 500.0f;
      }
      row_out[next] = 4.0f;
      ++row;
    }
  }

  // Gate: while closed, forward() blocks (to freeze the engine mid-step in tests).
  void close_gate() {
    std::lock_guard lock(mutex_);
    gate_open_ = false;
  }
  void open_gate() {
    // Notified under the lock: once forward() can proceed, this thread no longer touches the
    // model, which the engine may destroy right after.
    std::lock_guard lock(mutex_);
    gate_open_ = true;
    gate_cv_.notify_all();
  }
  // Waits until forward() has been entered at least `calls` times.
  void wait_for_forward_calls(int calls) {
    std::unique_lock lock(mutex_);
    entered_.wait(lock, [&] { return forward_calls_ >= calls; });
  }
  void set_fail(bool fail) { fail_ = fail; }
  std::vector<StepRecord> steps() const {
    std::lock_guard lock(mutex_);
    return steps_;
  }

 private:
  int workers_ = 1;
  std::atomic<int> parallel_task_runs_{0};
  int64_t& slot(const SequenceSlice& s, int pos) {
    const size_t block_index = static_cast<size_t>(pos / block_size_);
    if (block_index >= s.block_table.size()) {
      throw std::logic_error("fake model: position " + std::to_string(pos) + " has no block");
    }
    const size_t index = static_cast<size_t>(s.block_table[block_index]) * static_cast<size_t>(block_size_) +
                         static_cast<size_t>(pos % block_size_);
    return cache_.at(index);
  }

  ModelConfig config_;
  NextTokenFn next_;
  int block_size_ = 0;
  std::vector<int64_t> cache_;
  mutable std::mutex mutex_;
  std::condition_variable entered_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  int forward_calls_ = 0;
  std::atomic<bool> fail_{false};
  std::vector<StepRecord> steps_;
};

// Ids 0..255 are single bytes; 256 is "<eos>" and 257 "<pad>" (both special).
class ByteTokenizer : public tokenizer::Tokenizer {
 public:
  static constexpr tokenizer::TokenId kEos = 256;
  static constexpr tokenizer::TokenId kPad = 257;
  static constexpr int kVocab = 258;

  std::vector<tokenizer::TokenId> encode(std::string_view text) const override {
    std::vector<tokenizer::TokenId> ids;
    for (char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::string decode(std::span<const tokenizer::TokenId> ids, bool skip_special) const override {
    std::string out;
    for (auto id : ids) {
      if (is_special(id)) {
        if (!skip_special) out += id == kEos ? "<eos>" : "<pad>";
        continue;
      }
      append_token_bytes(id, out);
    }
    return out;
  }
  size_t vocab_size() const override { return kVocab; }
  std::optional<tokenizer::TokenId> token_to_id(std::string_view) const override { return std::nullopt; }
  std::optional<tokenizer::TokenId> bos_id() const override { return kEos; }
  std::optional<tokenizer::TokenId> eos_id() const override { return kEos; }
  bool append_token_bytes(tokenizer::TokenId id, std::string& out) const override {
    if (id < 0 || id >= kVocab) return false;
    if (id == kEos) {
      out += "<eos>";
    } else if (id == kPad) {
      out += "<pad>";
    } else {
      out.push_back(static_cast<char>(id));
    }
    return true;
  }
  bool is_special(tokenizer::TokenId id) const override { return id >= 256; }
};

}  // namespace llmbench::engine::testing

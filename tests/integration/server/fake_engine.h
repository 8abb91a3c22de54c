#pragma once
// A test double of engine::Engine: its own thread "generates" one token per running request per
// step after a configurable delay, cycling through a fixed text (token id = byte value, see
// FakeTokenizer). It honours max_tokens, stop strings, stop_token_ids, an EOS after N tokens,
// abort(), a running limit (so requests wait) and a waiting limit (so submit() refuses), and
// records what it was asked, so server tests can check what reached the engine.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../unit/server/fake_tokenizer.h"
#include "core/clock.h"
#include "engine/engine.h"

namespace llmbench::server::testing {

struct FakeEngineOptions {
  int max_model_len = 256;
  int64_t step_delay_ms = 2;          // time between steps (one token per running request per step)
  int max_running = 64;               // more than this wait
  int max_waiting = 1000;             // submit() beyond this returns nullopt
  int eos_after = -1;                 // emit EOS as the N-th token unless ignore_eos (-1 = never)
  std::string text = "hello world ";  // generated text, cycled
  int total_blocks = 64;              // for kv_cache_usage: 16 tokens per block
  engine::Architecture architecture = engine::Architecture::kGpt2;
};

class FakeEngine : public engine::Engine {
 public:
  explicit FakeEngine(FakeEngineOptions options = {})
      : options_(std::move(options)), tokenizer_(std::make_shared<FakeTokenizer>()) {
    config_.architecture = options_.architecture;
    config_.name = "fake-model";
    config_.vocab_size = 257;
    config_.max_position = options_.max_model_len;
    config_.eos_token_id = FakeTokenizer::kEos;
    config_.bos_token_id = FakeTokenizer::kEos;
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeEngine() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    // As the real engine: pending requests finish with kAbort.
    for (auto& [id, r] : requests_) {
      engine::RequestOutput out;
      out.finished = true;
      out.finish_reason = engine::FinishReason::kAbort;
      r.request.on_output(out);
    }
  }

  std::optional<uint64_t> submit(engine::GenerationRequest request) override {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(waiting_.size()) >= options_.max_waiting) return std::nullopt;
    uint64_t id = next_id_++;
    submitted_.push_back(request.prompt_tokens);
    submitted_params_.push_back(request.params);
    requests_[id] = Req{std::move(request), {}, "", 0, false};
    waiting_.push_back(id);
    cv_.notify_all();
    return id;
  }
  void abort(uint64_t request_id) override {
    std::lock_guard lock(mutex_);
    aborted_.insert(request_id);
    auto it = requests_.find(request_id);
    if (it != requests_.end()) it->second.abort = true;
    cv_.notify_all();
  }
  engine::EngineStats stats() const override {
    std::lock_guard lock(mutex_);
    engine::EngineStats s;
    s.running = static_cast<int>(running_.size());
    s.waiting = static_cast<int>(waiting_.size());
    int blocks = 0;
    for (uint64_t id : running_) {
      const Req& r = requests_.at(id);
      int tokens = static_cast<int>(r.request.prompt_tokens.size()) + r.generated;
      blocks += (tokens + 15) / 16;
    }
    s.num_blocks = options_.total_blocks;
    s.block_size = 16;
    s.kv_cache_usage = std::min(1.0, static_cast<double>(blocks) / options_.total_blocks);
    s.prompt_tokens_total = prompt_tokens_total_;
    s.generation_tokens_total = generation_tokens_total_;
    s.requests_finished_total = finished_total_;
    s.steps_total = steps_;
    return s;
  }
  const engine::ModelConfig& model_config() const override { return config_; }
  int max_model_len() const override { return options_.max_model_len; }
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer() const override { return tokenizer_; }

  // Test inspection.
  std::vector<std::vector<int32_t>> submitted() const {
    std::lock_guard lock(mutex_);
    return submitted_;
  }
  std::vector<engine::SamplingParams> submitted_params() const {
    std::lock_guard lock(mutex_);
    return submitted_params_;
  }
  std::set<uint64_t> aborted() const {
    std::lock_guard lock(mutex_);
    return aborted_;
  }
  size_t active() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  // Waits until no request is in flight (true) or the timeout passes (false).
  bool wait_idle(int64_t timeout_ms) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (active() == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return active() == 0;
  }

 private:
  struct Req {
    engine::GenerationRequest request;
    std::string text;
    std::string pending_stop;
    int generated = 0;
    bool abort = false;
    int64_t first_scheduled_ns = 0;
    int64_t first_token_ns = 0;
  };

  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (waiting_.empty() && running_.empty()) {
        cv_.wait(lock);
        continue;
      }
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.step_delay_ms));
      lock.lock();
      if (stop_) break;
      ++steps_;
      while (!waiting_.empty() && static_cast<int>(running_.size()) < options_.max_running) {
        uint64_t id = waiting_.front();
        waiting_.pop_front();
        running_.push_back(id);
        Req& r = requests_.at(id);
        r.first_scheduled_ns = now_ns();
        prompt_tokens_total_ += r.request.prompt_tokens.size();
      }
      // Aborted waiting requests finish too.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (requests_.at(*it).abort) {
          running_.push_back(*it);
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      std::vector<std::pair<engine::OutputCallback, engine::RequestOutput>> outputs;
      for (auto it = running_.begin(); it != running_.end();) {
        Req& r = requests_.at(*it);
        engine::RequestOutput out;
        out.prompt_tokens = static_cast<int>(r.request.prompt_tokens.size());
        out.first_scheduled_ns = r.first_scheduled_ns;
        if (r.abort) {
          out.finished = true;
          out.finish_reason = engine::FinishReason::kAbort;
        } else {
          step_one(r, out);
        }
        out.completion_tokens = r.generated;
        outputs.emplace_back(r.request.on_output, std::move(out));
        if (outputs.back().second.finished) {
          ++finished_total_;
          requests_.erase(*it);
          it = running_.erase(it);
        } else {
          ++it;
        }
      }
      lock.unlock();
      for (auto& [callback, out] : outputs) callback(out);
      lock.lock();
    }
  }

  void step_one(Req& r, engine::RequestOutput& out) {
    const auto& p = r.request.params;
    int n = r.generated++;
    ++generation_tokens_total_;
    if (r.first_token_ns == 0) r.first_token_ns = now_ns();
    out.first_token_ns = r.first_token_ns;
    if (options_.eos_after >= 0 && n + 1 == options_.eos_after && !p.ignore_eos && r.generated > p.min_tokens) {
      out.new_token_ids.push_back(FakeTokenizer::kEos);
      out.finished = true;
      out.finish_reason = engine::FinishReason::kStop;
      return;
    }
    char c = options_.text[static_cast<size_t>(n) % options_.text.size()];
    int32_t id = static_cast<unsigned char>(c);
    out.new_token_ids.push_back(id);
    if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), id) != p.stop_token_ids.end()) {
      out.finished = true;
      out.finish_reason = engine::FinishReason::kStop;
      out.stop_reason = std::to_string(id);
      return;
    }
    // Stop strings: hold back text that may be the start of a stop string, as a real detokenizer does.
    r.pending_stop += c;
    for (const auto& s : p.stop) {
      auto pos = r.pending_stop.find(s);
      if (pos != std::string::npos) {
        out.text_delta = r.pending_stop.substr(0, pos);
        r.text += out.text_delta;
        out.finished = true;
        out.finish_reason = engine::FinishReason::kStop;
        out.stop_reason = s;
        return;
      }
    }
    size_t keep = 0;
    for (const auto& s : p.stop) {
      for (size_t k = std::min(s.size() - 1, r.pending_stop.size()); k > keep; --k) {
        if (r.pending_stop.compare(r.pending_stop.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    out.text_delta = r.pending_stop.substr(0, r.pending_stop.size() - keep);
    r.pending_stop.erase(0, r.pending_stop.size() - keep);
    r.text += out.text_delta;
    if (r.generated >= p.max_tokens) {
      out.text_delta += r.pending_stop;
      out.finished = true;
      out.finish_reason = engine::FinishReason::kLength;
    }
  }

  FakeEngineOptions options_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  engine::ModelConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Req> requests_;
  std::deque<uint64_t> waiting_;
  std::vector<uint64_t> running_;
  std::vector<std::vector<int32_t>> submitted_;
  std::vector<engine::SamplingParams> submitted_params_;
  std::set<uint64_t> aborted_;
  uint64_t prompt_tokens_total_ = 0, generation_tokens_total_ = 0, finished_total_ = 0, steps_ = 0;
  std::thread thread_;
};

}  // namespace llmbench::server::testing

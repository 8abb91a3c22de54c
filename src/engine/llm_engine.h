#pragma once
// The reference Engine: one engine thread owns the ModelRunner, the BlockManager and the Scheduler
// and loops step() = schedule, run the model, postprocess (sample, stop checks, detokenize, emit
// outputs). submit()/abort()/stats() are safe from any thread: they only touch a mutex-protected
// inbox and wake the loop through a condition variable; the loop sleeps while it has no work.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/block_manager.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"

namespace llmbench::engine {

// KV cache sizing used by Engine::create (exposed for tests and `llmbench serve` messages).
struct KvCachePlan {
  int max_model_len = 0;
  int num_blocks = 0;
  size_t bytes_per_block = 0;
};
// max_model_len: options.max_model_len, or the model's max_position; clamped to max_position.
// Blocks: options.num_kv_blocks if set, else options.kv_cache_memory_bytes / bytes_per_block, else
// a default of min(max_num_seqs, 64) full-length sequences capped at kDefaultKvCacheBytes (but never
// fewer blocks than one full-length sequence needs). Throws std::invalid_argument when an explicit
// size holds fewer blocks than one max_model_len sequence needs.
KvCachePlan plan_kv_cache(const EngineOptions& options, const ModelConfig& config, size_t bytes_per_block);
inline constexpr size_t kDefaultKvCacheBytes = size_t{1} << 30;

class LlmEngine final : public Engine {
 public:
  // Takes an already loaded model (tests pass a fake); allocates its KV cache and starts the thread.
  LlmEngine(const EngineOptions& options, std::unique_ptr<ModelRunner> model,
            std::shared_ptr<const tokenizer::Tokenizer> tokenizer);
  ~LlmEngine() override;
  LlmEngine(const LlmEngine&) = delete;
  LlmEngine& operator=(const LlmEngine&) = delete;

  std::optional<uint64_t> submit(GenerationRequest request) override;
  void abort(uint64_t request_id) override;
  EngineStats stats() const override;
  const ModelConfig& model_config() const override { return config_; }
  int max_model_len() const override { return max_model_len_; }
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer() const override { return tokenizer_; }

  // Throws std::invalid_argument when the request can never run on this engine.
  void validate(const GenerationRequest& request) const;

 private:
  struct Inbox {
    std::vector<std::pair<uint64_t, GenerationRequest>> requests;
    std::vector<uint64_t> aborts;
  };

  void loop();
  void step();
  // Appends a sampled token, runs the stop checks and detokenization; true when the sequence finished.
  bool process_token(Sequence& seq, int32_t token);
  void emit(Sequence& seq, bool finished);
  // Frees the sequence's blocks, sends its final output and destroys it.
  void finish_and_remove(Sequence& seq, FinishReason reason, const std::string& error);
  void abort_all(const std::string& error);
  void publish_stats();

  EngineOptions options_;
  std::unique_ptr<ModelRunner> model_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  ModelConfig config_;
  int max_model_len_ = 0;
  int eos_token_id_ = -1;

  // Engine thread only.
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<Sampler> samplers_;  // one per model worker thread (scratch buffers)
  struct SampleJob {
    Sequence* seq;
    size_t logits_row;
    int32_t token;
  };
  std::vector<SampleJob> sample_jobs_;
  std::unordered_map<uint64_t, std::unique_ptr<Sequence>> sequences_;
  std::vector<float> logits_;
  std::vector<SequenceSlice> slices_;
  std::string delta_;       // scratch: text of the current token
  RequestOutput output_;    // scratch: reused for every callback
  SamplerRng seed_source_;  // seeds the generators of requests without a seed
  uint64_t steps_total_ = 0;
  uint64_t prompt_tokens_total_ = 0;
  uint64_t generation_tokens_total_ = 0;
  uint64_t preemptions_total_ = 0;
  uint64_t requests_finished_total_ = 0;

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Inbox inbox_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  int scheduler_waiting_ = 0;  // last published, for the max_waiting check
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace llmbench::engine

#pragma once
// The engine loop: one thread owns the model and runs step() = schedule, run, postprocess
// (as nano-vllm does). Other threads (HTTP) only submit and abort requests and receive outputs
// through callbacks; they never touch the model.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_runner.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int top_k = -1;            // -1 = off
  float top_p = 1.0f;
  std::optional<uint64_t> seed;
  int max_tokens = 16;
  int min_tokens = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  std::vector<int32_t> stop_token_ids;
  bool skip_special_tokens = true;
};

enum class FinishReason : uint8_t { kNone, kStop, kLength, kAbort };
const char* to_string(FinishReason reason);  // "stop", "length", "abort"

// One update for one request, produced by the engine thread after a step.
struct RequestOutput {
  std::vector<int32_t> new_token_ids;  // tokens produced since the last update
  std::string text_delta;              // detokenized text since the last update (UTF-8 complete)
  FinishReason finish_reason = FinishReason::kNone;
  bool finished = false;
  std::string stop_reason;  // the stop string or token that matched, if any
  int prompt_tokens = 0;
  int completion_tokens = 0;  // so far
  int64_t first_scheduled_ns = 0;
  int64_t first_token_ns = 0;
  std::string error;  // why the engine failed the request (finish_reason kAbort), empty otherwise
};

// Called on the engine thread. It must not block: copy what it needs and post to its own executor.
using OutputCallback = std::function<void(const RequestOutput&)>;

struct GenerationRequest {
  std::vector<int32_t> prompt_tokens;
  SamplingParams params;
  OutputCallback on_output;
  int64_t arrival_ns = 0;
};

struct EngineOptions {
  LoadOptions load;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;  // 0 = model's max_position
  int block_size = 16;
  size_t kv_cache_memory_bytes = 0;  // 0 = min(max_num_seqs, 64) max_model_len sequences, capped at 1 GiB
  int max_waiting = 4096;            // submit() beyond this is refused (server answers 503)
  bool enable_chunked_prefill = true;
  int num_kv_blocks = 0;  // > 0 overrides kv_cache_memory_bytes (tests, capacity experiments)
};

struct EngineStats {
  int running = 0;
  int waiting = 0;
  int swapped = 0;
  double kv_cache_usage = 0.0;  // used blocks / total blocks, 0..1
  int num_blocks = 0;
  int block_size = 0;
  uint64_t prompt_tokens_total = 0;
  uint64_t generation_tokens_total = 0;
  uint64_t preemptions_total = 0;
  uint64_t requests_finished_total = 0;
  uint64_t steps_total = 0;
};

class Engine {
 public:
  // Loads the model and tokenizer, sizes the KV cache and starts the engine thread. A null
  // tokenizer loads the one in the model folder (Tokenizer::gpt2() for load_format "dummy").
  // Throws std::runtime_error / std::invalid_argument with a clear message on bad options.
  static std::unique_ptr<Engine> create(const EngineOptions& options,
                                        std::shared_ptr<const tokenizer::Tokenizer> tokenizer);
  virtual ~Engine() = default;  // stops the thread; pending requests finish with kAbort

  // Thread-safe. Returns a request id, or nullopt when the queue is full (max_waiting) or the engine
  // is shutting down. Throws std::invalid_argument for a request that can never run (empty prompt,
  // a token outside the vocabulary, prompt + max_tokens > max_model_len, max_tokens < 1,
  // min_tokens > max_tokens, temperature < 0, top_p outside (0, 1]); servers validate first.
  // Outputs arrive on the engine thread, at most one per step; the last has finished = true.
  virtual std::optional<uint64_t> submit(GenerationRequest request) = 0;
  // Thread-safe. Frees the request's KV blocks at the next step; its callback gets a final kAbort.
  virtual void abort(uint64_t request_id) = 0;
  virtual EngineStats stats() const = 0;  // thread-safe snapshot
  virtual const ModelConfig& model_config() const = 0;
  virtual int max_model_len() const = 0;
  virtual std::shared_ptr<const tokenizer::Tokenizer> tokenizer() const = 0;
};

}  // namespace llmbench::engine

#pragma once
// The model contract: what the engine loop asks of a model backend. The CPU backend
// (cpu_model_runner) and the CUDA backend (cuda/cuda_model_runner) implement it, as siblings (as
// calm does with infer.c / infer.cu).
//
// Shapes in comments use: T = tokens in the step, S = sequences in the step, V = vocab size,
// L = layers, B = block_size (tokens per KV block), H = heads, D = head dim.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace llmbench::engine {

enum class Architecture : uint8_t { kOpt, kGpt2 };
enum class DType : uint8_t { kFloat32, kBFloat16, kFloat16 };

struct ModelConfig {
  Architecture architecture = Architecture::kOpt;
  std::string name;      // e.g. "opt-125m"
  int vocab_size = 0;    // V
  int hidden_size = 0;   // d_model
  int num_layers = 0;    // L
  int num_heads = 0;     // H
  int head_dim = 0;      // D = hidden_size / H
  int ffn_dim = 0;       // 4 * d_model for both families
  int max_position = 0;  // positions the model was trained for (max_model_len upper bound)
  int bos_token_id = -1;
  int eos_token_id = -1;
  int pad_token_id = -1;
  float layer_norm_eps = 1e-5f;
  bool do_layer_norm_before = true;  // OPT-350m is post-LN; all others pre-LN
  int word_embed_proj_dim = 0;       // OPT: == hidden_size except opt-350m
};

// One sequence's slice of a step. Tokens occupy positions [start_pos, start_pos + tokens.size()).
// The KV for positions < start_pos is already in the cache blocks listed in block_table; the step
// writes the KV of the new tokens into the same table (the scheduler has allocated enough blocks).
struct SequenceSlice {
  std::span<const int32_t> tokens;       // new tokens of this step (a prefill chunk or one decode token)
  int32_t start_pos = 0;                 // position of tokens[0] (0-based; OPT adds its offset of 2 itself)
  std::span<const int32_t> block_table;  // physical block ids, block i holds positions [i*B, (i+1)*B)
  bool want_logits = false;              // logits of the last token of the slice are needed
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const ModelConfig& config() const = 0;
  // Bytes one KV block takes across all layers (K and V), for sizing the cache from --kv-cache-memory.
  virtual size_t kv_bytes_per_block(int block_size) const = 0;
  // Allocates the paged KV cache; called once before the first forward().
  virtual void allocate_kv_cache(int num_blocks, int block_size) = 0;
  // Runs one step over all slices. logits_out is [count(want_logits), V], rows in slice order.
  virtual void forward(std::span<const SequenceSlice> slices, float* logits_out) = 0;
  // Like forward(), but logits for every token of every slice: [total tokens, V], in slice order
  // (what reference logits are compared with). Default: not supported (throws std::logic_error).
  virtual void forward_all_logits(std::span<const SequenceSlice> slices, float* logits_out);
  // Bytes of weights resident (for reports and the roofline benchmark).
  virtual size_t weight_bytes() const = 0;
  // Runs fn(ctx, task, worker) for every task in [0, num_tasks) on the backend's compute threads
  // (worker < num_workers()) and returns when all are done. The engine samples a step's sequences
  // this way, on the threads that just ran the model. Default: serially on the caller.
  using TaskFn = void (*)(void* ctx, int task, int worker);
  virtual int num_workers() const { return 1; }
  virtual void run_tasks(int num_tasks, TaskFn fn, void* ctx) {
    for (int t = 0; t < num_tasks; ++t) fn(ctx, t, 0);
  }
};

struct LoadOptions {
  std::string model;                 // a HF model folder, or a known name with load_format "dummy"
  std::string load_format = "auto";  // "auto" (safetensors) or "dummy"
  DType dtype = DType::kFloat32;     // compute/storage dtype of the weights (activations are fp32)
  uint64_t seed = 0;                 // dummy weights
  int num_threads = 0;               // 0 = all cores
  // KV cache element type, as vLLM's --kv-cache-dtype: "auto" (bf16 weights → bf16 cache, else
  // fp32), "float32" or "bfloat16".
  std::string kv_cache_dtype = "auto";
  // Where the model runs, as vLLM's --device: "cpu", "cuda" (this build must have the CUDA backend
  // and see a GPU) or "auto" (cuda when both hold, else cpu).
  std::string device = "auto";
  // As vLLM's --enforce-eager: the CUDA backend launches every kernel of every step rather than
  // replaying captured CUDA graphs for decode steps. No effect on the CPU.
  bool enforce_eager = false;
};

// Builds the CPU backend. Throws std::runtime_error with a clear message on bad input.
std::unique_ptr<ModelRunner> load_cpu_model(const LoadOptions& options);
// Builds the backend options.device names (model_loader.cpp). Throws std::runtime_error with a
// clear message on bad input, or for "cuda" when this build has no CUDA backend or sees no GPU.
std::unique_ptr<ModelRunner> load_model(const LoadOptions& options);
// The device "auto" resolves to in this build on this machine: "cuda" or "cpu".
std::string default_device();

// Checks a step's slices against the model and the cache (positions within the model, block
// tables long enough and in range, token ids in the vocabulary) and returns the step's token
// count. Throws std::invalid_argument naming the slice. Every backend calls it first.
int validate_slices(std::span<const SequenceSlice> slices, const ModelConfig& config, int num_blocks, int block_size);

}  // namespace llmbench::engine

#pragma once
// The CPU ModelRunner: OPT and GPT-2 forward over a paged KV cache, continuous batching.
// A step stacks all slices' tokens into one [T, d] activation matrix, so every linear layer is a
// single GEMM (each weight streamed once per step); attention runs per sequence for a decode token
// (its heads block by block; split into head groups when sequences are fewer than the threads) and
// per (sequence, head) for a prompt chunk, each task storing its own new K/V. With bf16 weights, activations move
// between layers as bf16 GEMM inputs produced by the pass before (layer norm, attention, fc1's epilogue), so a layer
// costs 7 thread-pool rounds. Logits are computed only for the rows that need them.
#include <memory>
#include <span>
#include <vector>

#include "engine/cpu_kernels.h"
#include "engine/cpu_thread_pool.h"
#include "engine/model_runner.h"
#include "engine/paged_attention.h"
#include "engine/weights.h"

namespace llmbench::engine {

// Where forward() spends its time, summed over the forwards since the last reset (when enabled:
// a clock read per phase boundary, ~100 per step).
struct ForwardProfile {
  enum Phase { kEmbed, kLayerNorm, kQkv, kAttention, kOutProj, kFc1, kFc2, kLmHead, kCount };
  static constexpr const char* kNames[kCount] = {"embed",    "layer norm", "qkv", "attention",
                                                 "out proj", "fc1",        "fc2", "lm head"};
  int64_t ns[kCount] = {};
  int64_t forwards = 0;
};

class CpuModelRunner final : public ModelRunner {
 public:
  CpuModelRunner(ModelWeights weights, std::unique_ptr<cpu::CpuThreadPool> pool, DType kv_dtype = DType::kFloat32);
  static std::unique_ptr<CpuModelRunner> load(const LoadOptions& options);

  const ModelConfig& config() const override { return weights_.spec.config; }
  size_t kv_bytes_per_block(int block_size) const override;
  void allocate_kv_cache(int num_blocks, int block_size) override;
  void forward(std::span<const SequenceSlice> slices, float* logits_out) override;
  size_t weight_bytes() const override { return weights_.bytes(); }

  void forward_all_logits(std::span<const SequenceSlice> slices, float* logits_out) override;
  // Bytes of weights one decode step streams (all linear layers + the LM head).
  size_t weight_bytes_per_step() const;
  const ModelSpec& spec() const { return weights_.spec; }
  DType dtype() const { return weights_.dtype; }
  DType kv_cache_dtype() const { return kv_dtype_; }
  int num_threads() const { return pool_->size(); }
  int num_workers() const override { return pool_->size(); }
  void run_tasks(int num_tasks, TaskFn fn, void* ctx) override {
    pool_->run(num_tasks, [fn, ctx](int task, int worker) { fn(ctx, task, worker); });
  }
  const char* kernels_name() const { return kernels_->name; }
  void set_profiling(bool on) { profiling_ = on; }
  const ForwardProfile& profile() const { return profile_; }
  void reset_profile() { profile_ = ForwardProfile{}; }
  // Replaces the kernels (tests compare the scalar and AVX-512 paths).
  void set_kernels(const cpu::Kernels& kernels) { kernels_ = &kernels; }

 private:
  void run(std::span<const SequenceSlice> slices, float* logits_out, bool all_rows);
  int validate(std::span<const SequenceSlice> slices) const;
  // A linear layer's input in its GEMM's format: fp32 rows [rows][ldx] for fp32 weights, rows of
  // bf16 pairs (uint32) for bf16 weights.
  struct GemmInput {
    const void* x;
    int ldx;
  };
  // x [rows][w.k()] as w's input: as it is for fp32 weights, rounded to bf16 into `packed` else.
  GemmInput gemm_input(const cpu::PackedMatrix& w, const float* x, int rows, std::vector<uint32_t>& packed);
  // Layer norm of x's rows into h_ as w's input; for bf16 weights each row is packed in the same
  // task, which saves a pass and a thread-pool round.
  GemmInput layer_norm_input(const LayerNormWeights& ln, const cpu::PackedMatrix& w, const float* x, int rows);
  // y = in W^T (+ bias), epilogue, (+ y); or, with y_bf16, the result rounded to bf16 there.
  void gemm(const cpu::PackedMatrix& w, const std::vector<float>& bias, GemmInput in, int rows, float* y, int ldy,
            cpu::Epilogue epilogue, bool accumulate, uint16_t* y_bf16 = nullptr, int ldy_bf16 = 0);
  void linear(const cpu::PackedMatrix& w, const std::vector<float>& bias, const float* x, int rows, float* y, int ldy,
              cpu::Epilogue epilogue, bool accumulate);
  void layer_norm(const LayerNormWeights& ln, const float* x, float* y, int rows);
  // Attention of every slice at `layer`; with pack_out, each task also rounds its output rows to
  // bf16 pairs in attn_bf16_ (the input of a bf16 output projection).
  void attention(int layer, std::span<const SequenceSlice> slices, bool pack_out);
  template <class F>
  void for_rows(int rows, F&& fn);

  ModelWeights weights_;
  std::unique_ptr<cpu::CpuThreadPool> pool_;
  const cpu::Kernels* kernels_;
  DType kv_dtype_;
  PagedKvCache kv_;
  bool profiling_ = false;
  ForwardProfile profile_;

  // Scratch, grown on demand and reused across steps.
  std::vector<int32_t> token_ids_, positions_, slice_row_;
  std::vector<float> x_, h_, qkv_, attn_, ffn_, emb_, out_rows_, out_proj_;
  std::vector<uint32_t> x_bf16_, attn_bf16_, ffn_bf16_;  // bf16 GEMM inputs
  std::vector<std::vector<float>> scores_;               // per thread: a prompt row's scores, or the decode scratch
  struct AttentionTask {
    int slice;
    int head_begin, head_end;  // heads [begin, end)
    bool decode;               // one token: paged_attention_decode over the heads; else one head's prompt chunk
  };
  std::vector<AttentionTask> attention_tasks_;
};

}  // namespace llmbench::engine

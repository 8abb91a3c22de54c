#pragma once
// The CUDA ModelRunner, sibling of the CPU one: OPT and GPT-2 forward over a paged KV cache in
// GPU memory. A step stacks all slices' tokens into one [T, d] activation matrix, as on the CPU, so
// each linear layer is one cuBLAS GEMM (bf16 or fp32 weights, fp32 accumulation); layer norm,
// bias and activation, the K/V store and paged attention are kernels of cuda_kernels.cu. One
// stream; forward() uploads the step's token ids, positions and block tables in one copy, runs
// the layers, and copies the logits of the rows that want them back to the caller. A decode step
// (one token per sequence, each with logits) of T <= kGraphRows rows replays a CUDA graph captured
// for T on first use, as vLLM does, unless LoadOptions::enforce_eager: a graph reads the step's
// metadata from the same device buffers, so only their contents change between replays. The next
// tokens are sampled on the CPU, on the runner's thread pool (run_tasks).
//
// This header holds no CUDA types, so that the engine and tests include it as plain C++.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/cpu_thread_pool.h"
#include "engine/model_config.h"
#include "engine/model_runner.h"
#include "engine/weights.h"

struct CUstream_st;
struct CUgraphExec_st;
struct cublasContext;

namespace llmbench::engine {

// Whether this process sees a CUDA device (false when the driver or the device is missing).
bool cuda_device_available();

class CudaModelRunner final : public ModelRunner {
 public:
  // GPU memory of the runner; the contents are lost when it grows.
  class DeviceBuffer {
   public:
    DeviceBuffer() = default;
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    bool reserve(size_t bytes);                   // at least `bytes`, contents undefined; true if it moved
    void upload(const void* host, size_t bytes);  // exactly `bytes`, copied from the host
    void* get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

   private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
  };

  static std::unique_ptr<CudaModelRunner> load(const LoadOptions& options);
  ~CudaModelRunner() override;

  const ModelConfig& config() const override { return spec_.config; }
  size_t kv_bytes_per_block(int block_size) const override;
  void allocate_kv_cache(int num_blocks, int block_size) override;
  void forward(std::span<const SequenceSlice> slices, float* logits_out) override;
  size_t weight_bytes() const override { return weight_bytes_; }
  int num_workers() const override { return pool_->size(); }
  void run_tasks(int num_tasks, TaskFn fn, void* ctx) override {
    pool_->run(num_tasks, [fn, ctx](int task, int worker) { fn(ctx, task, worker); });
  }

  void forward_all_logits(std::span<const SequenceSlice> slices, float* logits_out) override;
  DType dtype() const { return dtype_; }
  DType kv_cache_dtype() const { return kv_dtype_; }
  const std::string& device_name() const { return device_name_; }
  // Decode steps replay captured CUDA graphs (default: !LoadOptions::enforce_eager); tests and
  // benchmarks compare the two.
  void set_cuda_graphs(bool on) { use_graphs_ = on; }
  int graphs_captured() const { return graphs_captured_; }

  static constexpr int kGraphRows = 256;  // largest decode batch replayed from a graph

 private:
  struct Linear {
    DeviceBuffer w;     // [n, k] row-major, in the weights' dtype
    DeviceBuffer bias;  // [n] fp32, or empty
    int n = 0, k = 0;
  };
  struct LayerNorm {
    DeviceBuffer weight, bias;  // [d] fp32
  };
  struct Layer {
    LayerNorm ln_attn, ln_ffn;
    Linear qkv, out, fc1, fc2;
  };

  CudaModelRunner(const ModelWeights& weights, std::unique_ptr<cpu::CpuThreadPool> pool, DType kv_dtype,
                  bool enforce_eager);
  Linear upload(const cpu::PackedMatrix& w, const std::vector<float>& bias);
  LayerNorm upload(const LayerNormWeights& ln);
  // Frees what is not RAII (graphs, cuBLAS handle, stream, pinned buffers); idempotent.
  void release();
  void run(std::span<const SequenceSlice> slices, float* logits_out, bool all_rows);
  // Validates the slices, writes the step's metadata (token ids [T], row infos [T], output rows
  // [R], attention tiles [num_tiles], block tables) and queues its upload; returns T and sets R and
  // num_tiles.
  int upload_step(std::span<const SequenceSlice> slices, bool all_rows, int& R, int& num_tiles);
  // Grows the activation and logits buffers for T rows and R outputs (at least kGraphRows each).
  void reserve_step_buffers(int T, int R);
  // Queues the whole forward pass, embeddings to the logits of the R output rows, on the stream.
  void enqueue_forward(int T, int R, int num_tiles);
  // Replays (capturing first, if needed) the decode graph of T rows.
  void launch_graph(int T);
  // y [rows, w.n] (row stride ldy) = x [rows, w.k] W^T, plus y when accumulate.
  void gemm(const Linear& w, const void* x, int rows, float* y, int ldy, bool accumulate);

  ModelSpec spec_;
  DType dtype_, kv_dtype_;
  std::unique_ptr<cpu::CpuThreadPool> pool_;
  std::string device_name_;
  CUstream_st* stream_ = nullptr;
  cublasContext* cublas_ = nullptr;
  size_t weight_bytes_ = 0;

  Linear lm_head_, project_in_, project_out_;  // lm_head_ [V, E] is also the token embedding table
  DeviceBuffer positions_;                     // [position_rows, d] fp32
  LayerNorm final_ln_;
  bool has_final_ln_ = false;
  std::vector<Layer> layers_;

  DeviceBuffer kv_;
  int num_blocks_ = 0, block_size_ = 0;
  int tile_rows_ = 1;  // rows per attention tile (cuda::attention_tile_rows)

  static constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
  DeviceBuffer cublas_workspace_;
  struct GraphSlot {
    CUgraphExec_st* exec = nullptr;
    uint64_t generation = 0;  // buffers_generation_ at capture
  };
  std::vector<GraphSlot> graphs_;  // by row count
  bool use_graphs_ = true;
  int graphs_captured_ = 0;
  uint64_t buffers_generation_ = 0;  // bumped whenever a buffer a graph reads moves

  // Per-step buffers, grown on demand: one host and one device copy of the step's metadata (token
  // ids, row infos, output rows, block tables), activations, and the logits on both sides.
  struct PinnedBuffer {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  void reserve_pinned(PinnedBuffer& b, size_t bytes);
  PinnedBuffer meta_host_, logits_host_;
  DeviceBuffer meta_, x_, qkv_, act_, wide_, rows_out_, head_in_, head_proj_, logits_;
};

}  // namespace llmbench::engine

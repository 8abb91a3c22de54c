#include "engine/cuda/cuda_model_runner.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/cuda/cuda_kernels.h"
#include "engine/paged_attention.h"
#include "engine/safetensors_file.h"

namespace llmbench::engine {
namespace {

using cuda::ElementType;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}
void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("cuBLAS: ") + what + ": " + cublasGetStatusString(status));
  }
}

ElementType element_type(DType dtype) {
  return dtype == DType::kBFloat16 ? ElementType::kBFloat16 : ElementType::kFloat32;
}

cuda::ActivationKind activation_kind(Activation a) {
  switch (a) {
    case Activation::kRelu:
      return cuda::ActivationKind::kRelu;
    case Activation::kGeluTanh:
      return cuda::ActivationKind::kGeluTanh;
    case Activation::kGeluErf:
      return cuda::ActivationKind::kGeluErf;
  }
  return cuda::ActivationKind::kNone;
}

}  // namespace

bool cuda_device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

CudaModelRunner::DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}
CudaModelRunner::DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
CudaModelRunner::DeviceBuffer& CudaModelRunner::DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}
bool CudaModelRunner::DeviceBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_) return false;
  if (ptr_) check(cudaFree(ptr_), "cudaFree");
  ptr_ = nullptr;
  bytes_ = 0;
  check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
  bytes_ = bytes;
  return true;
}
void CudaModelRunner::DeviceBuffer::upload(const void* host, size_t bytes) {
  if (bytes == 0) return;
  reserve(bytes);
  bytes_ = bytes;
  check(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), "upload");
}

void CudaModelRunner::reserve_pinned(PinnedBuffer& b, size_t bytes) {
  if (bytes <= b.bytes) return;
  bytes = std::max(bytes, b.bytes * 2);
  if (b.ptr) check(cudaFreeHost(b.ptr), "cudaFreeHost");
  b = {};
  check(cudaMallocHost(&b.ptr, bytes), "cudaMallocHost");
  b.bytes = bytes;
}

std::unique_ptr<CudaModelRunner> CudaModelRunner::load(const LoadOptions& options) {
  if (!cuda_device_available()) throw std::runtime_error("device cuda: no CUDA device is visible to this process");
  const DType kv_dtype = kv_cache_dtype_of(options);
  // The weights go through the CPU loader (safetensors or dummy, converted to the dtype), then to
  // the GPU row-major; the host copy is dropped once uploaded.
  auto pool = std::make_unique<cpu::CpuThreadPool>(options.num_threads);
  const ModelWeights weights = load_model_weights(options, *pool);
  return std::unique_ptr<CudaModelRunner>(
      new CudaModelRunner(weights, std::move(pool), kv_dtype, options.enforce_eager));
}

CudaModelRunner::CudaModelRunner(const ModelWeights& weights, std::unique_ptr<cpu::CpuThreadPool> pool, DType kv_dtype,
                                 bool enforce_eager)
    : spec_(weights.spec), dtype_(weights.dtype), kv_dtype_(kv_dtype), pool_(std::move(pool)) {
  if (dtype_ != DType::kFloat32 && dtype_ != DType::kBFloat16) {
    throw std::invalid_argument("CUDA backend: weights must be float32 or bfloat16");
  }
  if (spec_.config.head_dim > 256 || spec_.config.head_dim % 2 != 0) {
    throw std::invalid_argument("CUDA backend: head_dim must be even and at most 256");
  }
  try {
    cudaDeviceProp props{};
    check(cudaGetDeviceProperties(&props, 0), "cudaGetDeviceProperties");
    device_name_ = props.name;
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&cublas_), "cublasCreate");
    check(cublasSetStream(cublas_, stream_), "cublasSetStream");
    // An explicit workspace: cuBLAS then allocates nothing while a graph is being captured.
    cublas_workspace_.reserve(kCublasWorkspaceBytes);
    check(cublasSetWorkspace(cublas_, cublas_workspace_.get(), kCublasWorkspaceBytes), "cublasSetWorkspace");
    graphs_.resize(kGraphRows + 1);
    use_graphs_ = !enforce_eager;
    tile_rows_ = cuda::attention_tile_rows(spec_.config.head_dim);

    lm_head_ = upload(weights.lm_head, {});
    if (!weights.project_in.empty()) project_in_ = upload(weights.project_in, {});
    if (!weights.project_out.empty()) project_out_ = upload(weights.project_out, {});
    positions_.upload(weights.positions.data(), weights.positions.size() * sizeof(float));
    weight_bytes_ += positions_.bytes();
    has_final_ln_ = !weights.final_ln.weight.empty();
    if (has_final_ln_) final_ln_ = upload(weights.final_ln);
    for (const LayerWeights& lw : weights.layers) {
      Layer l;
      l.ln_attn = upload(lw.ln_attn);
      l.ln_ffn = upload(lw.ln_ffn);
      l.qkv = upload(lw.qkv.w, lw.qkv.bias);
      l.out = upload(lw.out.w, lw.out.bias);
      l.fc1 = upload(lw.fc1.w, lw.fc1.bias);
      l.fc2 = upload(lw.fc2.w, lw.fc2.bias);
      layers_.push_back(std::move(l));
    }
  } catch (...) {
    release();  // the destructor does not run for a constructor that throws
    throw;
  }
}

CudaModelRunner::~CudaModelRunner() {
  release();
}

void CudaModelRunner::release() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (GraphSlot& g : graphs_) {
    if (g.exec) cudaGraphExecDestroy(g.exec);
    g.exec = nullptr;
  }
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
  if (meta_host_.ptr) cudaFreeHost(meta_host_.ptr);
  if (logits_host_.ptr) cudaFreeHost(logits_host_.ptr);
  cublas_ = nullptr;
  stream_ = nullptr;
  meta_host_ = {};
  logits_host_ = {};
}

CudaModelRunner::Linear CudaModelRunner::upload(const cpu::PackedMatrix& w, const std::vector<float>& bias) {
  Linear l;
  l.n = w.n();
  l.k = w.k();
  const size_t n = static_cast<size_t>(l.n), k = static_cast<size_t>(l.k);
  const bool bf16 = dtype_ == DType::kBFloat16;
  std::vector<unsigned char> host(n * k * (bf16 ? 2 : 4));
  const int tasks = std::max(1, std::min(pool_->size() * 4, l.n));
  pool_->run(tasks, [&](int task, int) {
    std::vector<float> row(k);
    const size_t begin = n * task / tasks, end = n * (task + 1) / tasks;
    for (size_t r = begin; r < end; ++r) {
      w.row(static_cast<int>(r), row.data());
      if (bf16) {
        auto* dst = reinterpret_cast<uint16_t*>(host.data()) + r * k;
        for (size_t i = 0; i < k; ++i) dst[i] = float_to_bf16(row[i]);  // exact: the values are bf16
      } else {
        std::memcpy(reinterpret_cast<float*>(host.data()) + r * k, row.data(), k * sizeof(float));
      }
    }
  });
  l.w.upload(host.data(), host.size());
  if (!bias.empty()) l.bias.upload(bias.data(), bias.size() * sizeof(float));
  weight_bytes_ += l.w.bytes() + l.bias.bytes();
  return l;
}

CudaModelRunner::LayerNorm CudaModelRunner::upload(const LayerNormWeights& ln) {
  LayerNorm out;
  out.weight.upload(ln.weight.data(), ln.weight.size() * sizeof(float));
  out.bias.upload(ln.bias.data(), ln.bias.size() * sizeof(float));
  weight_bytes_ += out.weight.bytes() + out.bias.bytes();
  return out;
}

size_t CudaModelRunner::kv_bytes_per_block(int block_size) const {
  const ModelConfig& c = config();  // the same sizes as the CPU cache, in another layout
  return PagedKvCache::bytes_per_block(c.num_layers, block_size, c.num_heads, c.head_dim, kv_dtype_);
}

void CudaModelRunner::allocate_kv_cache(int num_blocks, int block_size) {
  if (num_blocks <= 0 || block_size <= 0) throw std::invalid_argument("KV cache needs blocks of at least one token");
  kv_.reserve(kv_bytes_per_block(block_size) * static_cast<size_t>(num_blocks));
  num_blocks_ = num_blocks;
  block_size_ = block_size;
}

void CudaModelRunner::forward(std::span<const SequenceSlice> slices, float* logits_out) {
  run(slices, logits_out, false);
}

void CudaModelRunner::forward_all_logits(std::span<const SequenceSlice> slices, float* logits_out) {
  run(slices, logits_out, true);
}

void CudaModelRunner::gemm(const Linear& w, const void* x, int rows, float* y, int ldy, bool accumulate) {
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cudaDataType type = dtype_ == DType::kBFloat16 ? CUDA_R_16BF : CUDA_R_32F;
  // Row-major y [rows, n] = x [rows, k] W^T is column-major y^T [n, rows] = W [k, n]^T x^T.
  check(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, w.n, rows, w.k, &alpha, w.w.get(), type, w.k, x, type, w.k,
                     &beta, y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

int CudaModelRunner::upload_step(std::span<const SequenceSlice> slices, bool all_rows, int& R, int& num_tiles) {
  const int T = validate_slices(slices, config(), num_blocks_, block_size_);
  const size_t t = static_cast<size_t>(T);
  // The step's metadata, in one host buffer and one copy: token ids [T], row infos [T], output
  // rows [R], attention tiles [num_tiles], block tables (each slice's blocks up to its last
  // position).
  R = 0;
  num_tiles = 0;
  size_t table_entries = 0;
  for (const SequenceSlice& sl : slices) {
    if (sl.tokens.empty()) continue;
    const size_t end = static_cast<size_t>(sl.start_pos) + sl.tokens.size();
    table_entries += (end + static_cast<size_t>(block_size_) - 1) / static_cast<size_t>(block_size_);
    R += all_rows ? static_cast<int>(sl.tokens.size()) : (sl.want_logits ? 1 : 0);
    num_tiles += (static_cast<int>(sl.tokens.size()) + tile_rows_ - 1) / tile_rows_;
  }
  if (T == 0) return 0;
  const size_t meta_ints = 3 * t + static_cast<size_t>(R) + 2 * static_cast<size_t>(num_tiles) + table_entries;
  reserve_pinned(meta_host_, meta_ints * sizeof(int32_t));
  auto* host_tokens = static_cast<int32_t*>(meta_host_.ptr);
  auto* host_rows = reinterpret_cast<cuda::RowInfo*>(host_tokens + t);
  int32_t* host_out_rows = host_tokens + 3 * t;
  auto* host_tiles = reinterpret_cast<cuda::TileInfo*>(host_out_rows + R);
  int32_t* host_tables = host_out_rows + R + 2 * num_tiles;
  int row = 0, out = 0, tile = 0;
  int32_t table_offset = 0;
  for (const SequenceSlice& sl : slices) {
    if (sl.tokens.empty()) continue;
    const int n = static_cast<int>(sl.tokens.size());
    const int blocks = (sl.start_pos + n + block_size_ - 1) / block_size_;
    std::copy_n(sl.block_table.begin(), blocks, host_tables + table_offset);
    for (int i = 0; i < n; i += tile_rows_) host_tiles[tile++] = {row + i, std::min(tile_rows_, n - i)};
    for (int i = 0; i < n; ++i, ++row) {
      host_tokens[row] = sl.tokens[static_cast<size_t>(i)];
      host_rows[row] = {sl.start_pos + i, table_offset};
      if (all_rows || (sl.want_logits && i == n - 1)) host_out_rows[out++] = row;
    }
    table_offset += blocks;
  }
  // Room for the tables of at least a few thousand blocks, so that steps rarely move the buffer.
  if (meta_.reserve(std::max(meta_ints, size_t{1} << 16) * sizeof(int32_t))) ++buffers_generation_;
  check(cudaMemcpyAsync(meta_.get(), meta_host_.ptr, meta_ints * sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
        "metadata upload");
  return T;
}

void CudaModelRunner::reserve_step_buffers(int T, int R) {
  const ModelConfig& c = config();
  const size_t d = static_cast<size_t>(c.hidden_size), e = static_cast<size_t>(c.word_embed_proj_dim);
  const size_t ffn = static_cast<size_t>(c.ffn_dim), V = static_cast<size_t>(c.vocab_size);
  const size_t wb = cuda::element_bytes(element_type(dtype_));
  // At least kGraphRows rows, so that decode batches growing one sequence at a time do not move
  // the buffers (which would invalidate the captured graphs).
  const size_t t = std::max(static_cast<size_t>(T), static_cast<size_t>(kGraphRows));
  const size_t r = std::max(static_cast<size_t>(R), static_cast<size_t>(kGraphRows));
  bool moved = false;
  moved |= x_.reserve(t * d * sizeof(float));
  moved |= qkv_.reserve(t * 3 * d * sizeof(float));
  moved |= act_.reserve(t * std::max({d, e, ffn}) * wb);
  moved |= wide_.reserve(t * std::max(ffn, e) * sizeof(float));
  moved |= rows_out_.reserve(r * d * sizeof(float));
  moved |= head_in_.reserve(r * std::max(d, e) * wb);
  moved |= head_proj_.reserve(r * e * sizeof(float));
  moved |= logits_.reserve(r * V * sizeof(float));
  if (moved) ++buffers_generation_;
}

void CudaModelRunner::enqueue_forward(int T, int R, int num_tiles) {
  const ModelConfig& c = config();
  const int d = c.hidden_size, e = c.word_embed_proj_dim, ffn = c.ffn_dim, V = c.vocab_size;
  const size_t t = static_cast<size_t>(T);
  const auto* tokens = static_cast<const int32_t*>(meta_.get());
  const auto* rows = reinterpret_cast<const cuda::RowInfo*>(tokens + t);
  const int32_t* out_rows = tokens + 3 * t;
  const auto* tiles = reinterpret_cast<const cuda::TileInfo*>(out_rows + R);
  const int32_t* tables = out_rows + R + 2 * num_tiles;
  const ElementType wt = element_type(dtype_);
  auto* x = static_cast<float*>(x_.get());
  auto* qkv = static_cast<float*>(qkv_.get());
  void* act = act_.get();
  auto* wide = static_cast<float*>(wide_.get());
  const auto* positions = static_cast<const float*>(positions_.get());
  cudaStream_t s = stream_;

  // Embeddings: token (from the tied LM head; OPT project_in when E != d) + position.
  if (spec_.project_in_out()) {
    cuda::embed(tokens, rows, T, lm_head_.w.get(), wt, e, nullptr, 0, wide, s);
    cuda::convert(wide, t * e, act, wt, s);
    gemm(project_in_, act, T, x, d, false);
    cuda::add_positions(x, rows, T, d, positions, spec_.position_offset, s);
  } else {
    cuda::embed(tokens, rows, T, lm_head_.w.get(), wt, d, positions, spec_.position_offset, x, s);
  }

  const cuda::KvCacheView kv{kv_.get(), element_type(kv_dtype_), num_blocks_, block_size_, c.num_heads, c.head_dim};
  const bool pre_ln = c.do_layer_norm_before;
  const cuda::ActivationKind fc_act = activation_kind(spec_.activation);
  auto norm = [&](const LayerNorm& ln, const float* in, int n_rows, void* dst, ElementType dst_type) {
    cuda::layer_norm(in, n_rows, d, static_cast<const float*>(ln.weight.get()),
                     static_cast<const float*>(ln.bias.get()), c.layer_norm_eps, dst, dst_type, s);
  };
  auto bias_of = [](const Linear& l) { return static_cast<const float*>(l.bias.get()); };
  for (int l = 0; l < c.num_layers; ++l) {
    const Layer& lw = layers_[static_cast<size_t>(l)];
    float scale = spec_.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(c.head_dim)) : 1.0f;
    if (spec_.scale_attn_by_inverse_layer_idx) scale /= static_cast<float>(l + 1);
    // Attention block.
    if (pre_ln) {
      norm(lw.ln_attn, x, T, act, wt);
    } else {
      cuda::convert(x, t * d, act, wt, s);
    }
    gemm(lw.qkv, act, T, qkv, 3 * d, false);
    cuda::qkv_bias_store_kv(qkv, T, bias_of(lw.qkv), rows, tables, kv, l, s);
    cuda::attention(qkv, rows, tiles, num_tiles, num_tiles == T, tables, kv, l, scale, act, wt, s);
    gemm(lw.out, act, T, x, d, true);  // x += attention
    cuda::add_bias(x, T, d, bias_of(lw.out), s);
    if (!pre_ln) norm(lw.ln_attn, x, T, x, ElementType::kFloat32);
    // Feed-forward block.
    if (pre_ln) {
      norm(lw.ln_ffn, x, T, act, wt);
    } else {
      cuda::convert(x, t * d, act, wt, s);
    }
    gemm(lw.fc1, act, T, wide, ffn, false);
    cuda::bias_activation(wide, T, ffn, bias_of(lw.fc1), fc_act, act, wt, s);
    gemm(lw.fc2, act, T, x, d, true);  // x += feed-forward
    cuda::add_bias(x, T, d, bias_of(lw.fc2), s);
    if (!pre_ln) norm(lw.ln_ffn, x, T, x, ElementType::kFloat32);
  }
  if (R == 0) return;

  // Logits of the output rows: final layer norm (or none), OPT project_out, tied LM head.
  const size_t r = static_cast<size_t>(R);
  auto* picked = static_cast<float*>(rows_out_.get());
  cuda::gather_rows(x, d, out_rows, R, picked, s);
  if (has_final_ln_) {
    norm(final_ln_, picked, R, head_in_.get(), wt);
  } else {
    cuda::convert(picked, r * d, head_in_.get(), wt, s);
  }
  if (spec_.project_in_out()) {
    gemm(project_out_, head_in_.get(), R, static_cast<float*>(head_proj_.get()), e, false);
    cuda::convert(static_cast<const float*>(head_proj_.get()), r * e, head_in_.get(), wt, s);
  }
  gemm(lm_head_, head_in_.get(), R, static_cast<float*>(logits_.get()), V, false);
}

void CudaModelRunner::launch_graph(int T) {
  GraphSlot& slot = graphs_[static_cast<size_t>(T)];
  if (slot.exec == nullptr || slot.generation != buffers_generation_) {
    if (slot.exec) check(cudaGraphExecDestroy(slot.exec), "cudaGraphExecDestroy");
    slot.exec = nullptr;
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      enqueue_forward(T, T, T);  // a decode step: one tile per row
    } catch (...) {
      if (cudaStreamEndCapture(stream_, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    const cudaError_t instantiated = cudaGraphInstantiate(&slot.exec, graph, 0);
    cudaGraphDestroy(graph);
    check(instantiated, "cudaGraphInstantiate");
    slot.generation = buffers_generation_;
    ++graphs_captured_;
  }
  check(cudaGraphLaunch(slot.exec, stream_), "cudaGraphLaunch");
}

void CudaModelRunner::run(std::span<const SequenceSlice> slices, float* logits_out, bool all_rows) {
  if (kv_.get() == nullptr) throw std::logic_error("forward() before allocate_kv_cache()");
  int R = 0, num_tiles = 0;
  const int T = upload_step(slices, all_rows, R, num_tiles);
  if (T == 0) return;
  reserve_step_buffers(T, R);
  // A step of one token per sequence (a tile per row), each with its logits (a decode step),
  // replays the graph captured for its row count: one launch instead of ~140.
  const bool decode_step = num_tiles == T && R == T;
  if (use_graphs_ && decode_step && T <= kGraphRows) {
    launch_graph(T);
  } else {
    enqueue_forward(T, R, num_tiles);
  }
  const size_t floats = static_cast<size_t>(R) * static_cast<size_t>(config().vocab_size);
  if (R > 0) {
    reserve_pinned(logits_host_, floats * sizeof(float));
    check(cudaMemcpyAsync(logits_host_.ptr, logits_.get(), floats * sizeof(float), cudaMemcpyDeviceToHost, stream_),
          "logits download");
  }
  check(cudaGetLastError(), "kernel launch");
  check(cudaStreamSynchronize(stream_), "forward");
  if (R == 0) return;
  // Pinned -> caller's buffer, split over the pool when there is much of it (32 rows are 6 MB).
  const auto* src = static_cast<const float*>(logits_host_.ptr);
  const int tasks = std::clamp(static_cast<int>(floats >> 18), 1, pool_->size());
  pool_->run(tasks, [&](int task, int) {
    const size_t begin = floats * task / tasks, end = floats * (task + 1) / tasks;
    std::memcpy(logits_out + begin, src + begin, (end - begin) * sizeof(float));
  });
}

}  // namespace llmbench::engine

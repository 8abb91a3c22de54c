#pragma once
// CPU compute kernels for the model runner: packed weight matrices, GEMM for fp32 and bf16
// weights, attention helpers, activations. Each has a portable scalar version and an AVX-512
// version (compiled with target attributes in cpu_kernels_avx512.cpp, selected at run time from
// cpuid), so one binary runs on any x86-64.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/huge_page_buffer.h"
#include "engine/model_runner.h"

namespace llmbench::engine::cpu {

struct CpuFeatures {
  bool avx512 = false;       // AVX-512 F/BW/VL/DQ with OS support for the zmm state
  bool avx512_bf16 = false;  // AVX512_BF16 (vdpbf16ps)
  bool amx_bf16 = false;     // AMX-TILE + AMX-BF16 with tile data enabled by the OS (Sapphire Rapids on)
};
// Detection asks Linux for the AMX tile state (arch_prctl), once per process.
CpuFeatures detect_cpu_features();

// Weight matrix W [N, K] of a linear layer y = x W^T (+ b), packed for streaming GEMM.
// Output columns form panels of 16 and groups of 4 panels (64 columns; the last group may hold
// fewer panels). A group is contiguous: fp32 [K][np*16]; bf16 [K/2][np*16][2] (pairs of
// consecutive k for vdpbf16ps, K padded to even with zeros). The kernel streams a group once for
// up to 6 rows of x at a time, so one decode step reads every weight exactly once.
class PackedMatrix {
 public:
  static constexpr int kPanel = 16;
  static constexpr int kGroupPanels = 4;
  static constexpr int kGroupColumns = kPanel * kGroupPanels;

  PackedMatrix() = default;
  PackedMatrix(int n, int k, DType dtype);  // zero-filled; dtype kFloat32 or kBFloat16

  int n() const { return n_; }
  int k() const { return k_; }
  int k_pad() const { return k_pad_; }
  int panels() const { return panels_; }
  int groups() const { return (panels_ + kGroupPanels - 1) / kGroupPanels; }
  DType dtype() const { return dtype_; }
  size_t bytes() const { return elements_ * (dtype_ == DType::kFloat32 ? 4 : 2); }
  bool empty() const { return n_ == 0; }
  const void* data() const { return data_.get(); }

  size_t offset(int n, int k) const {
    const size_t g = static_cast<size_t>(n) / kGroupColumns;
    const int np = group_panels(static_cast<int>(g));
    const int c = n % kGroupColumns;
    if (dtype_ == DType::kFloat32) return g * kGroupColumns * k_pad_ + static_cast<size_t>(k) * np * kPanel + c;
    return g * kGroupColumns * k_pad_ + static_cast<size_t>(k / 2) * np * kPanel * 2 + c * 2 + (k & 1);
  }
  int group_panels(int g) const {
    return panels_ - g * kGroupPanels < kGroupPanels ? panels_ - g * kGroupPanels : kGroupPanels;
  }
  void set(int n, int k, float value);
  float get(int n, int k) const;
  void row(int n, float* out) const;  // W[n, :] as floats (the embedding lookup of a tied LM head)
  // Fills group g (all its columns and k) with approximately normal(0, std) values from a
  // counter-based generator keyed by (key, g): fast enough for 125M-parameter dummy models.
  void fill_group_random(int g, uint64_t key, float std);

 private:
  int n_ = 0, k_ = 0, k_pad_ = 0, panels_ = 0;
  DType dtype_ = DType::kFloat32;
  size_t elements_ = 0;
  HugePageBuffer data_;
};

// Applied to each result after the bias: ReLU (OPT), or gelu_new's tanh approximation (GPT-2), as
// the gelu_tanh kernel computes it.
enum class Epilogue : uint8_t { kNone, kRelu, kGeluTanh };

// y[r, n] (+)= x[r, :] . W[n, :] + bias[n] for rows [0, rows) and the groups [group_begin, group_end),
// of which only panels [panel_begin, panel_end) (indices over the whole matrix) are computed: a
// matrix of few groups (768 columns are 12 groups) can then be split evenly over more threads.
struct GemmArgs {
  const void* x = nullptr;  // fp32 [rows][ldx] for fp32 weights; bf16 pairs (uint32) [rows][ldx] for bf16
  int ldx = 0;              // in floats, or in uint32 pairs
  int rows = 0;
  const PackedMatrix* w = nullptr;
  int group_begin = 0, group_end = 0;
  int panel_begin = 0, panel_end = 1 << 30;
  // Panels [begin, end) of the whole matrix, and the groups that hold them.
  void set_panel_window(int begin, int end) {
    panel_begin = begin;
    panel_end = end;
    group_begin = begin / PackedMatrix::kGroupPanels;
    group_end = (end + PackedMatrix::kGroupPanels - 1) / PackedMatrix::kGroupPanels;
  }
  const float* bias = nullptr;  // [N] or null
  float* y = nullptr;
  int ldy = 0;
  Epilogue epilogue = Epilogue::kNone;
  bool accumulate = false;  // y += result (residual add) instead of y = result
  // When set, results go here as bf16 (round to nearest even) instead of to y: row r at
  // y_bf16 + r * ldy_bf16, column n at [n], ready as the bf16 GEMM input of the next layer
  // (whose k_pad must then equal N). accumulate must be false.
  uint16_t* y_bf16 = nullptr;
  int ldy_bf16 = 0;
};

// One layer of a sequence's paged bf16 KV cache (the layout of paged_attention.h), as the
// attention kernels read it: logical block b lives in physical block block_table[b]; head h's K
// tile ([D][block_size]) of physical block p starts at kv + p * block_stride + h * block_size * D
// (elements), its V tile ([block_size][D]) v_offset elements further.
struct Bf16PagedKv {
  const uint16_t* kv = nullptr;
  size_t block_stride = 0, v_offset = 0;
  const int32_t* block_table = nullptr;
  int head_dim = 0, block_size = 0;
  const uint16_t* k_tile(int block, int head) const {
    return kv + static_cast<size_t>(block_table[block]) * block_stride +
           static_cast<size_t>(head) * block_size * head_dim;
  }
};

// Decode attention of one query token at position context - 1 over heads [head_begin, head_end).
struct DecodeAttentionArgs {
  Bf16PagedKv cache;
  const float* q = nullptr;  // [H * D]
  float* out = nullptr;      // [H * D]; heads [head_begin, head_end) are written
  int context = 0, head_begin = 0, head_end = 0;
  float scale = 1.0f;
  float* scratch = nullptr;  // decode_attention_scratch_floats(head_end - head_begin, head_dim) floats
};
inline size_t decode_attention_scratch_floats(int heads, int head_dim) {
  return static_cast<size_t>(heads) * (2 + 9 * static_cast<size_t>(head_dim)) + 16;
}

// Causal attention of one head for `count` consecutive query tokens at positions
// [start_pos, start_pos + count) (a prompt chunk), whose K/V are already in the cache; query row
// r's head slice at q + r * ldq + head * D, its output at out + r * ldo + head * D.
struct PrefillAttentionArgs {
  Bf16PagedKv cache;
  const float* q = nullptr;
  size_t ldq = 0;
  float* out = nullptr;
  size_t ldo = 0;
  int start_pos = 0, count = 0, head = 0;
  float scale = 1.0f;
  float* scratch = nullptr;  // prefill_attention_scratch_floats(head_dim) floats
};
inline size_t prefill_attention_scratch_floats(int head_dim) {
  return 32 * static_cast<size_t>(head_dim) + 80;
}

struct Kernels {
  const char* name = "scalar";
  void (*gemm_f32)(const GemmArgs&) = nullptr;
  void (*gemm_bf16)(const GemmArgs&) = nullptr;
  // out[j] = scale * sum_i q[i] * k_t[i * ldk + j] for j < n (K stored transposed: [d][ldk])
  void (*qk_scores)(const float* q, const float* k_t, int n, int d, int ldk, float scale, float* out) = nullptr;
  // out[0..d) += sum_j p[j] * v[j*d .. j*d+d)
  void (*pv_accumulate)(const float* p, const float* v, int n, int d, float* out) = nullptr;
  // The same two over a bf16 KV cache (K and V as bf16 bit patterns; q, p, out and sums in fp32).
  void (*qk_scores_bf16)(const float* q, const uint16_t* k_t, int n, int d, int ldk, float scale, float* out) = nullptr;
  void (*pv_accumulate_bf16)(const float* p, const uint16_t* v, int n, int d, float* out) = nullptr;
  // x = exp(x - max) / sum
  void (*softmax)(float* x, int n) = nullptr;
  // x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (gelu_new)
  void (*gelu_tanh)(float* x, size_t n) = nullptr;
  // Sum of n floats, read as one stream (the memory-bandwidth probe of bench/decode_roofline).
  float (*stream_sum)(const float* x, size_t n) = nullptr;
  // Sampling weights: out[i] = exp((x[i] - max) * inv_t), exactly 0 where x[i] is -inf or NaN;
  // returns their sum. max must be the largest finite x.
  float (*exp_weights)(const float* x, int n, float max, float inv_t, float* out) = nullptr;
  // Rounds rows of fp32 activations to bf16 pairs for the bf16 GEMM (see pack_activations_bf16).
  void (*pack_bf16)(const float* x, int rows, int k, int ldx, uint32_t* out, int k_pad) = nullptr;
  // y[0..d) = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias (one row; y may be x).
  void (*layer_norm)(const float* x, int d, const float* weight, const float* bias, float eps, float* y) = nullptr;
  // Index of the largest x[i], NaN skipped, the first one on ties (torch.argmax); 0 when all are NaN.
  int32_t (*argmax)(const float* x, int n) = nullptr;
  // Optional (null in the scalar set): a whole decode attention in one kernel. Returns false,
  // having done nothing, for a shape it does not handle; the caller then composes the helpers above.
  bool (*decode_attention_bf16)(const DecodeAttentionArgs& args) = nullptr;
  // Optional likewise: a prompt chunk's attention for one head, several query rows per pass over
  // each K/V block.
  bool (*prefill_attention_bf16)(const PrefillAttentionArgs& args) = nullptr;
};

const Kernels& scalar_kernels();
// nullptr when this CPU lacks AVX-512; bf16 GEMM uses vdpbf16ps when available, else converts.
const Kernels* avx512_kernels();
// nullptr without AMX: the AVX-512 kernels with a bf16 GEMM on AMX tiles for 16 rows or more.
const Kernels* amx_kernels();
// The fastest kernels this CPU supports, unless LLMBENCH_CPU_KERNELS (scalar, avx512, amx) names
// others (for side-by-side benchmarks; an unavailable choice falls back to the best available).
const Kernels& best_kernels();

// Rounds rows of fp32 activations to bf16 pairs (round to nearest even, zero-padding K to k_pad)
// for the bf16 GEMM: row r becomes out[r * k_pad / 2 ..], pair i = x[2i] | x[2i + 1] << 16.
void pack_activations_bf16(const float* x, int rows, int k, int ldx, uint32_t* out, int k_pad);

// The panels of group g that a call computes: [first, first + count) within the group.
struct GroupPanels {
  int first = 0, count = 0;
};
inline GroupPanels group_panels_in(const GemmArgs& a, int g) {
  const int base = g * PackedMatrix::kGroupPanels;
  const int first = a.panel_begin > base ? a.panel_begin - base : 0;
  const int end = a.panel_end - base < a.w->group_panels(g) ? a.panel_end - base : a.w->group_panels(g);
  return {first, end > first ? end - first : 0};
}

namespace detail {
const Kernels* avx512_kernels_impl(bool bf16);  // defined in cpu_kernels_avx512.cpp
// Bias, epilogue and store (fp32, accumulate or bf16, as `a` says) of finished sums c[rows][ldc]
// for output rows [row0, row0 + rows) and columns [col0, col0 + cols), cols a multiple of 16.
void store_block_avx512(const GemmArgs& a, int row0, int rows, int col0, int cols, const float* c, int ldc);
const Kernels* amx_kernels_impl();  // defined in cpu_kernels_amx.cpp
// Defined in cpu_kernels_attention_avx512.cpp.
bool decode_attention_bf16_avx512(const DecodeAttentionArgs& args);
bool prefill_attention_bf16_avx512(const PrefillAttentionArgs& args);
}  // namespace detail

}  // namespace llmbench::engine::cpu

// AVX-512 kernels. Everything below the target pragma is compiled for AVX-512 (and AVX512_BF16
// for the bf16 GEMM) and only reached after cpuid says the CPU has it; the code in this region uses
// intrinsics and plain loops only, so no inline library function is emitted with AVX-512 code.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "engine/cpu_kernels.h"

#pragma GCC push_options
// GCC 12's intrinsic headers self-initialize "undefined" vectors (__Y = __Y), which -Wuninitialized
// flags once the intrinsics are inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma")

#include "engine/avx512_math.h"

namespace llmbench::engine::cpu {
namespace {

constexpr int kMaxRows = 6;

// Spreads the prefetch of `lines` cache lines from `pf` over `iterations` loop iterations, so that
// while a weight group is reused from L2 by its later row tiles, the next group streams in from
// memory instead of stalling the first tile that reads it. The T0 hint measured ~5% faster than
// T1 over a decode step's GEMMs at 32 rows (bench: 12.1-12.5 ms against 12.8-12.9 ms).
struct SpreadPrefetch {
  const char* pf;
  int lines, iterations, acc = 0, next = 0;
  inline void step() {
    acc += lines;
    while (acc >= iterations && next < lines) {
      _mm_prefetch(pf + static_cast<size_t>(next) * 64, _MM_HINT_T0);
      ++next;
      acc -= iterations;
    }
  }
};

inline __m512 gelu_tanh_ps(__m512 v);

// fp32 to bf16, round to nearest even, NaN quieted: float_to_bf16 on 16 lanes (AVX-512F only, so
// the fp32 and widening kernels can use it too).
inline __m256i to_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

// One row's 16 (masked: fewer) finished sums at (row, col): bias, epilogue, then stored as fp32
// (added to y for a residual) or rounded to bf16 for the next layer.
inline void store_result(const GemmArgs& a, int row, int col, __mmask16 m, __m512 bias, __m512 sum) {
  __m512 v = _mm512_add_ps(sum, bias);
  if (a.epilogue == Epilogue::kRelu) v = _mm512_max_ps(v, _mm512_setzero_ps());
  if (a.epilogue == Epilogue::kGeluTanh) v = gelu_tanh_ps(v);
  if (a.y_bf16 != nullptr) {
    _mm256_mask_storeu_epi16(a.y_bf16 + static_cast<size_t>(row) * a.ldy_bf16 + col, m, to_bf16(v));
    return;
  }
  float* y = a.y + static_cast<size_t>(row) * a.ldy + col;
  if (a.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, v);
}

template <int MR, int NP>
inline void store_tile(const GemmArgs& a, int row0, int col0, __m512 (&acc)[MR][NP]) {
  const int n_total = a.w->n();
  for (int j = 0; j < NP; ++j) {
    const int col = col0 + j * 16;
    if (col >= n_total) break;
    const __mmask16 m = column_mask(n_total - col);
    const __m512 b = a.bias != nullptr ? _mm512_maskz_loadu_ps(m, a.bias + col) : _mm512_setzero_ps();
    for (int i = 0; i < MR; ++i) {
      store_result(a, row0 + i, col, m, b, acc[i][j]);
    }
  }
}

template <int MR, int NP>
void tile_f32(const GemmArgs& a, int row0, int g, int p0, const char* pf, int pf_lines) {
  const PackedMatrix& w = *a.w;
  const int k_pad = w.k_pad();
  const int stride = w.group_panels(g) * 16;  // floats per k row of the group
  const float* wg =
      static_cast<const float*>(w.data()) + static_cast<size_t>(g) * PackedMatrix::kGroupColumns * k_pad + p0 * 16;
  const float* x = static_cast<const float*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  SpreadPrefetch spread{pf, pf_lines, k_pad};
  for (int k = 0; k < k_pad; ++k) {
    spread.step();
    const float* wk = wg + static_cast<size_t>(k) * stride;
    _mm_prefetch(reinterpret_cast<const char*>(wk + 16 * stride), _MM_HINT_T0);
    __m512 wv[NP];
    for (int j = 0; j < NP; ++j) wv[j] = _mm512_load_ps(wk + j * 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xb = _mm512_set1_ps(x[static_cast<size_t>(i) * a.ldx + k]);
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ps(xb, wv[j], acc[i][j]);
    }
  }
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns + p0 * 16, acc);
}

template <int MR, int NP>
__attribute__((target("avx512bf16"))) void tile_bf16(const GemmArgs& a, int row0, int g, int p0, const char* pf,
                                                     int pf_lines) {
  const PackedMatrix& w = *a.w;
  const int k_pairs = w.k_pad() / 2;
  const int stride = w.group_panels(g) * 32;  // bf16 elements per k pair row of the group
  const uint16_t* wg = static_cast<const uint16_t*>(w.data()) +
                       static_cast<size_t>(g) * PackedMatrix::kGroupColumns * w.k_pad() + p0 * 32;
  const uint32_t* x = static_cast<const uint32_t*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  SpreadPrefetch spread{pf, pf_lines, k_pairs};
  for (int kk = 0; kk < k_pairs; ++kk) {
    spread.step();
    const uint16_t* wk = wg + static_cast<size_t>(kk) * stride;
    _mm_prefetch(reinterpret_cast<const char*>(wk + 16 * stride), _MM_HINT_T0);
    __m512bh wv[NP];
    for (int j = 0; j < NP; ++j) wv[j] = (__m512bh)_mm512_load_si512(wk + j * 32);
    for (int i = 0; i < MR; ++i) {
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[static_cast<size_t>(i) * a.ldx + kk]));
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xb, wv[j]);
    }
  }
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns + p0 * 16, acc);
}

// bf16 weights on AVX-512 CPUs without AVX512_BF16: widen to fp32 (exact) and FMA.
template <int MR, int NP>
void tile_bf16_widen(const GemmArgs& a, int row0, int g, int p0, const char* pf, int pf_lines) {
  const PackedMatrix& w = *a.w;
  const int k_pairs = w.k_pad() / 2;
  const int stride = w.group_panels(g) * 32;  // bf16 elements per k pair row of the group
  const uint16_t* wg = static_cast<const uint16_t*>(w.data()) +
                       static_cast<size_t>(g) * PackedMatrix::kGroupColumns * w.k_pad() + p0 * 32;
  const uint32_t* x = static_cast<const uint32_t*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  SpreadPrefetch spread{pf, pf_lines, k_pairs};
  for (int kk = 0; kk < k_pairs; ++kk) {
    spread.step();
    const uint16_t* wk = wg + static_cast<size_t>(kk) * stride;
    __m512 w_even[NP], w_odd[NP];
    for (int j = 0; j < NP; ++j) {
      const __m512i v = _mm512_load_si512(wk + j * 32);  // 16 pairs: low half even k, high half odd k
      w_even[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      w_odd[j] = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
    }
    for (int i = 0; i < MR; ++i) {
      const uint32_t pair = x[static_cast<size_t>(i) * a.ldx + kk];
      const __m512 x0 = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(pair << 16)));
      const __m512 x1 = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(pair & 0xffff0000u)));
      for (int j = 0; j < NP; ++j) {
        acc[i][j] = _mm512_fmadd_ps(x0, w_even[j], acc[i][j]);
        acc[i][j] = _mm512_fmadd_ps(x1, w_odd[j], acc[i][j]);
      }
    }
  }
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns + p0 * 16, acc);
}

enum class Variant { kF32, kBf16, kBf16Widen };

template <Variant V, int MR, int NP>
inline void tile(const GemmArgs& a, int row0, int g, int p0, const char* pf, int pf_lines) {
  if constexpr (V == Variant::kF32) {
    tile_f32<MR, NP>(a, row0, g, p0, pf, pf_lines);
  } else if constexpr (V == Variant::kBf16) {
    tile_bf16<MR, NP>(a, row0, g, p0, pf, pf_lines);
  } else {
    tile_bf16_widen<MR, NP>(a, row0, g, p0, pf, pf_lines);
  }
}

template <Variant V, int MR>
inline void tile_rows(const GemmArgs& a, int row0, int g, GroupPanels gp, const char* pf, int pf_lines) {
  switch (gp.count) {
    case 1:
      tile<V, MR, 1>(a, row0, g, gp.first, pf, pf_lines);
      break;
    case 2:
      tile<V, MR, 2>(a, row0, g, gp.first, pf, pf_lines);
      break;
    case 3:
      tile<V, MR, 3>(a, row0, g, gp.first, pf, pf_lines);
      break;
    default:
      tile<V, MR, 4>(a, row0, g, gp.first, pf, pf_lines);
      break;
  }
}

// Rows are split into ceil(rows / kMaxRows) tiles of near-equal height (32 rows: 6,6,5,5,5,5
// rather than 6,6,6,6,6,2), and each group's weights are read from memory once, by its first tile.
template <Variant V>
void gemm(const GemmArgs& a) {
  const PackedMatrix& w = *a.w;
  const size_t elem_bytes = V == Variant::kF32 ? 4 : 2;
  const int tiles = (a.rows + kMaxRows - 1) / kMaxRows;
  for (int g = a.group_begin; g < a.group_end; ++g) {
    const GroupPanels gp = group_panels_in(a, g);
    if (gp.count == 0) continue;
    const char* next = nullptr;
    int next_lines = 0;
    if (tiles > 1 && g + 1 < a.group_end) {
      next = static_cast<const char*>(w.data()) +
             static_cast<size_t>(g + 1) * PackedMatrix::kGroupColumns * w.k_pad() * elem_bytes;
      next_lines = static_cast<int>(static_cast<size_t>(w.group_panels(g + 1)) * PackedMatrix::kPanel * w.k_pad() *
                                    elem_bytes / 64);
    }
    int row0 = 0;
    for (int t = 0; t < tiles; ++t) {
      const int mr = a.rows / tiles + (t < a.rows % tiles ? 1 : 0);
      const int first = static_cast<int>(static_cast<int64_t>(next_lines) * t / tiles);
      const int last = static_cast<int>(static_cast<int64_t>(next_lines) * (t + 1) / tiles);
      const char* pf = next + static_cast<size_t>(first) * 64;
      switch (mr) {
        case 1:
          tile_rows<V, 1>(a, row0, g, gp, pf, last - first);
          break;
        case 2:
          tile_rows<V, 2>(a, row0, g, gp, pf, last - first);
          break;
        case 3:
          tile_rows<V, 3>(a, row0, g, gp, pf, last - first);
          break;
        case 4:
          tile_rows<V, 4>(a, row0, g, gp, pf, last - first);
          break;
        case 5:
          tile_rows<V, 5>(a, row0, g, gp, pf, last - first);
          break;
        default:
          tile_rows<V, 6>(a, row0, g, gp, pf, last - first);
          break;
      }
      row0 += mr;
    }
  }
}

void gemm_f32_avx512(const GemmArgs& a) {
  gemm<Variant::kF32>(a);
}
void gemm_bf16_avx512bf16(const GemmArgs& a) {
  gemm<Variant::kBf16>(a);
}
void gemm_bf16_avx512_widen(const GemmArgs& a) {
  gemm<Variant::kBf16Widen>(a);
}

// Loads 16 (or the first `m`) K or V elements as fp32: floats as they are, bf16 widened exactly.
inline __m512 load16(const float* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, p);
}
inline __m512 load16(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

// 16 keys per vector: no horizontal sums, thanks to the transposed K tile. Eight independent FMA
// chains over d, so the loop runs at FMA throughput rather than at one chain's latency.
template <class T>
void qk_scores(const float* q, const T* k_t, int n, int d, int ldk, float scale, float* out) {
  for (int j0 = 0; j0 < n; j0 += 16) {
    const __mmask16 m = column_mask(n - j0);
    __m512 acc[8];
    for (int u = 0; u < 8; ++u) acc[u] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 8 <= d; i += 8) {
      for (int u = 0; u < 8; ++u) {
        acc[u] =
            _mm512_fmadd_ps(_mm512_set1_ps(q[i + u]), load16(k_t + static_cast<size_t>(i + u) * ldk + j0, m), acc[u]);
      }
    }
    for (; i < d; ++i)
      acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(q[i]), load16(k_t + static_cast<size_t>(i) * ldk + j0, m), acc[0]);
    const __m512 s01 = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    const __m512 s23 = _mm512_add_ps(_mm512_add_ps(acc[4], acc[5]), _mm512_add_ps(acc[6], acc[7]));
    _mm512_mask_storeu_ps(out + j0, m, _mm512_mul_ps(_mm512_add_ps(s01, s23), _mm512_set1_ps(scale)));
  }
}

// out[i0, i0 + 16 NV) += sum_j p[j] v[j]: even and odd j in separate accumulators (2 NV chains).
template <int NV, class T>
inline void pv_chunk(const float* p, const T* v, int n, int d, int i0, float* out) {
  constexpr __mmask16 kAll = 0xffff;
  __m512 even[NV], odd[NV];
  for (int u = 0; u < NV; ++u) {
    even[u] = _mm512_loadu_ps(out + i0 + 16 * u);
    odd[u] = _mm512_setzero_ps();
  }
  int j = 0;
  for (; j + 2 <= n; j += 2) {
    const __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
    const T* v0 = v + static_cast<size_t>(j) * d + i0;
    for (int u = 0; u < NV; ++u) {
      even[u] = _mm512_fmadd_ps(p0, load16(v0 + 16 * u, kAll), even[u]);
      odd[u] = _mm512_fmadd_ps(p1, load16(v0 + d + 16 * u, kAll), odd[u]);
    }
  }
  if (j < n) {
    const __m512 p0 = _mm512_set1_ps(p[j]);
    for (int u = 0; u < NV; ++u)
      even[u] = _mm512_fmadd_ps(p0, load16(v + static_cast<size_t>(j) * d + i0 + 16 * u, kAll), even[u]);
  }
  for (int u = 0; u < NV; ++u) _mm512_storeu_ps(out + i0 + 16 * u, _mm512_add_ps(even[u], odd[u]));
}

template <class T>
void pv_accumulate(const float* p, const T* v, int n, int d, float* out) {
  int i0 = 0;
  for (; i0 + 64 <= d; i0 += 64) pv_chunk<4>(p, v, n, d, i0, out);
  switch ((d - i0) / 16) {
    case 3:
      pv_chunk<3>(p, v, n, d, i0, out);
      break;
    case 2:
      pv_chunk<2>(p, v, n, d, i0, out);
      break;
    case 1:
      pv_chunk<1>(p, v, n, d, i0, out);
      break;
    default:
      break;
  }
  i0 += (d - i0) / 16 * 16;
  for (int j = 0; j < n && i0 < d; ++j) {  // head_dim not a multiple of 16
    const __mmask16 m = column_mask(d - i0);
    const __m512 acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), load16(v + static_cast<size_t>(j) * d + i0, m),
                                       _mm512_maskz_loadu_ps(m, out + i0));
    _mm512_mask_storeu_ps(out + i0, m, acc);
  }
}

void qk_scores_avx512(const float* q, const float* k_t, int n, int d, int ldk, float scale, float* out) {
  qk_scores(q, k_t, n, d, ldk, scale, out);
}
void qk_scores_bf16_avx512(const float* q, const uint16_t* k_t, int n, int d, int ldk, float scale, float* out) {
  qk_scores(q, k_t, n, d, ldk, scale, out);
}
void pv_accumulate_avx512(const float* p, const float* v, int n, int d, float* out) {
  pv_accumulate(p, v, n, d, out);
}
void pv_accumulate_bf16_avx512(const float* p, const uint16_t* v, int n, int d, float* out) {
  pv_accumulate(p, v, n, d, out);
}

void softmax_avx512(float* x, int n) {
  __m512 m = _mm512_set1_ps(-3.4e38f);
  int i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  if (i < n) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, column_mask(n - i), x + i));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  __m512 sum = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
    _mm512_storeu_ps(x + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (i < n) {
    const __mmask16 k = column_mask(n - i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mx));
    _mm512_mask_storeu_ps(x + i, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  if (i < n) {
    const __mmask16 k = column_mask(n - i);
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
  }
}

float exp_weights_avx512(const float* x, int n, float max, float inv_t, float* out) {
  const __m512 vmax = _mm512_set1_ps(max), vinv = _mm512_set1_ps(inv_t);
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 sum = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = column_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __mmask16 live = _mm512_mask_cmp_ps_mask(m, v, neg_inf, _CMP_GT_OQ);  // false for -inf and NaN
    const __m512 e = _mm512_maskz_mov_ps(live, exp_ps(_mm512_mul_ps(_mm512_sub_ps(v, vmax), vinv)));
    _mm512_mask_storeu_ps(out + i, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

inline __m512 gelu_tanh_ps(__m512 v) {
  // tanh(u) = 1 - 2 / (exp(2u) + 1); gelu = 0.5 v (1 + tanh(u)) = v - v / (exp(2u) + 1)
  const __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                 _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), v), _mm512_mul_ps(v, v), v));
  const __m512 e = exp_ps(_mm512_add_ps(u, u));
  return _mm512_sub_ps(v, _mm512_div_ps(v, _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}

void gelu_tanh_avx512(float* x, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu_tanh_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 k = column_mask(static_cast<int>(n - i));
    _mm512_mask_storeu_ps(x + i, k, gelu_tanh_ps(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

float stream_sum_avx512(const float* x, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

// Activation rows to bf16 with vcvtne2ps2bf16 (round to nearest even, as pack_activations_bf16):
// the pair layout is simply the row's bf16 values in order, zero-padded to k_pad.
__attribute__((target("avx512bf16"))) void pack_bf16_avx512bf16(const float* x, int rows, int k, int ldx, uint32_t* out,
                                                                int k_pad) {
  for (int r = 0; r < rows; ++r) {
    const float* src = x + static_cast<size_t>(r) * ldx;
    uint16_t* dst = reinterpret_cast<uint16_t*>(out + static_cast<size_t>(r) * (k_pad / 2));
    int i = 0;
    for (; i + 32 <= k; i += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
      _mm512_storeu_si512(dst + i, (__m512i)v);
    }
    for (; i < k_pad; i += 32) {  // tail and zero padding
      const int left = k - i;
      const __m512 lo = _mm512_maskz_loadu_ps(column_mask(left > 0 ? left : 0), src + i);
      const __m512 hi = _mm512_maskz_loadu_ps(column_mask(left > 16 ? left - 16 : 0), src + i + 16);
      const int store = k_pad - i < 32 ? k_pad - i : 32;
      _mm512_mask_storeu_epi16(dst + i, store >= 32 ? ~__mmask32{0} : (__mmask32{1} << store) - 1,
                               (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

// Two passes over the row in fp32 lanes (mean, then the variance about it), as PyTorch computes it.
void layer_norm_avx512(const float* x, int d, const float* weight, const float* bias, float eps, float* y) {
  __m512 sum = _mm512_setzero_ps();
  for (int i = 0; i < d; i += 16) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(column_mask(d - i), x + i));
  const float mean = _mm512_reduce_add_ps(sum) / static_cast<float>(d);
  const __m512 vmean = _mm512_set1_ps(mean);
  __m512 sq = _mm512_setzero_ps();
  for (int i = 0; i < d; i += 16) {
    const __mmask16 m = column_mask(d - i);
    const __m512 c = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vmean);
    sq = _mm512_fmadd_ps(c, c, sq);
  }
  const float var = _mm512_reduce_add_ps(sq) / static_cast<float>(d);
  const __m512 inv = _mm512_set1_ps(1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(var + eps))));
  for (int i = 0; i < d; i += 16) {
    const __mmask16 m = column_mask(d - i);
    const __m512 c = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmean), inv);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(m, weight + i), _mm512_maskz_loadu_ps(m, bias + i)));
  }
}

// Two passes over data that stays in L2: the maximum of the non-NaN lanes, then the first index
// holding it.
int32_t argmax_avx512(const float* x, int n) {
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 best = neg_inf;
  __mmask16 any = 0;
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = column_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __mmask16 ordered = _mm512_mask_cmp_ps_mask(m, v, v, _CMP_ORD_Q);
    best = _mm512_mask_max_ps(best, ordered, best, v);
    any |= ordered;
  }
  if (any == 0) return 0;
  const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(best));
  for (int i = 0; i < n; i += 16) {
    const __mmask16 hit =
        _mm512_mask_cmp_ps_mask(column_mask(n - i), _mm512_maskz_loadu_ps(column_mask(n - i), x + i), top, _CMP_EQ_OQ);
    if (hit != 0) return i + __builtin_ctz(hit);
  }
  return 0;  // unreachable: some lane holds the maximum
}

}  // namespace

namespace detail {

void store_block_avx512(const GemmArgs& a, int row0, int rows, int col0, int cols, const float* c, int ldc) {
  const int n_total = a.w->n();
  for (int j = 0; j < cols; j += 16) {
    const int col = col0 + j;
    if (col >= n_total) break;
    const __mmask16 m = column_mask(n_total - col);
    const __m512 b = a.bias != nullptr ? _mm512_maskz_loadu_ps(m, a.bias + col) : _mm512_setzero_ps();
    for (int i = 0; i < rows; ++i) {
      store_result(a, row0 + i, col, m, b, _mm512_loadu_ps(c + static_cast<size_t>(i) * ldc + j));
    }
  }
}

const Kernels* avx512_kernels_impl(bool bf16) {
  static const Kernels with_bf16{"avx512+bf16",
                                 gemm_f32_avx512,
                                 gemm_bf16_avx512bf16,
                                 qk_scores_avx512,
                                 pv_accumulate_avx512,
                                 qk_scores_bf16_avx512,
                                 pv_accumulate_bf16_avx512,
                                 softmax_avx512,
                                 gelu_tanh_avx512,
                                 stream_sum_avx512,
                                 exp_weights_avx512,
                                 pack_bf16_avx512bf16,
                                 layer_norm_avx512,
                                 argmax_avx512,
                                 detail::decode_attention_bf16_avx512,
                                 detail::prefill_attention_bf16_avx512};
  // Without AVX512_BF16 only the bf16 GEMM (widening instead of vdpbf16ps) and the rounding of
  // its activations differ.
  static const Kernels without_bf16 = [] {
    Kernels k = with_bf16;
    k.name = "avx512";
    k.gemm_bf16 = gemm_bf16_avx512_widen;
    k.pack_bf16 = pack_activations_bf16;
    return k;
  }();
  return bf16 ? &with_bf16 : &without_bf16;
}
}  // namespace detail

}  // namespace llmbench::engine::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

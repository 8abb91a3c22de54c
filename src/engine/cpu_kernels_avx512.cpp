// AVX-512 kernels. Everything below the target pragma is compiled for AVX-512 (and AVX512_BF16
// for the bf16 GEMM) and only reached after cpuid says the CPU has it; the code in this region uses
// intrinsics and plain loops only, so no inline library function is emitted with AVX-512 code.
#include <immintrin.h>

#include <algorithm>
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

namespace llmbench::engine::cpu {
namespace {

constexpr int kMaxRows = 6;

inline __mmask16 column_mask(int valid) {
  return valid >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << valid) - 1u);
}

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

// exp(x) for x in [-87, 88]: 2^n * p(r), r = x - n ln2, degree-6 polynomial (rel. error ~2e-7).
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.3365447504f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
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

// The even (low) and odd (high) bf16 elements of 32 pairs, as fp32.
inline __m512 even(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16));
}
inline __m512 odd(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_and_si512(pairs, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// Decode attention over a bf16 cache with 16-token blocks, head_dim D (a multiple of 32).
// Widening bf16 to fp32 without crossing 128-bit lanes: a 64-byte load holds 16 pairs; shifting
// each 32-bit lane left by 16 gives the even elements as fp32, masking off its low half the odd
// ones. So K tile rows 2i and 2i+1 (16 keys each) meet the query as [q[2i] x8 | q[2i+1] x8]
// (prepared once per head in scratch), giving even and odd keys in separate sums that one
// permute interleaves; and a V row's dims come out as [even | odd] per 32 dims, the layout the
// output accumulates in until the end, where it is interleaved back. Per block and head: the 16
// scores, the online-softmax update (running max, sum, accumulated output rescaled when the max
// rises), then p V with even and odd keys in separate accumulators. Blocks sit at unrelated
// addresses, so while head i of a block computes, head i's K and V tiles of the next block are
// prefetched: without that the kernel alone took 4.9-5.1 ms per 32-sequence, 12-layer step on the
// 2-core Zen 5 against 3.8-3.9 ms with it, and 7.8-8.1 against 7.2-7.4 ms on the 16-core Xeon (64
// sequences of 256 tokens, more KV than its L3).
template <int D>
void decode_attention_bf16_blocks16(const DecodeAttentionArgs& a) {
  constexpr int kBlock = 16;
  constexpr int kPairs = D / 2;    // pairs of K tile rows
  constexpr int kChunks = D / 32;  // 64-byte chunks of a V row
  const int heads = a.head_end - a.head_begin;
  float* running_max = a.scratch;
  float* running_sum = a.scratch + heads;
  float* acc = a.scratch + 2 * heads;                // [heads][D], [even | odd] per 32 dims
  float* qq = acc + static_cast<size_t>(heads) * D;  // [heads][kPairs][16]
  for (int i = 0; i < heads; ++i) {
    const float* qh = a.q + static_cast<size_t>(a.head_begin + i) * D;
    for (int p = 0; p < kPairs; ++p) {
      const __m512 pair = _mm512_insertf32x8(_mm512_set1_ps(qh[2 * p]), _mm256_set1_ps(qh[2 * p + 1]), 1);
      _mm512_storeu_ps(qq + (static_cast<size_t>(i) * kPairs + p) * 16, pair);
    }
  }
  const __m512i interleave = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const size_t tile = static_cast<size_t>(kBlock) * D;  // elements of one head's K (or V) tile
  const int num_blocks = (a.context + kBlock - 1) / kBlock;
  for (int b = 0; b < num_blocks; ++b) {
    const int n = std::min(kBlock, a.context - b * kBlock);
    const __mmask16 live = column_mask(n);
    const uint16_t* k_run = a.kv + static_cast<size_t>(a.block_table[b]) * a.block_stride + a.head_begin * tile;
    const char* next_k = nullptr;
    if (b + 1 < num_blocks) {
      next_k = reinterpret_cast<const char*>(a.kv + static_cast<size_t>(a.block_table[b + 1]) * a.block_stride +
                                             a.head_begin * tile);
    }
    for (int i = 0; i < heads; ++i) {
      if (next_k != nullptr) {
        const char* k_next = next_k + static_cast<size_t>(i) * tile * 2;
        const char* v_next = k_next + a.v_offset * 2;
        for (size_t off = 0; off < tile * 2; off += 64) {
          _mm_prefetch(k_next + off, _MM_HINT_T0);
          _mm_prefetch(v_next + off, _MM_HINT_T0);
        }
      }
      const uint16_t* k_t = k_run + i * tile;
      const uint16_t* v = k_t + a.v_offset;
      const float* qh = qq + static_cast<size_t>(i) * kPairs * 16;
      __m512 se[4], so[4];
      for (int u = 0; u < 4; ++u) se[u] = so[u] = _mm512_setzero_ps();
      for (int p = 0; p < kPairs; p += 4) {
        for (int u = 0; u < 4; ++u) {
          const __m512i rows = _mm512_loadu_si512(k_t + (p + u) * 32);
          const __m512 qv = _mm512_loadu_ps(qh + (p + u) * 16);
          se[u] = _mm512_fmadd_ps(qv, even(rows), se[u]);
          so[u] = _mm512_fmadd_ps(qv, odd(rows), so[u]);
        }
      }
      const __m512 e = _mm512_add_ps(_mm512_add_ps(se[0], se[1]), _mm512_add_ps(se[2], se[3]));
      const __m512 o = _mm512_add_ps(_mm512_add_ps(so[0], so[1]), _mm512_add_ps(so[2], so[3]));
      // Lanes 0-7 hold keys 0, 2, .., 14 over even d, lanes 8-15 the same keys over odd d.
      const __m256 e8 = _mm256_add_ps(_mm512_castps512_ps256(e), _mm512_extractf32x8_ps(e, 1));
      const __m256 o8 = _mm256_add_ps(_mm512_castps512_ps256(o), _mm512_extractf32x8_ps(o, 1));
      __m512 s = _mm512_permutex2var_ps(_mm512_castps256_ps512(e8), interleave, _mm512_castps256_ps512(o8));
      s = _mm512_mask_mul_ps(_mm512_set1_ps(-__builtin_inff()), live, s, _mm512_set1_ps(a.scale));
      const float block_max = _mm512_reduce_max_ps(s);
      float* acc_h = acc + static_cast<size_t>(i) * D;
      __m512 out_even[2 * kChunks], out_odd[2 * kChunks];  // even keys accumulate in the first
      for (int c = 0; c < 2 * kChunks; ++c) out_odd[c] = _mm512_setzero_ps();
      if (b == 0) {
        running_max[i] = block_max;
        running_sum[i] = 0.0f;
        for (int c = 0; c < 2 * kChunks; ++c) out_even[c] = _mm512_setzero_ps();
      } else {
        __m512 rescale = _mm512_set1_ps(1.0f);
        if (block_max > running_max[i]) {
          rescale = exp_ps(_mm512_set1_ps(running_max[i] - block_max));
          running_sum[i] *= _mm512_cvtss_f32(rescale);
          running_max[i] = block_max;
        }
        for (int c = 0; c < 2 * kChunks; ++c) out_even[c] = _mm512_mul_ps(_mm512_loadu_ps(acc_h + 16 * c), rescale);
      }
      const __m512 w = _mm512_maskz_mov_ps(live, exp_ps(_mm512_sub_ps(s, _mm512_set1_ps(running_max[i]))));
      running_sum[i] += _mm512_reduce_add_ps(w);
      alignas(64) float wj[kBlock];
      _mm512_store_ps(wj, w);
      int j = 0;
      for (; j + 2 <= n; j += 2) {
        const __m512 w0 = _mm512_set1_ps(wj[j]), w1 = _mm512_set1_ps(wj[j + 1]);
        const uint16_t* v0 = v + static_cast<size_t>(j) * D;
        for (int c = 0; c < kChunks; ++c) {
          const __m512i x0 = _mm512_loadu_si512(v0 + 32 * c), x1 = _mm512_loadu_si512(v0 + D + 32 * c);
          out_even[2 * c] = _mm512_fmadd_ps(w0, even(x0), out_even[2 * c]);
          out_even[2 * c + 1] = _mm512_fmadd_ps(w0, odd(x0), out_even[2 * c + 1]);
          out_odd[2 * c] = _mm512_fmadd_ps(w1, even(x1), out_odd[2 * c]);
          out_odd[2 * c + 1] = _mm512_fmadd_ps(w1, odd(x1), out_odd[2 * c + 1]);
        }
      }
      if (j < n) {
        const __m512 w0 = _mm512_set1_ps(wj[j]);
        const uint16_t* v0 = v + static_cast<size_t>(j) * D;
        for (int c = 0; c < kChunks; ++c) {
          const __m512i x0 = _mm512_loadu_si512(v0 + 32 * c);
          out_even[2 * c] = _mm512_fmadd_ps(w0, even(x0), out_even[2 * c]);
          out_even[2 * c + 1] = _mm512_fmadd_ps(w0, odd(x0), out_even[2 * c + 1]);
        }
      }
      for (int c = 0; c < 2 * kChunks; ++c) _mm512_storeu_ps(acc_h + 16 * c, _mm512_add_ps(out_even[c], out_odd[c]));
    }
  }
  // out = acc / sum, with each 32 dims' [even | odd] halves interleaved back.
  const __m512i low_dims = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i high_dims = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  for (int i = 0; i < heads; ++i) {
    const __m512 inv = _mm512_set1_ps(1.0f / running_sum[i]);
    const float* acc_h = acc + static_cast<size_t>(i) * D;
    float* out_h = a.out + static_cast<size_t>(a.head_begin + i) * D;
    for (int c = 0; c < kChunks; ++c) {
      const __m512 ev = _mm512_mul_ps(_mm512_loadu_ps(acc_h + 32 * c), inv);
      const __m512 od = _mm512_mul_ps(_mm512_loadu_ps(acc_h + 32 * c + 16), inv);
      _mm512_storeu_ps(out_h + 32 * c, _mm512_permutex2var_ps(ev, low_dims, od));
      _mm512_storeu_ps(out_h + 32 * c + 16, _mm512_permutex2var_ps(ev, high_dims, od));
    }
  }
}

bool decode_attention_bf16_avx512(const DecodeAttentionArgs& a) {
  if (a.block_size != 16) return false;
  switch (a.head_dim) {
    case 32:
      decode_attention_bf16_blocks16<32>(a);
      return true;
    case 64:
      decode_attention_bf16_blocks16<64>(a);
      return true;
    case 128:
      decode_attention_bf16_blocks16<128>(a);
      return true;
    default:
      return false;
  }
}

// A prompt chunk's causal attention for one head over a bf16 cache with 16-token blocks, head_dim
// D (32 or 64), the decode kernel's arithmetic for kRows query rows at once: each K tile row pair
// loaded and widened once serves the kRows queries (8 FMAs per load instead of 2), and each V row
// the kRows outputs, whose accumulators stay in registers for the whole walk. Row r of a tile sees
// the keys up to its own position; a block beyond it contributes nothing to that row.
template <int D>
void prefill_attention_bf16_blocks16(const PrefillAttentionArgs& a) {
  constexpr int kBlock = 16, kRows = 4;
  constexpr int kPairs = D / 2;
  constexpr int kChunks = D / 32;
  constexpr int kAcc = 2 * kChunks;  // accumulators per row: [even | odd] per 32 dims
  float* qq = a.scratch;             // [kRows][kPairs][16]
  float* weights = a.scratch + static_cast<size_t>(kRows) * kPairs * 16;  // [kRows][16]
  const __m512i interleave = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i low_dims = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i high_dims = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const size_t tile = static_cast<size_t>(kBlock) * D;
  for (int i0 = 0; i0 < a.count; i0 += kRows) {
    const int rows = std::min(kRows, a.count - i0);
    int position[kRows];
    for (int r = 0; r < kRows; ++r) {
      const int row = i0 + std::min(r, rows - 1);  // a short last tile repeats its last row
      position[r] = a.start_pos + row;
      const float* qh = a.q + static_cast<size_t>(row) * a.ldq + static_cast<size_t>(a.head) * D;
      for (int p = 0; p < kPairs; ++p) {
        const __m512 pair = _mm512_insertf32x8(_mm512_set1_ps(qh[2 * p]), _mm256_set1_ps(qh[2 * p + 1]), 1);
        _mm512_storeu_ps(qq + (static_cast<size_t>(r) * kPairs + p) * 16, pair);
      }
    }
    float running_max[kRows], running_sum[kRows];
    __m512 acc[kRows][kAcc];
    for (int r = 0; r < kRows; ++r) {
      running_max[r] = -__builtin_inff();
      running_sum[r] = 0.0f;
      for (int c = 0; c < kAcc; ++c) acc[r][c] = _mm512_setzero_ps();
    }
    const int num_blocks = position[kRows - 1] / kBlock + 1;
    for (int b = 0; b < num_blocks; ++b) {
      const uint16_t* k_t =
          a.kv + static_cast<size_t>(a.block_table[b]) * a.block_stride + static_cast<size_t>(a.head) * tile;
      const uint16_t* v = k_t + a.v_offset;
      if (b + 1 < num_blocks) {
        const char* k_next = reinterpret_cast<const char*>(
            a.kv + static_cast<size_t>(a.block_table[b + 1]) * a.block_stride + static_cast<size_t>(a.head) * tile);
        for (size_t off = 0; off < tile * 2; off += 64) {
          _mm_prefetch(k_next + off, _MM_HINT_T0);
          _mm_prefetch(k_next + a.v_offset * 2 + off, _MM_HINT_T0);
        }
      }
      __m512 se[kRows], so[kRows];
      for (int r = 0; r < kRows; ++r) se[r] = so[r] = _mm512_setzero_ps();
      for (int p = 0; p < kPairs; ++p) {
        const __m512i pairs = _mm512_loadu_si512(k_t + p * 32);
        const __m512 e = even(pairs), o = odd(pairs);
        for (int r = 0; r < kRows; ++r) {
          const __m512 qv = _mm512_loadu_ps(qq + (static_cast<size_t>(r) * kPairs + p) * 16);
          se[r] = _mm512_fmadd_ps(qv, e, se[r]);
          so[r] = _mm512_fmadd_ps(qv, o, so[r]);
        }
      }
      int max_n = 0;
      for (int r = 0; r < kRows; ++r) {
        const int n = std::clamp(position[r] - b * kBlock + 1, 0, kBlock);
        max_n = std::max(max_n, n);
        if (n == 0) {
          _mm512_storeu_ps(weights + 16 * r, _mm512_setzero_ps());
          continue;
        }
        const __mmask16 live = column_mask(n);
        const __m256 e8 = _mm256_add_ps(_mm512_castps512_ps256(se[r]), _mm512_extractf32x8_ps(se[r], 1));
        const __m256 o8 = _mm256_add_ps(_mm512_castps512_ps256(so[r]), _mm512_extractf32x8_ps(so[r], 1));
        __m512 s = _mm512_permutex2var_ps(_mm512_castps256_ps512(e8), interleave, _mm512_castps256_ps512(o8));
        s = _mm512_mask_mul_ps(_mm512_set1_ps(-__builtin_inff()), live, s, _mm512_set1_ps(a.scale));
        const float block_max = _mm512_reduce_max_ps(s);
        if (block_max > running_max[r]) {
          const __m512 rescale = exp_ps(_mm512_set1_ps(running_max[r] - block_max));  // 0 on the first block
          running_sum[r] *= _mm512_cvtss_f32(rescale);
          for (int c = 0; c < kAcc; ++c) acc[r][c] = _mm512_mul_ps(acc[r][c], rescale);
          running_max[r] = block_max;
        }
        const __m512 w = _mm512_maskz_mov_ps(live, exp_ps(_mm512_sub_ps(s, _mm512_set1_ps(running_max[r]))));
        running_sum[r] += _mm512_reduce_add_ps(w);
        _mm512_storeu_ps(weights + 16 * r, w);
      }
      for (int j = 0; j < max_n; ++j) {
        const uint16_t* vj = v + static_cast<size_t>(j) * D;
        __m512 dims[kAcc];
        for (int c = 0; c < kChunks; ++c) {
          const __m512i x = _mm512_loadu_si512(vj + 32 * c);
          dims[2 * c] = even(x);
          dims[2 * c + 1] = odd(x);
        }
        for (int r = 0; r < kRows; ++r) {
          const __m512 wv = _mm512_set1_ps(weights[16 * r + j]);
          for (int c = 0; c < kAcc; ++c) acc[r][c] = _mm512_fmadd_ps(wv, dims[c], acc[r][c]);
        }
      }
    }
    for (int r = 0; r < rows; ++r) {
      const __m512 inv = _mm512_set1_ps(1.0f / running_sum[r]);
      float* out = a.out + static_cast<size_t>(i0 + r) * a.ldo + static_cast<size_t>(a.head) * D;
      for (int c = 0; c < kChunks; ++c) {
        const __m512 ev = _mm512_mul_ps(acc[r][2 * c], inv);
        const __m512 od = _mm512_mul_ps(acc[r][2 * c + 1], inv);
        _mm512_storeu_ps(out + 32 * c, _mm512_permutex2var_ps(ev, low_dims, od));
        _mm512_storeu_ps(out + 32 * c + 16, _mm512_permutex2var_ps(ev, high_dims, od));
      }
    }
  }
}

bool prefill_attention_bf16_avx512(const PrefillAttentionArgs& a) {
  if (a.block_size != 16) return false;
  switch (a.head_dim) {
    case 32:
      prefill_attention_bf16_blocks16<32>(a);
      return true;
    case 64:
      prefill_attention_bf16_blocks16<64>(a);
      return true;
    default:
      return false;
  }
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
  static const Kernels with_bf16{
      "avx512+bf16",        gemm_f32_avx512,       gemm_bf16_avx512bf16,         qk_scores_avx512,
      pv_accumulate_avx512, qk_scores_bf16_avx512, pv_accumulate_bf16_avx512,    softmax_avx512,
      gelu_tanh_avx512,     stream_sum_avx512,     exp_weights_avx512,           pack_bf16_avx512bf16,
      layer_norm_avx512,    argmax_avx512,         decode_attention_bf16_avx512, prefill_attention_bf16_avx512};
  static const Kernels without_bf16{"avx512",
                                    gemm_f32_avx512,
                                    gemm_bf16_avx512_widen,
                                    qk_scores_avx512,
                                    pv_accumulate_avx512,
                                    qk_scores_bf16_avx512,
                                    pv_accumulate_bf16_avx512,
                                    softmax_avx512,
                                    gelu_tanh_avx512,
                                    stream_sum_avx512,
                                    exp_weights_avx512,
                                    pack_activations_bf16,
                                    layer_norm_avx512,
                                    argmax_avx512,
                                    decode_attention_bf16_avx512,
                                    prefill_attention_bf16_avx512};
  return bf16 ? &with_bf16 : &without_bf16;
}
}  // namespace detail

}  // namespace llmbench::engine::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

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

namespace llmbench::engine::cpu {
namespace {

constexpr int kMaxRows = 6;

inline __mmask16 column_mask(int valid) {
  return valid >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << valid) - 1u);
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
      float* y = a.y + static_cast<size_t>(row0 + i) * a.ldy + col;
      __m512 v = _mm512_add_ps(acc[i][j], b);
      if (a.epilogue == Epilogue::kRelu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      if (a.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
      _mm512_mask_storeu_ps(y, m, v);
    }
  }
}

template <int MR, int NP>
void tile_f32(const GemmArgs& a, int row0, int g) {
  const PackedMatrix& w = *a.w;
  const int k_pad = w.k_pad();
  const float* wg = static_cast<const float*>(w.data()) + static_cast<size_t>(g) * PackedMatrix::kGroupColumns * k_pad;
  const float* x = static_cast<const float*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < k_pad; ++k) {
    const float* wk = wg + static_cast<size_t>(k) * NP * 16;
    _mm_prefetch(reinterpret_cast<const char*>(wk + 16 * NP * 16), _MM_HINT_T0);
    __m512 wv[NP];
    for (int j = 0; j < NP; ++j) wv[j] = _mm512_load_ps(wk + j * 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xb = _mm512_set1_ps(x[static_cast<size_t>(i) * a.ldx + k]);
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ps(xb, wv[j], acc[i][j]);
    }
  }
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns, acc);
}

template <int MR, int NP>
__attribute__((target("avx512bf16"))) void tile_bf16(const GemmArgs& a, int row0, int g) {
  const PackedMatrix& w = *a.w;
  const int k_pairs = w.k_pad() / 2;
  const uint16_t* wg =
      static_cast<const uint16_t*>(w.data()) + static_cast<size_t>(g) * PackedMatrix::kGroupColumns * w.k_pad();
  const uint32_t* x = static_cast<const uint32_t*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int kk = 0; kk < k_pairs; ++kk) {
    const uint16_t* wk = wg + static_cast<size_t>(kk) * NP * 32;
    _mm_prefetch(reinterpret_cast<const char*>(wk + 16 * NP * 32), _MM_HINT_T0);
    __m512bh wv[NP];
    for (int j = 0; j < NP; ++j) wv[j] = (__m512bh)_mm512_load_si512(wk + j * 32);
    for (int i = 0; i < MR; ++i) {
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[static_cast<size_t>(i) * a.ldx + kk]));
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xb, wv[j]);
    }
  }
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns, acc);
}

// bf16 weights on AVX-512 CPUs without AVX512_BF16: widen to fp32 (exact) and FMA.
template <int MR, int NP>
void tile_bf16_widen(const GemmArgs& a, int row0, int g) {
  const PackedMatrix& w = *a.w;
  const int k_pairs = w.k_pad() / 2;
  const uint16_t* wg =
      static_cast<const uint16_t*>(w.data()) + static_cast<size_t>(g) * PackedMatrix::kGroupColumns * w.k_pad();
  const uint32_t* x = static_cast<const uint32_t*>(a.x) + static_cast<size_t>(row0) * a.ldx;
  __m512 acc[MR][NP];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int kk = 0; kk < k_pairs; ++kk) {
    const uint16_t* wk = wg + static_cast<size_t>(kk) * NP * 32;
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
  store_tile<MR, NP>(a, row0, g * PackedMatrix::kGroupColumns, acc);
}

enum class Variant { kF32, kBf16, kBf16Widen };

template <Variant V, int MR, int NP>
inline void tile(const GemmArgs& a, int row0, int g) {
  if constexpr (V == Variant::kF32) {
    tile_f32<MR, NP>(a, row0, g);
  } else if constexpr (V == Variant::kBf16) {
    tile_bf16<MR, NP>(a, row0, g);
  } else {
    tile_bf16_widen<MR, NP>(a, row0, g);
  }
}

template <Variant V, int MR>
inline void tile_rows(const GemmArgs& a, int row0, int g, int np) {
  switch (np) {
    case 1:
      tile<V, MR, 1>(a, row0, g);
      break;
    case 2:
      tile<V, MR, 2>(a, row0, g);
      break;
    case 3:
      tile<V, MR, 3>(a, row0, g);
      break;
    default:
      tile<V, MR, 4>(a, row0, g);
      break;
  }
}

template <Variant V>
void gemm(const GemmArgs& a) {
  for (int g = a.group_begin; g < a.group_end; ++g) {
    const int np = a.w->group_panels(g);
    for (int r = 0; r < a.rows; r += kMaxRows) {
      switch (a.rows - r < kMaxRows ? a.rows - r : kMaxRows) {
        case 1:
          tile_rows<V, 1>(a, r, g, np);
          break;
        case 2:
          tile_rows<V, 2>(a, r, g, np);
          break;
        case 3:
          tile_rows<V, 3>(a, r, g, np);
          break;
        case 4:
          tile_rows<V, 4>(a, r, g, np);
          break;
        case 5:
          tile_rows<V, 5>(a, r, g, np);
          break;
        default:
          tile_rows<V, 6>(a, r, g, np);
          break;
      }
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

void qk_scores_avx512(const float* q, const float* k, int n, int d, float scale, float* out) {
  if (d % 16 != 0) {
    for (int j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int i = 0; i < d; ++i) s += q[i] * k[static_cast<size_t>(j) * d + i];
      out[j] = s * scale;
    }
    return;
  }
  for (int j = 0; j < n; ++j) {
    const float* kj = k + static_cast<size_t>(j) * d;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= d; i += 32) {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(kj + i), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), _mm512_loadu_ps(kj + i + 16), acc1);
    }
    if (i < d) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(kj + i), acc0);
    out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) * scale;
  }
}

void pv_accumulate_avx512(const float* p, const float* v, int n, int d, float* out) {
  if (d % 16 != 0) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < d; ++i) out[i] += p[j] * v[static_cast<size_t>(j) * d + i];
    return;
  }
  for (int i = 0; i < d; i += 16) {
    __m512 acc = _mm512_loadu_ps(out + i);
    for (int j = 0; j < n; ++j)
      acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(v + static_cast<size_t>(j) * d + i), acc);
    _mm512_storeu_ps(out + i, acc);
  }
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

}  // namespace

namespace detail {
const Kernels* avx512_kernels_impl(bool bf16) {
  static const Kernels with_bf16{"avx512+bf16",        gemm_f32_avx512, gemm_bf16_avx512bf16, qk_scores_avx512,
                                 pv_accumulate_avx512, softmax_avx512,  gelu_tanh_avx512,     stream_sum_avx512};
  static const Kernels without_bf16{"avx512",         gemm_f32_avx512,      gemm_bf16_avx512_widen,
                                    qk_scores_avx512, pv_accumulate_avx512, softmax_avx512,
                                    gelu_tanh_avx512, stream_sum_avx512};
  return bf16 ? &with_bf16 : &without_bf16;
}
}  // namespace detail

}  // namespace llmbench::engine::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma once
// Small AVX-512 helpers shared by the kernel files. Include only after a file's
// `#pragma GCC target("avx512f,...")`: everything here is compiled for AVX-512 and has internal
// linkage, so no copy is shared with code that runs on CPUs without it.
#include <immintrin.h>

namespace llmbench::engine::cpu {
namespace {

// Software prefetches that the compiler keeps: GCC 12 deletes a loop whose only statements are
// __builtin_prefetch (_mm_prefetch) as one without side effects (at -O2 and -O3 alike), which
// silently removed the look-ahead of kernels here. An asm statement is never deleted, but it also
// constrains the code around it: inside the GEMM's inner loop it halved a 32-sequence step's speed
// (37.6 against 19.4 ms on the VM). So use these for prefetch-only loops outside inner loops, and
// _mm_prefetch where a prefetch sits among other work (the GEMM's), which GCC keeps.
inline void prefetch_t0(const void* p) {
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
}
inline void prefetch_t2(const void* p) {  // to L2, not L1
  asm volatile("prefetcht2 %0" : : "m"(*static_cast<const char*>(p)));
}

// The first `valid` of 16 lanes (all 16 for 16 or more).
inline __mmask16 column_mask(int valid) {
  return valid >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << valid) - 1u);
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

// The even (low) and odd (high) bf16 elements of 32 pairs, as fp32: a shift or a mask within each
// 32-bit lane, where widening 16 bf16 with vpmovzxwd crosses 128-bit lanes.
inline __m512 even(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16));
}
inline __m512 odd(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_and_si512(pairs, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

}  // namespace
}  // namespace llmbench::engine::cpu

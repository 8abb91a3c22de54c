// Attention kernels over a bf16 paged KV cache with 16-token blocks (AVX-512): one for a decode
// token over all of a sequence's blocks and heads, one for a prompt chunk's rows of one head.
//
// Widening bf16 to fp32 without crossing 128-bit lanes: a 64-byte load holds 16 pairs; shifting
// each 32-bit lane left by 16 gives the even elements as fp32, masking off its low half the odd
// ones. So K tile rows 2i and 2i+1 (16 keys each) meet a query as [q[2i] x8 | q[2i+1] x8]
// (prepared once in scratch), giving even and odd dims in separate sums that one permute turns
// into the 16 keys' scores; and a V row's dims come out as [even | odd] per 32 dims, the layout
// the output accumulates in until the end, where it is interleaved back. Per block: the scores,
// the online-softmax update (running max and sum; the output so far rescaled when the max
// rises), then p V. Blocks sit at unrelated addresses, so the next block's tiles are prefetched
// while a block computes.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/cpu_kernels.h"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma")

#include "engine/avx512_math.h"

namespace llmbench::engine::cpu {
namespace {

constexpr int kBlock = 16;

// qq[p] = [q[2p] x8 | q[2p+1] x8] for the D/2 pairs of a head's query.
template <int D>
inline void prepare_query_pairs(const float* q, float* qq) {
  for (int p = 0; p < D / 2; ++p) {
    _mm512_storeu_ps(qq + static_cast<size_t>(p) * 16,
                     _mm512_insertf32x8(_mm512_set1_ps(q[2 * p]), _mm256_set1_ps(q[2 * p + 1]), 1));
  }
}

// The scores of one block's 16 keys against R queries (qq: R rows of D / 2 pairs): each K row pair
// is loaded and widened once for all R; one query keeps 4 chains per sum against the FMA latency.
template <int D, int R>
inline void block_scores(const float* qq, const uint16_t* k_t, __m512 (&scores)[R]) {
  constexpr int kChains = R >= 4 ? 1 : 4 / R;
  __m512 se[R][kChains], so[R][kChains];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < kChains; ++u) se[r][u] = so[r][u] = _mm512_setzero_ps();
  for (int p = 0; p < D / 2; p += kChains) {
    for (int u = 0; u < kChains; ++u) {
      const __m512i rows = _mm512_loadu_si512(k_t + (p + u) * 32);
      const __m512 e = even(rows), o = odd(rows);
      for (int r = 0; r < R; ++r) {
        const __m512 qv = _mm512_loadu_ps(qq + (static_cast<size_t>(r) * (D / 2) + p + u) * 16);
        se[r][u] = _mm512_fmadd_ps(qv, e, se[r][u]);
        so[r][u] = _mm512_fmadd_ps(qv, o, so[r][u]);
      }
    }
  }
  const __m512i interleave = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int r = 0; r < R; ++r) {
    __m512 e = se[r][0], o = so[r][0];
    for (int u = 1; u < kChains; ++u) {
      e = _mm512_add_ps(e, se[r][u]);
      o = _mm512_add_ps(o, so[r][u]);
    }
    // Lanes 0-7 hold keys 0, 2, .., 14 over even dims, lanes 8-15 the same keys over odd dims.
    const __m256 e8 = _mm256_add_ps(_mm512_castps512_ps256(e), _mm512_extractf32x8_ps(e, 1));
    const __m256 o8 = _mm256_add_ps(_mm512_castps512_ps256(o), _mm512_extractf32x8_ps(o, 1));
    scores[r] = _mm512_permutex2var_ps(_mm512_castps256_ps512(e8), interleave, _mm512_castps256_ps512(o8));
  }
}

// The online-softmax step of one query row for one block: masks the scores beyond the row's
// `live` keys, raises the running max (rescaling `acc`, D/16 vectors, and the sum) and returns
// the block's weights exp(score - max), zero beyond `live`.
template <int D>
inline __m512 block_weights(__m512 scores, __mmask16 live, float scale, float& running_max, float& running_sum,
                            __m512* acc) {
  const __m512 s = _mm512_mask_mul_ps(_mm512_set1_ps(-__builtin_inff()), live, scores, _mm512_set1_ps(scale));
  const float block_max = _mm512_reduce_max_ps(s);
  if (block_max > running_max) {
    // On a row's first block the max is -inf, and acc and the sum are still 0.
    const __m512 rescale = exp_ps(_mm512_set1_ps(running_max - block_max));
    running_sum *= _mm512_cvtss_f32(rescale);
    for (int c = 0; c < D / 16; ++c) acc[c] = _mm512_mul_ps(acc[c], rescale);
    running_max = block_max;
  }
  const __m512 w = _mm512_maskz_mov_ps(live, exp_ps(_mm512_sub_ps(s, _mm512_set1_ps(running_max))));
  running_sum += _mm512_reduce_add_ps(w);
  return w;
}

// out[0, D) = acc / sum, each 32 dims' [even | odd] halves interleaved back.
template <int D>
inline void store_output(const __m512* acc, float sum, float* out) {
  const __m512i low_dims = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i high_dims = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512 inv = _mm512_set1_ps(1.0f / sum);
  for (int c = 0; c < D / 32; ++c) {
    const __m512 ev = _mm512_mul_ps(acc[2 * c], inv);
    const __m512 od = _mm512_mul_ps(acc[2 * c + 1], inv);
    _mm512_storeu_ps(out + 32 * c, _mm512_permutex2var_ps(ev, low_dims, od));
    _mm512_storeu_ps(out + 32 * c + 16, _mm512_permutex2var_ps(ev, high_dims, od));
  }
}

inline void prefetch_tiles(const Bf16PagedKv& kv, int block, int head) {
  const char* k = reinterpret_cast<const char*>(kv.k_tile(block, head));
  const char* v = k + kv.v_offset * 2;
  const size_t bytes = static_cast<size_t>(kBlock) * kv.head_dim * 2;
  for (size_t off = 0; off < bytes; off += 64) {
    prefetch_t0(k + off);
    prefetch_t0(v + off);
  }
}

// Without the prefetch of the next block's tiles (head by head, while this block computes), the
// kernel alone took 4.9-5.1 ms per 32-sequence, 12-layer step on the 2-core Zen 5 against 3.8-3.9
// ms with it, and 7.8-8.1 against 7.2-7.4 ms on the 16-core Xeon (64 sequences of 256 tokens, more
// KV than its L3).
template <int D>
void decode_blocks16(const DecodeAttentionArgs& a) {
  constexpr int kAcc = D / 16;
  const int heads = a.head_end - a.head_begin;
  float* running_max = a.scratch;
  float* running_sum = a.scratch + heads;
  float* acc = a.scratch + 2 * heads;                // [heads][D]
  float* qq = acc + static_cast<size_t>(heads) * D;  // [heads][D / 2][16]
  for (int i = 0; i < heads; ++i) {
    prepare_query_pairs<D>(a.q + static_cast<size_t>(a.head_begin + i) * D, qq + static_cast<size_t>(i) * D * 8);
    running_max[i] = -__builtin_inff();
    running_sum[i] = 0.0f;
    for (int c = 0; c < kAcc; ++c) _mm512_storeu_ps(acc + static_cast<size_t>(i) * D + 16 * c, _mm512_setzero_ps());
  }
  const int num_blocks = (a.context + kBlock - 1) / kBlock;
  for (int b = 0; b < num_blocks; ++b) {
    const __mmask16 live = column_mask(std::min(kBlock, a.context - b * kBlock));
    for (int i = 0; i < heads; ++i) {
      const int h = a.head_begin + i;
      if (b + 1 < num_blocks) prefetch_tiles(a.cache, b + 1, h);
      const uint16_t* k_t = a.cache.k_tile(b, h);
      const uint16_t* v = k_t + a.cache.v_offset;
      float* acc_h = acc + static_cast<size_t>(i) * D;
      __m512 out_even[kAcc], out_odd[kAcc];  // even keys accumulate in the first, odd in the second
      for (int c = 0; c < kAcc; ++c) {
        out_even[c] = _mm512_loadu_ps(acc_h + 16 * c);
        out_odd[c] = _mm512_setzero_ps();
      }
      __m512 s[1];
      block_scores<D, 1>(qq + static_cast<size_t>(i) * D * 8, k_t, s);
      const __m512 w = block_weights<D>(s[0], live, a.scale, running_max[i], running_sum[i], out_even);
      alignas(64) float wj[kBlock];
      _mm512_store_ps(wj, w);
      const int n = std::min(kBlock, a.context - b * kBlock);
      int j = 0;
      for (; j + 2 <= n; j += 2) {
        const __m512 w0 = _mm512_set1_ps(wj[j]), w1 = _mm512_set1_ps(wj[j + 1]);
        const uint16_t* v0 = v + static_cast<size_t>(j) * D;
        for (int c = 0; c < D / 32; ++c) {
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
        for (int c = 0; c < D / 32; ++c) {
          const __m512i x0 = _mm512_loadu_si512(v0 + 32 * c);
          out_even[2 * c] = _mm512_fmadd_ps(w0, even(x0), out_even[2 * c]);
          out_even[2 * c + 1] = _mm512_fmadd_ps(w0, odd(x0), out_even[2 * c + 1]);
        }
      }
      for (int c = 0; c < kAcc; ++c) _mm512_storeu_ps(acc_h + 16 * c, _mm512_add_ps(out_even[c], out_odd[c]));
    }
  }
  for (int i = 0; i < heads; ++i) {
    __m512 acc_h[kAcc];
    for (int c = 0; c < kAcc; ++c) acc_h[c] = _mm512_loadu_ps(acc + static_cast<size_t>(i) * D + 16 * c);
    store_output<D>(acc_h, running_sum[i], a.out + static_cast<size_t>(a.head_begin + i) * D);
  }
}

// kRows query rows per pass: each K row pair loaded and widened once serves them all (8 FMAs per
// load instead of 2), each V row the kRows outputs, whose accumulators stay in registers for the
// whole walk. Row r sees the keys up to its own position; a block past it adds nothing to it.
template <int D>
void prefill_blocks16(const PrefillAttentionArgs& a) {
  constexpr int kRows = 4, kAcc = D / 16;
  float* qq = a.scratch;                                            // [kRows][D / 2][16]
  float* weights = a.scratch + static_cast<size_t>(kRows) * D * 8;  // [kRows][16]
  for (int i0 = 0; i0 < a.count; i0 += kRows) {
    const int rows = std::min(kRows, a.count - i0);
    int position[kRows];
    float running_max[kRows], running_sum[kRows];
    __m512 acc[kRows][kAcc];
    for (int r = 0; r < kRows; ++r) {
      const int row = i0 + std::min(r, rows - 1);  // a short last tile repeats its last row
      position[r] = a.start_pos + row;
      prepare_query_pairs<D>(a.q + static_cast<size_t>(row) * a.ldq + static_cast<size_t>(a.head) * D,
                             qq + static_cast<size_t>(r) * D * 8);
      running_max[r] = -__builtin_inff();
      running_sum[r] = 0.0f;
      for (int c = 0; c < kAcc; ++c) acc[r][c] = _mm512_setzero_ps();
    }
    const int num_blocks = position[kRows - 1] / kBlock + 1;
    for (int b = 0; b < num_blocks; ++b) {
      if (b + 1 < num_blocks) prefetch_tiles(a.cache, b + 1, a.head);
      const uint16_t* k_t = a.cache.k_tile(b, a.head);
      const uint16_t* v = k_t + a.cache.v_offset;
      __m512 s[kRows];
      block_scores<D, kRows>(qq, k_t, s);
      int max_n = 0;
      for (int r = 0; r < kRows; ++r) {
        const int n = std::clamp(position[r] - b * kBlock + 1, 0, kBlock);
        max_n = std::max(max_n, n);
        __m512 w = _mm512_setzero_ps();
        if (n > 0) w = block_weights<D>(s[r], column_mask(n), a.scale, running_max[r], running_sum[r], acc[r]);
        _mm512_storeu_ps(weights + 16 * r, w);
      }
      for (int j = 0; j < max_n; ++j) {
        const uint16_t* vj = v + static_cast<size_t>(j) * D;
        __m512 dims[kAcc];
        for (int c = 0; c < D / 32; ++c) {
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
      store_output<D>(acc[r], running_sum[r],
                      a.out + static_cast<size_t>(i0 + r) * a.ldo + static_cast<size_t>(a.head) * D);
    }
  }
}

}  // namespace

namespace detail {

bool decode_attention_bf16_avx512(const DecodeAttentionArgs& a) {
  if (a.cache.block_size != kBlock) return false;
  switch (a.cache.head_dim) {
    case 32:
      decode_blocks16<32>(a);
      return true;
    case 64:
      decode_blocks16<64>(a);
      return true;
    case 128:
      decode_blocks16<128>(a);
      return true;
    default:
      return false;
  }
}

bool prefill_attention_bf16_avx512(const PrefillAttentionArgs& a) {
  if (a.cache.block_size != kBlock) return false;
  switch (a.cache.head_dim) {
    case 32:
      prefill_blocks16<32>(a);
      return true;
    case 64:
      prefill_blocks16<64>(a);
      return true;
    default:
      return false;
  }
}

}  // namespace detail

}  // namespace llmbench::engine::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

// bf16 GEMM on AMX tiles (Intel Sapphire Rapids and later). Reached only after cpuid and Linux
// (arch_prctl) say the tiles are usable; everything below the target pragma is compiled for
// AMX + AVX-512 and uses intrinsics only.
//
// One tile multiply (TDPBF16PS) is 16 rows x 16 columns x 32 k: 16x the work of one vdpbf16ps, so
// a decode step of 32 sequences, compute-bound on AVX-512, becomes bound by streaming the weights,
// as a single sequence's step is. Tiles: C0..C3 = rows [0,16) and [16,32) x panels p, p+1 of a
// weight group; A0, A1 = those rows' activations (16 k pairs); B0, B1 = the two panels' weights,
// which in the packed layout ([k/2][panels*16][2]) are already AMX's pair-interleaved B format.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/cpu_kernels.h"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")

namespace llmbench::engine::cpu {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// m0 rows in C0, C1, A0; m1 (0 to 16) in C2, C3, A1; B tiles always 16 k pairs x 64 bytes.
void configure_tiles(int m0, int m1) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  auto set = [&cfg](int tile, int rows) {
    cfg.rows[tile] = static_cast<uint8_t>(rows);
    cfg.colsb[tile] = static_cast<uint16_t>(rows > 0 ? 64 : 0);
  };
  for (int t : {0, 1, 4}) set(t, m0);
  for (int t : {2, 3, 5}) set(t, m1);
  set(6, 16);
  set(7, 16);
  _tile_loadconfig(&cfg);
}

void gemm_bf16_amx(const GemmArgs& a) {
  const PackedMatrix& w = *a.w;
  const int pairs = w.k_pad() / 2;
  if (a.rows < 16 || pairs % 16 != 0) {  // too few rows to fill a tile, or a ragged k
    detail::avx512_kernels_impl(true)->gemm_bf16(a);
    return;
  }
  const int k_blocks = pairs / 16;
  const size_t x_stride = static_cast<size_t>(a.ldx) * 4;  // bytes per activation row
  const char* x = static_cast<const char*>(a.x);
  alignas(64) float c[32 * 32];
  int configured_m0 = -1, configured_m1 = -1;
  for (int g = a.group_begin; g < a.group_end; ++g) {
    const int np = w.group_panels(g);
    const size_t group_bytes = static_cast<size_t>(PackedMatrix::kGroupColumns) * w.k_pad() * 2;
    const char* wg = static_cast<const char*>(w.data()) + static_cast<size_t>(g) * group_bytes;
    const size_t w_stride = static_cast<size_t>(np) * 64;  // bytes per k pair row of the group
    // The next group streams in while this one computes (spread over the first row block).
    const char* next = g + 1 < a.group_end ? wg + group_bytes : nullptr;
    const int next_lines = next != nullptr ? w.group_panels(g + 1) * pairs : 0;  // 64-byte lines
    const int iterations = k_blocks * ((np + 1) / 2);
    int prefetched = 0, iteration = 0;
    for (int row0 = 0; row0 < a.rows; row0 += 32) {
      const int m = std::min(32, a.rows - row0);
      const int m0 = std::min(16, m), m1 = m - m0;
      if (m0 != configured_m0 || m1 != configured_m1) {
        configure_tiles(m0, m1);
        configured_m0 = m0;
        configured_m1 = m1;
      }
      const char* xa = x + static_cast<size_t>(row0) * x_stride;
      for (int p = 0; p < np; p += 2) {
        const bool two = p + 1 < np;
        _tile_zero(0);
        _tile_zero(1);
        if (m1 > 0) {
          _tile_zero(2);
          _tile_zero(3);
        }
        for (int kb = 0; kb < k_blocks; ++kb) {
          if (row0 == 0 && next != nullptr) {
            const int until = static_cast<int>(static_cast<int64_t>(next_lines) * ++iteration / iterations);
            for (; prefetched < until; ++prefetched)
              _mm_prefetch(next + static_cast<size_t>(prefetched) * 64, _MM_HINT_T0);
          }
          const char* wk = wg + static_cast<size_t>(kb) * 16 * w_stride + static_cast<size_t>(p) * 64;
          _tile_loadd(4, xa + static_cast<size_t>(kb) * 64, x_stride);
          _tile_loadd(6, wk, w_stride);
          _tile_dpbf16ps(0, 4, 6);
          if (two) {
            _tile_loadd(7, wk + 64, w_stride);
            _tile_dpbf16ps(1, 4, 7);
          }
          if (m1 > 0) {
            _tile_loadd(5, xa + 16 * x_stride + static_cast<size_t>(kb) * 64, x_stride);
            _tile_dpbf16ps(2, 5, 6);
            if (two) _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, c, 32 * sizeof(float));
        if (two) _tile_stored(1, c + 16, 32 * sizeof(float));
        if (m1 > 0) {
          _tile_stored(2, c + 16 * 32, 32 * sizeof(float));
          if (two) _tile_stored(3, c + 16 * 32 + 16, 32 * sizeof(float));
        }
        detail::store_block_avx512(a, row0, m, g * PackedMatrix::kGroupColumns + p * PackedMatrix::kPanel,
                                   two ? 32 : 16, c, 32);
      }
    }
  }
  _tile_release();
}

}  // namespace

namespace detail {
const Kernels* amx_kernels_impl() {
  static const Kernels amx = [] {
    Kernels k = *avx512_kernels_impl(true);
    k.name = "amx+avx512";
    k.gemm_bf16 = gemm_bf16_amx;
    return k;
  }();
  return &amx;
}
}  // namespace detail

}  // namespace llmbench::engine::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options

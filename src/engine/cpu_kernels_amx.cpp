// bf16 GEMM on AMX tiles (Intel Sapphire Rapids and later). Reached only after cpuid and Linux
// (arch_prctl) say the tiles are usable; everything below the target pragma is compiled for
// AMX + AVX-512 and uses intrinsics only.
//
// One tile multiply (TDPBF16PS) is 16 rows x 16 columns x 32 k: 16x the work of one vdpbf16ps, so
// a decode step of 32 sequences, compute-bound on AVX-512, becomes bound by streaming the weights,
// as a single sequence's step is. Tiles: C0..C3 = 16 rows x the 4 panels of a weight group (64
// columns); A = those rows' activations (16 k pairs); B0, B1 = panel weights, alternating. In the
// packed layout ([k/2][panels*16][2]) a panel's rows are already AMX's pair-interleaved B format,
// and one k block of the group is one contiguous run, so the first row tile streams the group
// from memory in order.
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

#include "engine/avx512_math.h"

namespace llmbench::engine::cpu {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// m rows (1 to 16) in C0..C3 and A; B tiles always 16 k pairs x 64 bytes.
void configure_tiles(int m) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int tile : {0, 1, 2, 3, 4, 6, 7}) {
    cfg.rows[tile] = static_cast<uint8_t>(tile >= 6 ? 16 : m);
    cfg.colsb[tile] = 64;
  }
  _tile_loadconfig(&cfg);
}

// Prefetches lines [first, last) of the panels [p0, p0 + np) of a group whose k pair rows are
// `stride` bytes apart: line i is panel p0 + i % np of row i / np, the order the tiles read them.
// kLocality: 3 (prefetcht0) for what the tiles read next, 1 (prefetcht2: to L2, not L1, where it
// would push out the current group) for the next group. On the 16-core Xeon a 32-sequence step took
// 6.1 ms twice with the next group prefetched to L2, and 6.2-8.7 ms with it to L2 by prefetcht1 or
// not prefetched at all (builds in which GCC had also deleted the first group's prefetcht0, see
// prefetch_t0; restoring that measured the same: 9.16x and 10.74x against 9.35x and 9.36x through
// HTTP).
template <int kLocality>
inline void prefetch_lines(const char* group, size_t stride, int p0, int np, int first, int last) {
  if (first >= last) return;
  int row = first / np, col = first % np;
  const char* p = group + static_cast<size_t>(row) * stride + static_cast<size_t>(p0) * 64;
  for (int i = first; i < last; ++i) {
    const char* line = p + static_cast<size_t>(col) * 64;
    if constexpr (kLocality == 3) {
      prefetch_t0(line);
    } else {
      prefetch_t2(line);
    }
    if (++col == np) {
      col = 0;
      p += stride;
    }
  }
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
  const size_t group_bytes = static_cast<size_t>(PackedMatrix::kGroupColumns) * w.k_pad() * 2;
  alignas(64) float c[16 * PackedMatrix::kGroupColumns];
  constexpr size_t kLdc = PackedMatrix::kGroupColumns * sizeof(float);
  int configured_m = -1;
  const char* base = static_cast<const char*>(w.data());
  bool cold = true;  // the first group of this call: nothing prefetched it
  for (int g = a.group_begin; g < a.group_end; ++g) {
    const GroupPanels gp = group_panels_in(a, g);
    if (gp.count == 0) continue;
    const int np = gp.count;
    const size_t w_stride = static_cast<size_t>(w.group_panels(g)) * 64;  // bytes per k pair row of the group
    const char* wg = base + static_cast<size_t>(g) * group_bytes;
    const int block_lines = 16 * np;  // lines of this call's panels per k block of 16 pairs
    // While the first row tile streams these panels from memory (a look-ahead of two k blocks for
    // a task's first group, which nothing prefetched), the next group's are prefetched, spread
    // evenly; later row tiles find them in L2.
    GroupPanels next_gp;  // none: no lines to prefetch
    const char* next = nullptr;
    size_t next_stride = 0;
    if (g + 1 < a.group_end) {
      next_gp = group_panels_in(a, g + 1);
      next = base + static_cast<size_t>(g + 1) * group_bytes;
      next_stride = static_cast<size_t>(w.group_panels(g + 1)) * 64;
    }
    const int next_lines = next_gp.count * pairs;
    if (cold) prefetch_lines<3>(wg, w_stride, gp.first, np, 0, std::min(2, k_blocks) * block_lines);
    int next_done = 0;
    for (int row0 = 0; row0 < a.rows; row0 += 16) {
      const int m = std::min(16, a.rows - row0);
      if (m != configured_m) {
        configure_tiles(m);
        configured_m = m;
      }
      const char* xa = x + static_cast<size_t>(row0) * x_stride;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int kb = 0; kb < k_blocks; ++kb) {
        if (row0 == 0) {
          if (cold && kb + 2 < k_blocks)
            prefetch_lines<3>(wg, w_stride, gp.first, np, (kb + 2) * block_lines, (kb + 3) * block_lines);
          const int until = static_cast<int>(static_cast<int64_t>(next_lines) * (kb + 1) / k_blocks);
          prefetch_lines<1>(next, next_stride, next_gp.first, next_gp.count, next_done, until);
          next_done = until;
        }
        const char* wk = wg + static_cast<size_t>(kb) * 16 * w_stride + static_cast<size_t>(gp.first) * 64;
        _tile_loadd(4, xa + static_cast<size_t>(kb) * 64, x_stride);
        _tile_loadd(6, wk, w_stride);
        _tile_dpbf16ps(0, 4, 6);
        if (np > 1) {
          _tile_loadd(7, wk + 64, w_stride);
          _tile_dpbf16ps(1, 4, 7);
        }
        if (np > 2) {
          _tile_loadd(6, wk + 128, w_stride);
          _tile_dpbf16ps(2, 4, 6);
        }
        if (np > 3) {
          _tile_loadd(7, wk + 192, w_stride);
          _tile_dpbf16ps(3, 4, 7);
        }
      }
      cold = false;
      _tile_stored(0, c, kLdc);
      if (np > 1) _tile_stored(1, c + 16, kLdc);
      if (np > 2) _tile_stored(2, c + 32, kLdc);
      if (np > 3) _tile_stored(3, c + 48, kLdc);
      detail::store_block_avx512(a, row0, m, g * PackedMatrix::kGroupColumns + gp.first * PackedMatrix::kPanel,
                                 np * PackedMatrix::kPanel, c, PackedMatrix::kGroupColumns);
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

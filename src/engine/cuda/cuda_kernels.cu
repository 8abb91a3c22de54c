#include <cuda_bf16.h>

#include <cmath>
#include <type_traits>

#include "engine/cuda/cuda_kernels.h"

namespace llmbench::engine::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kThreads = 256;
constexpr int kAttentionWarps = 4;          // warps per (tile, head) in the attention kernel
constexpr int kAttentionTileElements = 16;  // rows per tile x pairs of head dims per lane

__device__ inline float load_float(const float* p, size_t i) {
  return p[i];
}
__device__ inline float load_float(const __nv_bfloat16* p, size_t i) {
  return __bfloat162float(p[i]);
}
__device__ inline void store_float(float* p, size_t i, float v) {
  p[i] = v;
}
__device__ inline void store_float(__nv_bfloat16* p, size_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
// Sum over the block (blockDim.x a multiple of 32); every thread gets the result.
__device__ inline float block_sum(float v, float* shared) {
  v = warp_sum(v);
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  __syncthreads();  // a previous call's readers are done with `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = static_cast<int>(blockDim.x) >> 5;
  return warp_sum(lane < warps ? shared[lane] : 0.0f);
}

size_t grid_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return blocks < 65535 * 8 ? blocks : 65535 * 8;
}

template <class TableT>
__global__ void embed_kernel(const int32_t* tokens, const RowInfo* rows, const TableT* table, int E,
                             const float* positions, int position_offset, float* out) {
  const size_t r = blockIdx.x;
  const size_t token = static_cast<size_t>(tokens[r]);
  const float* pos = positions ? positions + static_cast<size_t>(rows[r].position + position_offset) * E : nullptr;
  for (int i = static_cast<int>(threadIdx.x); i < E; i += static_cast<int>(blockDim.x)) {
    float v = load_float(table, token * E + i);
    if (pos) v += pos[i];
    out[r * E + i] = v;
  }
}

__global__ void add_positions_kernel(float* x, const RowInfo* rows, int d, const float* positions, int offset) {
  const size_t r = blockIdx.x;
  const float* pos = positions + static_cast<size_t>(rows[r].position + offset) * d;
  for (int i = static_cast<int>(threadIdx.x); i < d; i += static_cast<int>(blockDim.x)) x[r * d + i] += pos[i];
}

// One block per row; two passes over the row for the mean and the variance, as the CPU kernel.
template <class OutT>
__global__ void layer_norm_kernel(const float* x, int d, const float* weight, const float* bias, float eps, OutT* y) {
  __shared__ float shared[32];
  const size_t row = blockIdx.x;
  const float* xr = x + row * d;
  float sum = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < d; i += static_cast<int>(blockDim.x)) sum += xr[i];
  const float mean = block_sum(sum, shared) / static_cast<float>(d);
  float sq = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < d; i += static_cast<int>(blockDim.x)) {
    const float t = xr[i] - mean;
    sq += t * t;
  }
  const float inv = 1.0f / sqrtf(block_sum(sq, shared) / static_cast<float>(d) + eps);
  for (int i = static_cast<int>(threadIdx.x); i < d; i += static_cast<int>(blockDim.x)) {
    store_float(y, row * d + i, (xr[i] - mean) * inv * weight[i] + bias[i]);
  }
}

template <class OutT>
__global__ void convert_kernel(const float* x, size_t n, OutT* y) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    store_float(y, i, x[i]);
  }
}

// One block per row over its 3d columns: bias into q, k and v; k and v into the cache.
template <class KvT>
__global__ void qkv_store_kernel(float* qkv, const float* bias, const RowInfo* rows, const int32_t* tables, KvT* kv,
                                 int num_blocks, int B, int H, int D, int layer) {
  const int d = H * D;
  const size_t r = blockIdx.x;
  const RowInfo info = rows[r];
  const size_t block = static_cast<size_t>(tables[info.table_offset + info.position / B]);
  const int slot = info.position % B;
  float* row = qkv + r * 3 * d;
  for (int c = static_cast<int>(threadIdx.x); c < 3 * d; c += static_cast<int>(blockDim.x)) {
    float v = row[c];
    if (bias) {
      v += bias[c];
      row[c] = v;
    }
    if (c < d) continue;
    const int part = c / d;  // 1: k, 2: v
    const int within = c - part * d;
    const int h = within / D, e = within - h * D;
    const size_t index =
        ((((static_cast<size_t>(layer) * num_blocks + block) * 2 + (part - 1)) * H + h) * B + slot) * D + e;
    store_float(kv, index, v);
  }
}

// s[r] = q[r] . k over D dims for the tile's rows r < n (q rows in shared memory, read by every
// lane alike), k read once, as 16-byte vectors when D allows (every real head dim does).
template <int kRows>
__device__ inline void score_rows(const float* q, int D, const __nv_bfloat16* k, int n, float (&s)[kRows]) {
#pragma unroll
  for (int r = 0; r < kRows; ++r) s[r] = 0.0f;
  if ((D & 7) == 0) {
    for (int e = 0; e < D; e += 8) {
      const uint4 raw = *reinterpret_cast<const uint4*>(k + e);
      const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
      float kf[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(pairs[i]);
        kf[2 * i] = f.x;
        kf[2 * i + 1] = f.y;
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r < n) {
          const float* qr = q + r * D + e;
#pragma unroll
          for (int i = 0; i < 8; ++i) s[r] += qr[i] * kf[i];
        }
      }
    }
  } else {
    for (int e = 0; e < D; ++e) {
      const float ke = __bfloat162float(k[e]);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r < n) s[r] += q[r * D + e] * ke;
      }
    }
  }
}
template <int kRows>
__device__ inline void score_rows(const float* q, int D, const float* k, int n, float (&s)[kRows]) {
#pragma unroll
  for (int r = 0; r < kRows; ++r) s[r] = 0.0f;
  if ((D & 3) == 0) {
    for (int e = 0; e < D; e += 4) {
      const float4 f = *reinterpret_cast<const float4*>(k + e);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r < n) {
          const float* qr = q + r * D + e;
          s[r] += qr[0] * f.x + qr[1] * f.y + qr[2] * f.z + qr[3] * f.w;
        }
      }
    }
  } else {
    for (int e = 0; e < D; ++e) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r < n) s[r] += q[r * D + e] * k[e];
      }
    }
  }
}
__device__ inline float2 load_pair(const __nv_bfloat16* v, int e) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(v + e));
}
__device__ inline float2 load_pair(const float* v, int e) {
  return *reinterpret_cast<const float2*>(v + e);
}

// One block of kAttentionWarps warps per (tile, head). A tile is up to kRows consecutive rows of
// one sequence (positions p0 .. p0 + n - 1; a decode row is a tile of one), so each key and value
// is read once for all of them. Warp w takes the chunks of 32 keys starting at 32 w,
// 32 (w + kAttentionWarps), ...: lane i loads key c0 + i and scores it against every row of the
// tile (q in shared memory, pre-scaled), each row keeps an online softmax, the chunk's weights go
// through shared memory and each lane accumulates its pairs of head dims (2 lane, 2 lane + 1, then
// + 64, ...; kPairs of them) of the values for every row. The warps' partial results then merge
// through shared memory. kRows * kPairs <= 16 bounds the registers; a step of single-row tiles
// (decode) runs the kRows = 1 instance.
template <class KvT, class OutT, int kPairs, int kRows>
__global__ void attention_kernel(const float* qkv, const RowInfo* rows, const TileInfo* tiles, const int32_t* tables,
                                 const KvT* kv, int num_blocks, int B, int H, int D, int layer, float scale,
                                 OutT* out) {
  extern __shared__ float shared[];  // q [kRows][D], then per warp: weights [kRows][32], partial [kRows][D + 2]
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  const TileInfo tile = tiles[blockIdx.x / H];
  const int h = static_cast<int>(blockIdx.x) % H;
  const int n = tile.rows, d = H * D;
  float* q = shared;
  float* weights = q + kRows * D + warp * kRows * 32;
  float* partial = q + kRows * D + kAttentionWarps * kRows * 32;
  for (int i = static_cast<int>(threadIdx.x); i < n * D; i += static_cast<int>(blockDim.x)) {
    const int r = i / D, e = i - (i / D) * D;
    q[r * D + e] = qkv[static_cast<size_t>(tile.first_row + r) * 3 * d + h * D + e] * scale;
  }
  __syncthreads();
  const RowInfo first = rows[tile.first_row];
  const int p0 = first.position;
  const int32_t* table = tables + first.table_offset;
  const size_t layer_blocks = static_cast<size_t>(layer) * num_blocks;
  auto at = [&](int j, int kv_index) {
    const size_t block = static_cast<size_t>(table[j / B]);
    return kv + ((((layer_blocks + block) * 2 + kv_index) * H + h) * B + (j % B)) * static_cast<size_t>(D);
  };
  float2 acc[kRows][kPairs];
  float m[kRows], l[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int i = 0; i < kPairs; ++i) acc[r][i] = make_float2(0.0f, 0.0f);
  }
  const int n_keys = p0 + n;  // the last row sees keys [0, p0 + n)
  for (int c0 = warp * 32; c0 < n_keys; c0 += 32 * kAttentionWarps) {
    const int j = c0 + lane;
    float s[kRows];
    if (j < n_keys) {
      score_rows<kRows>(q, D, at(j, 0), n, s);
    } else {
#pragma unroll
      for (int r = 0; r < kRows; ++r) s[r] = -INFINITY;
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      if (r >= n) continue;
      const float sr = j <= p0 + r ? s[r] : -INFINITY;  // causal
      const float m_new = fmaxf(m[r], warp_max(sr));
      if (m_new == -INFINITY) {  // no key of this row yet (the same for the whole warp)
        weights[r * 32 + lane] = 0.0f;
        continue;
      }
      const float correction = expf(m[r] - m_new);
      const float p = sr == -INFINITY ? 0.0f : expf(sr - m_new);
      l[r] = l[r] * correction + warp_sum(p);
#pragma unroll
      for (int i = 0; i < kPairs; ++i) {
        acc[r][i].x *= correction;
        acc[r][i].y *= correction;
      }
      m[r] = m_new;
      weights[r * 32 + lane] = p;
    }
    __syncwarp();
    const int chunk = n_keys - c0 < 32 ? n_keys - c0 : 32;
    for (int jj = 0; jj < chunk; ++jj) {
      const KvT* v = at(c0 + jj, 1);
      float2 vf[kPairs];
#pragma unroll
      for (int i = 0; i < kPairs; ++i) {
        const int e = 2 * lane + 64 * i;
        vf[i] = e < D ? load_pair(v, e) : make_float2(0.0f, 0.0f);
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (r >= n) continue;
        const float p = weights[r * 32 + jj];
#pragma unroll
        for (int i = 0; i < kPairs; ++i) {
          acc[r][i].x += p * vf[i].x;
          acc[r][i].y += p * vf[i].y;
        }
      }
    }
    __syncwarp();  // the weights are rewritten by the next chunk
  }
  // Merge: out = sum_w acc_w e^(m_w - M) / sum_w l_w e^(m_w - M), M = max_w m_w (warp 0 saw key 0).
  const int stride = D + 2;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if (r >= n) continue;
    float* mine = partial + (warp * kRows + r) * stride;
    if (lane == 0) {
      mine[0] = m[r];
      mine[1] = l[r];
    }
#pragma unroll
    for (int i = 0; i < kPairs; ++i) {
      const int e = 2 * lane + 64 * i;
      if (e < D) {
        mine[2 + e] = acc[r][i].x;
        mine[3 + e] = acc[r][i].y;
      }
    }
  }
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < n * D; i += static_cast<int>(blockDim.x)) {
    const int r = i / D, e = i - (i / D) * D;
    float M = -INFINITY;
    for (int w = 0; w < kAttentionWarps; ++w) M = fmaxf(M, partial[(w * kRows + r) * stride]);
    float L = 0.0f, sum = 0.0f;
    for (int w = 0; w < kAttentionWarps; ++w) {
      const float* part = partial + (w * kRows + r) * stride;
      const float weight = expf(part[0] - M);
      L += part[1] * weight;
      sum += part[2 + e] * weight;
    }
    store_float(out, static_cast<size_t>(tile.first_row + r) * d + h * D + e, sum / L);
  }
}

__device__ inline float activate(float v, ActivationKind act) {
  switch (act) {
    case ActivationKind::kRelu:
      return v > 0.0f ? v : 0.0f;
    case ActivationKind::kGeluTanh:
      return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case ActivationKind::kGeluErf:
      return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    case ActivationKind::kNone:
      break;
  }
  return v;
}

template <class OutT>
__global__ void bias_activation_kernel(const float* y, size_t total, int n, const float* bias, ActivationKind act,
                                       OutT* out) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[i % n];
    store_float(out, i, activate(v, act));
  }
}

__global__ void add_bias_kernel(float* x, size_t total, int n, const float* bias) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    x[i] += bias[i % n];
  }
}

__global__ void gather_rows_kernel(const float* x, int d, const int32_t* rows, float* out) {
  const size_t i = blockIdx.x;
  const float* src = x + static_cast<size_t>(rows[i]) * d;
  for (int c = static_cast<int>(threadIdx.x); c < d; c += static_cast<int>(blockDim.x)) out[i * d + c] = src[c];
}

const __nv_bfloat16* as_bf16(const void* p) {
  return static_cast<const __nv_bfloat16*>(p);
}
__nv_bfloat16* as_bf16(void* p) {
  return static_cast<__nv_bfloat16*>(p);
}

}  // namespace

void embed(const int32_t* tokens, const RowInfo* rows, int T, const void* table, ElementType table_type, int E,
           const float* positions, int position_offset, float* out, cudaStream_t stream) {
  if (T == 0) return;
  if (table_type == ElementType::kBFloat16) {
    embed_kernel<<<T, kThreads, 0, stream>>>(tokens, rows, as_bf16(table), E, positions, position_offset, out);
  } else {
    embed_kernel<<<T, kThreads, 0, stream>>>(tokens, rows, static_cast<const float*>(table), E, positions,
                                             position_offset, out);
  }
}

void add_positions(float* x, const RowInfo* rows, int T, int d, const float* positions, int position_offset,
                   cudaStream_t stream) {
  if (T == 0) return;
  add_positions_kernel<<<T, kThreads, 0, stream>>>(x, rows, d, positions, position_offset);
}

void layer_norm(const float* x, int T, int d, const float* weight, const float* bias, float eps, void* y,
                ElementType y_type, cudaStream_t stream) {
  if (T == 0) return;
  if (y_type == ElementType::kBFloat16) {
    layer_norm_kernel<<<T, kThreads, 0, stream>>>(x, d, weight, bias, eps, as_bf16(y));
  } else {
    layer_norm_kernel<<<T, kThreads, 0, stream>>>(x, d, weight, bias, eps, static_cast<float*>(y));
  }
}

void convert(const float* x, size_t n, void* y, ElementType y_type, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned grid = static_cast<unsigned>(grid_for(n));
  if (y_type == ElementType::kBFloat16) {
    convert_kernel<<<grid, kThreads, 0, stream>>>(x, n, as_bf16(y));
  } else if (static_cast<const void*>(x) != y) {
    cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, stream);
  }
}

void qkv_bias_store_kv(float* qkv, int T, const float* bias, const RowInfo* rows, const int32_t* tables, KvCacheView kv,
                       int layer, cudaStream_t stream) {
  if (T == 0) return;
  if (kv.type == ElementType::kBFloat16) {
    qkv_store_kernel<<<T, kThreads, 0, stream>>>(qkv, bias, rows, tables, as_bf16(kv.data), kv.num_blocks,
                                                 kv.block_size, kv.num_heads, kv.head_dim, layer);
  } else {
    qkv_store_kernel<<<T, kThreads, 0, stream>>>(qkv, bias, rows, tables, static_cast<float*>(kv.data), kv.num_blocks,
                                                 kv.block_size, kv.num_heads, kv.head_dim, layer);
  }
}

int attention_pairs_per_lane(int head_dim) {
  const int pairs = (head_dim + 63) / 64;
  return pairs <= 1 ? 1 : pairs <= 2 ? 2 : 4;
}

int attention_tile_rows(int head_dim) {
  return kAttentionTileElements / attention_pairs_per_lane(head_dim);
}

void attention(const float* qkv, const RowInfo* rows, const TileInfo* tiles, int num_tiles, bool single_rows,
               const int32_t* tables, KvCacheView kv, int layer, float scale, void* out, ElementType out_type,
               cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>(num_tiles * kv.num_heads);
  if (grid == 0) return;
  const int NB = kv.num_blocks, B = kv.block_size, H = kv.num_heads, D = kv.head_dim;
  const int pairs = attention_pairs_per_lane(D);
  const size_t tile_rows = single_rows ? 1 : static_cast<size_t>(attention_tile_rows(D));
  const size_t shared =
      sizeof(float) * tile_rows * (D + kAttentionWarps * 32 + kAttentionWarps * (static_cast<size_t>(D) + 2));
  constexpr unsigned threads = kAttentionWarps * 32;
  auto launch = [&](auto pairs_constant, const auto* cache, auto* dst) {
    constexpr int kPairs = decltype(pairs_constant)::value;
    using KvT = std::remove_const_t<std::remove_pointer_t<decltype(cache)>>;
    using OutT = std::remove_pointer_t<decltype(dst)>;
    if (single_rows) {
      attention_kernel<KvT, OutT, kPairs, 1>
          <<<grid, threads, shared, stream>>>(qkv, rows, tiles, tables, cache, NB, B, H, D, layer, scale, dst);
    } else {
      attention_kernel<KvT, OutT, kPairs, kAttentionTileElements / kPairs>
          <<<grid, threads, shared, stream>>>(qkv, rows, tiles, tables, cache, NB, B, H, D, layer, scale, dst);
    }
  };
  auto with_pairs = [&](const auto* cache, auto* dst) {
    if (pairs == 1) {
      launch(std::integral_constant<int, 1>{}, cache, dst);
    } else if (pairs == 2) {
      launch(std::integral_constant<int, 2>{}, cache, dst);
    } else {
      launch(std::integral_constant<int, 4>{}, cache, dst);
    }
  };
  auto with_out = [&](const auto* cache) {
    if (out_type == ElementType::kBFloat16) {
      with_pairs(cache, as_bf16(out));
    } else {
      with_pairs(cache, static_cast<float*>(out));
    }
  };
  if (kv.type == ElementType::kBFloat16) {
    with_out(static_cast<const __nv_bfloat16*>(kv.data));
  } else {
    with_out(static_cast<const float*>(kv.data));
  }
}

void bias_activation(const float* y, int T, int n, const float* bias, ActivationKind act, void* out,
                     ElementType out_type, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(T) * n;
  if (total == 0) return;
  const unsigned grid = static_cast<unsigned>(grid_for(total));
  if (out_type == ElementType::kBFloat16) {
    bias_activation_kernel<<<grid, kThreads, 0, stream>>>(y, total, n, bias, act, as_bf16(out));
  } else {
    bias_activation_kernel<<<grid, kThreads, 0, stream>>>(y, total, n, bias, act, static_cast<float*>(out));
  }
}

void add_bias(float* x, int T, int n, const float* bias, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(T) * n;
  if (total == 0 || bias == nullptr) return;
  add_bias_kernel<<<static_cast<unsigned>(grid_for(total)), kThreads, 0, stream>>>(x, total, n, bias);
}

void gather_rows(const float* x, int d, const int32_t* rows, int R, float* out, cudaStream_t stream) {
  if (R == 0) return;
  gather_rows_kernel<<<R, kThreads, 0, stream>>>(x, d, rows, out);
}

}  // namespace llmbench::engine::cuda

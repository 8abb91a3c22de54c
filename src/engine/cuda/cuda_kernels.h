#pragma once
// The CUDA backend's kernels (cuda_kernels.cu), launched from host C++ on a stream. Activations
// between layers are fp32 [T, d] rows; a GEMM input is fp32 or bf16 (the weights' type), as is a
// KV cache. Linear layers themselves are cuBLAS calls in cuda_model_runner.cpp.
//
// Shapes: T = token rows of the step, d = hidden size, H = heads, D = head dim (d = H * D),
// B = block size, NB = KV blocks, L = layers, E = word_embed_proj_dim.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace llmbench::engine::cuda {

enum class ElementType : uint8_t { kFloat32, kBFloat16 };

inline size_t element_bytes(ElementType type) {
  return type == ElementType::kFloat32 ? 4 : 2;
}

// Where one token row of the step sits: its position in its sequence, and where its sequence's
// block table starts in the step's flattened tables.
struct RowInfo {
  int32_t position;
  int32_t table_offset;
};

// Consecutive rows [first_row, first_row + rows) of one sequence, at consecutive positions.
struct TileInfo {
  int32_t first_row;
  int32_t rows;
};

// The paged KV cache: [L][NB][2 (K, V)][H][B][D], so that one key's D values are contiguous.
struct KvCacheView {
  void* data = nullptr;
  ElementType type = ElementType::kFloat32;
  int num_blocks = 0, block_size = 0, num_heads = 0, head_dim = 0;
};

enum class ActivationKind : uint8_t { kNone, kRelu, kGeluTanh, kGeluErf };

// out[r, :E] = table[tokens[r], :E] (table [V, E] of `table_type`) + positions[rows[r].position +
// position_offset, :E] when positions is not null.
void embed(const int32_t* tokens, const RowInfo* rows, int T, const void* table, ElementType table_type, int E,
           const float* positions, int position_offset, float* out, cudaStream_t stream);
// x[r, :d] += positions[rows[r].position + position_offset, :d].
void add_positions(float* x, const RowInfo* rows, int T, int d, const float* positions, int position_offset,
                   cudaStream_t stream);
// y[r] = LayerNorm(x[r]) * weight + bias for rows [0, T), written as y_type (y may be x for fp32).
void layer_norm(const float* x, int T, int d, const float* weight, const float* bias, float eps, void* y,
                ElementType y_type, cudaStream_t stream);
// y[i] = x[i] as y_type, for n elements.
void convert(const float* x, size_t n, void* y, ElementType y_type, cudaStream_t stream);
// qkv [T, 3d] (q | k | v) += bias (when not null), then stores each row's k and v at its position
// in layer `layer` of the cache, through its block table.
void qkv_bias_store_kv(float* qkv, int T, const float* bias, const RowInfo* rows, const int32_t* tables, KvCacheView kv,
                       int layer, cudaStream_t stream);
// Causal attention of each row's q (in qkv) over its sequence's cached keys [0, position]; out
// [T, d] as out_type. Rows come in tiles: up to attention_tile_rows(D) consecutive rows of one
// sequence (a prefill chunk's rows, or a decode row alone), which read each key and value once. One
// block per (tile, head), its warps splitting the keys 32 at a time with an online softmax per row,
// merged at the end. single_rows: every tile is one row (a decode step), which runs a lighter
// instance of the kernel. Head dim even and at most 256.
void attention(const float* qkv, const RowInfo* rows, const TileInfo* tiles, int num_tiles, bool single_rows,
               const int32_t* tables, KvCacheView kv, int layer, float scale, void* out, ElementType out_type,
               cudaStream_t stream);
// Rows per attention tile for a head dim (16 up to D = 64, 8 up to 128, 4 up to 256).
int attention_tile_rows(int head_dim);

// out[r, c] = act(y[r, c] + bias[c]) as out_type (bias may be null).
void bias_activation(const float* y, int T, int n, const float* bias, ActivationKind act, void* out,
                     ElementType out_type, cudaStream_t stream);
// x[r, c] += bias[c].
void add_bias(float* x, int T, int n, const float* bias, cudaStream_t stream);
// out[i, :d] = x[rows[i], :d] for i in [0, R).
void gather_rows(const float* x, int d, const int32_t* rows, int R, float* out, cudaStream_t stream);

}  // namespace llmbench::engine::cuda

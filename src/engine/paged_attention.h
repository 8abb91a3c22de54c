#pragma once
// The paged KV cache and attention over it.
//
// Layout: one buffer [L][num_blocks][2][H][B*D] of fp32 or bf16 elements: for each layer and
// physical block, the K tile of every head followed by the V tiles. K tiles are transposed,
// [D][B] (scores of 16 keys come out of one vector FMA chain, no horizontal sums); V tiles are
// [B][D]. A head's K (or V) for one block is contiguous, so attention streams B*D elements per
// block. Logical block i of a sequence (positions [i*B, (i+1)*B)) lives in physical block
// block_table[i]. A bf16 cache (vLLM's "auto" for bf16 weights) halves the bytes attention reads
// per step, which at 32 sequences of a few hundred tokens exceed the weights themselves; scores
// and outputs are still accumulated in fp32.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "engine/cpu_kernels.h"
#include "engine/huge_page_buffer.h"
#include "engine/model_runner.h"

namespace llmbench::engine {

class PagedKvCache {
 public:
  static constexpr int kMaxHeadDim = 512;
  static size_t element_bytes(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }
  static size_t bytes_per_block(int num_layers, int block_size, int num_heads, int head_dim,
                                DType dtype = DType::kFloat32) {
    return static_cast<size_t>(num_layers) * 2 * num_heads * block_size * head_dim * element_bytes(dtype);
  }
  // dtype: kFloat32 or kBFloat16.
  void allocate(int num_layers, int num_blocks, int block_size, int num_heads, int head_dim,
                DType dtype = DType::kFloat32);
  bool allocated() const { return data_ != nullptr; }
  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }

  // A head's K tile ([D][B]) or V tile ([B][D]) in one block: floats in an fp32 cache, bf16 bit
  // patterns (uint16_t) in a bf16 one.
  const void* k(int layer, int block, int head) const { return at(index(layer, block, 0, head)); }
  const void* v(int layer, int block, int head) const { return at(index(layer, block, 1, head)); }

  // Stores K and V of heads [head_begin, head_end) (all heads by default) of `count` tokens at
  // positions [start_pos, start_pos + count). qkv rows are [q (H*D) | k (H*D) | v (H*D)] with row
  // stride ld. A bf16 cache rounds to nearest even through kernels.pack_bf16.
  void write(const cpu::Kernels& kernels, int layer, const float* qkv, size_t ld, int start_pos, int count,
             std::span<const int32_t> block_table, int head_begin = 0, int head_end = -1);
  int num_heads() const { return num_heads_; }
  int head_dim() const { return head_dim_; }
  // One layer of a bf16 cache through a sequence's block table, for the attention kernels.
  cpu::Bf16PagedKv bf16_view(int layer, std::span<const int32_t> block_table) const;

 private:
  size_t index(int layer, int block, int kv, int head) const {
    return ((((static_cast<size_t>(layer) * num_blocks_ + block) * 2 + kv) * num_heads_ + head) * block_size_) *
           head_dim_;
  }
  void* at(size_t element) const { return static_cast<char*>(data_.get()) + element * element_bytes(dtype_); }
  HugePageBuffer data_;
  int num_layers_ = 0, num_blocks_ = 0, block_size_ = 0, num_heads_ = 0, head_dim_ = 0;
  DType dtype_ = DType::kFloat32;
};

// Causal attention of one head for `count` query tokens at positions [start_pos, start_pos + count)
// of one sequence, whose K/V (including these tokens) are already in the cache.
// q rows: stride ldq, head slice at q + head * D; out rows: stride ldo, head slice at out + head * D.
// A bf16 cache goes to kernels.prefill_attention_bf16 when the kernel set has one for the shape.
// scores: scratch of at least prefill_scratch_floats(start_pos + count, D) floats.
inline size_t prefill_scratch_floats(int context, int head_dim) {
  const size_t fused = cpu::prefill_attention_scratch_floats(head_dim);
  return static_cast<size_t>(context) > fused ? static_cast<size_t>(context) : fused;
}
void paged_attention_head(const cpu::Kernels& kernels, const PagedKvCache& cache, int layer, int head, int head_dim,
                          float scale, const float* q, size_t ldq, int start_pos, int count,
                          std::span<const int32_t> block_table, float* out, size_t ldo, float* scores);

// Decode attention of one sequence over heads [head_begin, head_end) (default: all): one query
// token at position context - 1 (its K/V already in the cache). q and out are one row of H*D. One
// pass over the blocks with an online softmax (a running maximum and sum per head, earlier output
// rescaled when the maximum rises), so each block's K tiles of the heads, then their V tiles, are
// read as contiguous runs that the hardware prefetcher streams (all heads: one run), with the next
// block prefetched meanwhile. A bf16 cache goes to kernels.decode_attention_bf16 when the kernel
// set has one for the shape. scratch: at least decode_scratch_floats(H, D, B) floats.
inline size_t decode_scratch_floats(int num_heads, int head_dim, int block_size) {
  const size_t composed = 2 * static_cast<size_t>(num_heads) + static_cast<size_t>(block_size);
  const size_t fused = cpu::decode_attention_scratch_floats(num_heads, head_dim);
  return composed > fused ? composed : fused;
}
void paged_attention_decode(const cpu::Kernels& kernels, const PagedKvCache& cache, int layer, float scale,
                            const float* q, int context, std::span<const int32_t> block_table, float* out,
                            float* scratch, int head_begin = 0, int head_end = -1);

}  // namespace llmbench::engine

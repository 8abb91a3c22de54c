#include "engine/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/safetensors_file.h"

namespace llmbench::engine {

void PagedKvCache::allocate(int num_layers, int num_blocks, int block_size, int num_heads, int head_dim, DType dtype) {
  if (num_blocks <= 0 || block_size <= 0)
    throw std::invalid_argument("KV cache needs num_blocks > 0 and block_size > 0");
  if (dtype != DType::kFloat32 && dtype != DType::kBFloat16)
    throw std::invalid_argument("KV cache dtype must be float32 or bfloat16");
  if (head_dim <= 0 || head_dim > kMaxHeadDim)
    throw std::invalid_argument("KV cache head_dim must be in [1, " + std::to_string(kMaxHeadDim) + "]");
  const size_t bytes =
      bytes_per_block(num_layers, block_size, num_heads, head_dim, dtype) * static_cast<size_t>(num_blocks);
  data_ = allocate_huge_page_buffer(bytes);
  dtype_ = dtype;
  num_layers_ = num_layers;
  num_blocks_ = num_blocks;
  block_size_ = block_size;
  num_heads_ = num_heads;
  head_dim_ = head_dim;
}

void PagedKvCache::write(const cpu::Kernels& kernels, int layer, const float* qkv, size_t ld, int start_pos, int count,
                         std::span<const int32_t> block_table, int head_begin, int head_end) {
  if (head_end < 0) head_end = num_heads_;
  const size_t hd = static_cast<size_t>(num_heads_) * head_dim_;
  const bool bf16 = dtype_ == DType::kBFloat16;
  alignas(64) uint32_t packed[kMaxHeadDim];
  const auto* k_bf16 = reinterpret_cast<const uint16_t*>(packed);
  const int d_pad = (head_dim_ + 1) & ~1;
  for (int i = 0; i < count; ++i) {
    const int pos = start_pos + i;
    const int block = block_table[static_cast<size_t>(pos / block_size_)];
    const int slot = pos % block_size_;
    const float* row = qkv + static_cast<size_t>(i) * ld;
    for (int h = head_begin; h < head_end; ++h) {
      const float* key = row + hd + static_cast<size_t>(h) * head_dim_;
      const float* value = row + 2 * hd + static_cast<size_t>(h) * head_dim_;
      const size_t k_at = index(layer, block, 0, h) + slot;  // transposed tile [D][B]
      const size_t v_at = index(layer, block, 1, h) + static_cast<size_t>(slot) * head_dim_;
      if (bf16) {
        auto* base = static_cast<uint16_t*>(data_.get());
        kernels.pack_bf16(key, 1, head_dim_, head_dim_, packed, d_pad);
        for (int d = 0; d < head_dim_; ++d) base[k_at + static_cast<size_t>(d) * block_size_] = k_bf16[d];
        kernels.pack_bf16(value, 1, head_dim_, head_dim_, packed, d_pad);
        std::memcpy(base + v_at, packed, sizeof(uint16_t) * head_dim_);
      } else {
        auto* base = static_cast<float*>(data_.get());
        for (int d = 0; d < head_dim_; ++d) base[k_at + static_cast<size_t>(d) * block_size_] = key[d];
        std::memcpy(base + v_at, value, sizeof(float) * head_dim_);
      }
    }
  }
}

cpu::Bf16PagedKv PagedKvCache::bf16_view(int layer, std::span<const int32_t> block_table) const {
  cpu::Bf16PagedKv view;
  view.kv = static_cast<const uint16_t*>(k(layer, 0, 0));
  view.block_stride = index(0, 1, 0, 0);  // elements from one physical block to the next
  view.v_offset = index(0, 0, 1, 0);      // from a block's K tiles to its V tiles
  view.block_table = block_table.data();
  view.head_dim = head_dim_;
  view.block_size = block_size_;
  return view;
}

namespace {

// Asks for a K or V tile (block_size * head_dim floats, contiguous) ahead of its use: tiles of
// consecutive logical blocks sit at unrelated addresses, where the hardware prefetcher cannot
// follow, so each tile would otherwise start with a full memory latency per cache line.
inline void prefetch_tile(const void* tile, size_t bytes) {
  const char* p = static_cast<const char*>(tile);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

}  // namespace

void paged_attention_head(const cpu::Kernels& kernels, const PagedKvCache& cache, int layer, int head, int head_dim,
                          float scale, const float* q, size_t ldq, int start_pos, int count,
                          std::span<const int32_t> block_table, float* out, size_t ldo, float* scores) {
  const int bs = cache.block_size();
  const size_t tile = static_cast<size_t>(bs) * head_dim * PagedKvCache::element_bytes(cache.dtype());
  const bool bf16 = cache.dtype() == DType::kBFloat16;
  if (bf16 && kernels.prefill_attention_bf16 != nullptr) {
    cpu::PrefillAttentionArgs args;
    args.cache = cache.bf16_view(layer, block_table);
    args.q = q;
    args.ldq = ldq;
    args.out = out;
    args.ldo = ldo;
    args.start_pos = start_pos;
    args.count = count;
    args.head = head;
    args.scale = scale;
    args.scratch = scores;
    if (kernels.prefill_attention_bf16(args)) return;
  }
  for (int i = 0; i < count; ++i) {
    const int context = start_pos + i + 1;  // causal: positions [0, pos]
    const float* qi = q + static_cast<size_t>(i) * ldq + static_cast<size_t>(head) * head_dim;
    const int num_blocks = (context + bs - 1) / bs;
    if (i == 0) prefetch_tile(cache.k(layer, block_table[0], head), tile);
    for (int b = 0; b < num_blocks; ++b) {
      const int n = std::min(bs, context - b * bs);
      if (b + 1 < num_blocks) {
        prefetch_tile(cache.k(layer, block_table[static_cast<size_t>(b + 1)], head), tile);
      } else if (count == 1) {
        prefetch_tile(cache.v(layer, block_table[0], head), tile);
      }
      const void* k_t = cache.k(layer, block_table[static_cast<size_t>(b)], head);
      float* s = scores + static_cast<size_t>(b) * bs;
      if (bf16) {
        kernels.qk_scores_bf16(qi, static_cast<const uint16_t*>(k_t), n, head_dim, bs, scale, s);
      } else {
        kernels.qk_scores(qi, static_cast<const float*>(k_t), n, head_dim, bs, scale, s);
      }
    }
    kernels.softmax(scores, context);
    float* oi = out + static_cast<size_t>(i) * ldo + static_cast<size_t>(head) * head_dim;
    std::fill(oi, oi + head_dim, 0.0f);
    for (int b = 0; b < num_blocks; ++b) {
      const int n = std::min(bs, context - b * bs);
      if (b + 1 < num_blocks) prefetch_tile(cache.v(layer, block_table[static_cast<size_t>(b + 1)], head), tile);
      const void* v = cache.v(layer, block_table[static_cast<size_t>(b)], head);
      const float* p = scores + static_cast<size_t>(b) * bs;
      if (bf16) {
        kernels.pv_accumulate_bf16(p, static_cast<const uint16_t*>(v), n, head_dim, oi);
      } else {
        kernels.pv_accumulate(p, static_cast<const float*>(v), n, head_dim, oi);
      }
    }
  }
}

void paged_attention_decode(const cpu::Kernels& kernels, const PagedKvCache& cache, int layer, float scale,
                            const float* q, int context, std::span<const int32_t> block_table, float* out,
                            float* scratch, int head_begin, int head_end) {
  const int bs = cache.block_size(), hd = cache.head_dim();
  if (head_end < 0) head_end = cache.num_heads();
  const int heads = head_end - head_begin;
  const bool bf16 = cache.dtype() == DType::kBFloat16;
  if (bf16 && kernels.decode_attention_bf16 != nullptr) {
    cpu::DecodeAttentionArgs args;
    args.cache = cache.bf16_view(layer, block_table);
    args.q = q;
    args.out = out;
    args.context = context;
    args.head_begin = head_begin;
    args.head_end = head_end;
    args.scale = scale;
    args.scratch = scratch;
    if (kernels.decode_attention_bf16(args)) return;
  }
  // This task's heads' K tiles of a block are one contiguous run, their V tiles another.
  const size_t run = static_cast<size_t>(heads) * bs * hd * PagedKvCache::element_bytes(cache.dtype());
  const int num_blocks = (context + bs - 1) / bs;
  float* running_max = scratch;          // [heads]
  float* running_sum = scratch + heads;  // [heads]
  float* p = scratch + 2 * heads;        // [B]: one block's scores, then their weights
  std::fill(out + static_cast<size_t>(head_begin) * hd, out + static_cast<size_t>(head_end) * hd, 0.0f);
  for (int b = 0; b < num_blocks; ++b) {
    const int n = std::min(bs, context - b * bs);
    const int32_t block = block_table[static_cast<size_t>(b)];
    const char* next_k = nullptr;
    const char* next_v = nullptr;
    if (b + 1 < num_blocks) {
      next_k = static_cast<const char*>(cache.k(layer, block_table[static_cast<size_t>(b + 1)], head_begin));
      next_v = static_cast<const char*>(cache.v(layer, block_table[static_cast<size_t>(b + 1)], head_begin));
    }
    for (int i = 0; i < heads; ++i) {
      const int h = head_begin + i;
      if (next_k != nullptr) {
        prefetch_tile(next_k + run * i / heads, run / heads);
        prefetch_tile(next_v + run * i / heads, run / heads);
      }
      const float* qh = q + static_cast<size_t>(h) * hd;
      float* oh = out + static_cast<size_t>(h) * hd;
      if (bf16) {
        kernels.qk_scores_bf16(qh, static_cast<const uint16_t*>(cache.k(layer, block, h)), n, hd, bs, scale, p);
      } else {
        kernels.qk_scores(qh, static_cast<const float*>(cache.k(layer, block, h)), n, hd, bs, scale, p);
      }
      // Online softmax: weights relative to the largest score so far; when a block raises it, what
      // was accumulated is rescaled by exp(old max - new max).
      const float block_max = *std::max_element(p, p + n);
      if (b == 0) {
        running_max[i] = block_max;
        running_sum[i] = 0.0f;
      } else if (block_max > running_max[i]) {
        const float rescale = std::exp(running_max[i] - block_max);
        for (int j = 0; j < hd; ++j) oh[j] *= rescale;
        running_sum[i] *= rescale;
        running_max[i] = block_max;
      }
      running_sum[i] += kernels.exp_weights(p, n, running_max[i], 1.0f, p);
      if (bf16) {
        kernels.pv_accumulate_bf16(p, static_cast<const uint16_t*>(cache.v(layer, block, h)), n, hd, oh);
      } else {
        kernels.pv_accumulate(p, static_cast<const float*>(cache.v(layer, block, h)), n, hd, oh);
      }
    }
  }
  for (int i = 0; i < heads; ++i) {
    const float inv = 1.0f / running_sum[i];
    float* oh = out + static_cast<size_t>(head_begin + i) * hd;
    for (int j = 0; j < hd; ++j) oh[j] *= inv;
  }
}

}  // namespace llmbench::engine

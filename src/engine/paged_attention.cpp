#include "engine/paged_attention.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace llmbench::engine {

void PagedKvCache::Free::operator()(float* p) const {
  std::free(p);
}

void PagedKvCache::allocate(int num_layers, int num_blocks, int block_size, int num_heads, int head_dim) {
  if (num_blocks <= 0 || block_size <= 0)
    throw std::invalid_argument("KV cache needs num_blocks > 0 and block_size > 0");
  const size_t bytes = bytes_per_block(num_layers, block_size, num_heads, head_dim) * static_cast<size_t>(num_blocks);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_.reset(static_cast<float*>(p));
  num_layers_ = num_layers;
  num_blocks_ = num_blocks;
  block_size_ = block_size;
  num_heads_ = num_heads;
  head_dim_ = head_dim;
}

void PagedKvCache::write(int layer, const float* qkv, size_t ld, int start_pos, int count,
                         std::span<const int32_t> block_table) {
  const size_t hd = static_cast<size_t>(num_heads_) * head_dim_;
  for (int i = 0; i < count; ++i) {
    const int pos = start_pos + i;
    const int block = block_table[static_cast<size_t>(pos / block_size_)];
    const int slot = pos % block_size_;
    const float* row = qkv + static_cast<size_t>(i) * ld;
    for (int h = 0; h < num_heads_; ++h) {
      std::memcpy(k(layer, block, h) + static_cast<size_t>(slot) * head_dim_,
                  row + hd + static_cast<size_t>(h) * head_dim_, sizeof(float) * head_dim_);
      std::memcpy(v(layer, block, h) + static_cast<size_t>(slot) * head_dim_,
                  row + 2 * hd + static_cast<size_t>(h) * head_dim_, sizeof(float) * head_dim_);
    }
  }
}

void paged_attention_head(const cpu::Kernels& kernels, const PagedKvCache& cache, int layer, int head, int head_dim,
                          float scale, const float* q, size_t ldq, int start_pos, int count,
                          std::span<const int32_t> block_table, float* out, size_t ldo, float* scores) {
  const int bs = cache.block_size();
  for (int i = 0; i < count; ++i) {
    const int context = start_pos + i + 1;  // causal: positions [0, pos]
    const float* qi = q + static_cast<size_t>(i) * ldq + static_cast<size_t>(head) * head_dim;
    const int num_blocks = (context + bs - 1) / bs;
    for (int b = 0; b < num_blocks; ++b) {
      const int n = std::min(bs, context - b * bs);
      kernels.qk_scores(qi, cache.k(layer, block_table[static_cast<size_t>(b)], head), n, head_dim, scale,
                        scores + static_cast<size_t>(b) * bs);
    }
    kernels.softmax(scores, context);
    float* oi = out + static_cast<size_t>(i) * ldo + static_cast<size_t>(head) * head_dim;
    std::fill(oi, oi + head_dim, 0.0f);
    for (int b = 0; b < num_blocks; ++b) {
      const int n = std::min(bs, context - b * bs);
      kernels.pv_accumulate(scores + static_cast<size_t>(b) * bs,
                            cache.v(layer, block_table[static_cast<size_t>(b)], head), n, head_dim, oi);
    }
  }
}

}  // namespace llmbench::engine

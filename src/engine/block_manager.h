#pragma once
// Paged KV cache bookkeeping: fixed-size blocks, a free list and per-sequence block tables.
// Block i of a sequence's table holds the KV of positions [i*B, (i+1)*B). Owned by the engine
// thread; not thread-safe.
#include <cstdint>
#include <vector>

namespace llmbench::engine {

class BlockManager {
 public:
  BlockManager(int num_blocks, int block_size);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  int num_free_blocks() const { return static_cast<int>(free_blocks_.size()); }
  int num_used_blocks() const { return num_blocks_ - num_free_blocks(); }
  double usage() const;  // used / total, 0..1

  // Blocks a table holding `num_tokens` tokens needs in total.
  int blocks_for_tokens(int64_t num_tokens) const;
  // Grows `block_table` so that it covers `num_tokens` tokens. All or nothing: returns false and
  // leaves the table unchanged when there are not enough free blocks.
  bool ensure_capacity(std::vector<int32_t>& block_table, int64_t num_tokens);
  // Returns every block of the table to the free list and clears it.
  void free(std::vector<int32_t>& block_table);

 private:
  int num_blocks_;
  int block_size_;
  std::vector<int32_t> free_blocks_;  // a stack: the most recently freed block is reused first
  std::vector<uint8_t> in_use_;       // guards against double frees
};

}  // namespace llmbench::engine

#include "engine/block_manager.h"

#include <stdexcept>
#include <string>

namespace llmbench::engine {

BlockManager::BlockManager(int num_blocks, int block_size) : num_blocks_(num_blocks), block_size_(block_size) {
  if (num_blocks <= 0 || block_size <= 0) {
    throw std::invalid_argument("BlockManager: num_blocks and block_size must be positive (got " +
                                std::to_string(num_blocks) + ", " + std::to_string(block_size) + ")");
  }
  free_blocks_.reserve(static_cast<size_t>(num_blocks));
  // Pushed in reverse so that block 0 is handed out first (easier to read in tests and dumps).
  for (int i = num_blocks - 1; i >= 0; --i) free_blocks_.push_back(i);
  in_use_.assign(static_cast<size_t>(num_blocks), 0);
}

double BlockManager::usage() const {
  return static_cast<double>(num_used_blocks()) / static_cast<double>(num_blocks_);
}

int BlockManager::blocks_for_tokens(int64_t num_tokens) const {
  if (num_tokens <= 0) return 0;
  return static_cast<int>((num_tokens + block_size_ - 1) / block_size_);
}

bool BlockManager::ensure_capacity(std::vector<int32_t>& block_table, int64_t num_tokens) {
  const int needed = blocks_for_tokens(num_tokens) - static_cast<int>(block_table.size());
  if (needed <= 0) return true;
  if (needed > num_free_blocks()) return false;
  for (int i = 0; i < needed; ++i) {
    const int32_t block = free_blocks_.back();
    free_blocks_.pop_back();
    in_use_[static_cast<size_t>(block)] = 1;
    block_table.push_back(block);
  }
  return true;
}

void BlockManager::free(std::vector<int32_t>& block_table) {
  for (int32_t block : block_table) {
    if (block < 0 || block >= num_blocks_ || !in_use_[static_cast<size_t>(block)]) {
      throw std::logic_error("BlockManager: freeing block " + std::to_string(block) + " that is not in use");
    }
    in_use_[static_cast<size_t>(block)] = 0;
    free_blocks_.push_back(block);
  }
  block_table.clear();
}

}  // namespace llmbench::engine

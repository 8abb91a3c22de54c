#include "engine/model_runner.h"

#include <stdexcept>
#include <string>

namespace llmbench::engine {

void ModelRunner::forward_all_logits(std::span<const SequenceSlice>, float*) {
  throw std::logic_error("forward_all_logits: not supported by this model backend");
}

int validate_slices(std::span<const SequenceSlice> slices, const ModelConfig& c, int num_blocks, int bs) {
  int total = 0;
  for (size_t s = 0; s < slices.size(); ++s) {
    const SequenceSlice& sl = slices[s];
    const std::string where = "slice " + std::to_string(s) + ": ";
    if (sl.tokens.empty()) {
      if (sl.want_logits) throw std::invalid_argument(where + "logits requested for a slice without tokens");
      continue;
    }
    if (sl.start_pos < 0) throw std::invalid_argument(where + "negative start_pos");
    const int64_t end = static_cast<int64_t>(sl.start_pos) + static_cast<int64_t>(sl.tokens.size());
    if (end > c.max_position) {
      throw std::invalid_argument(where + "position " + std::to_string(end - 1) + " exceeds the model's " +
                                  std::to_string(c.max_position) + " positions");
    }
    const int64_t blocks_needed = (end + bs - 1) / bs;
    if (static_cast<int64_t>(sl.block_table.size()) < blocks_needed) {
      throw std::invalid_argument(where + "block table has " + std::to_string(sl.block_table.size()) +
                                  " blocks, positions up to " + std::to_string(end - 1) + " need " +
                                  std::to_string(blocks_needed));
    }
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = sl.block_table[static_cast<size_t>(b)];
      if (id < 0 || id >= num_blocks) {
        throw std::invalid_argument(where + "block id " + std::to_string(id) + " out of range [0, " +
                                    std::to_string(num_blocks) + ")");
      }
    }
    for (int32_t t : sl.tokens) {
      if (t < 0 || t >= c.vocab_size) {
        throw std::invalid_argument(where + "token id " + std::to_string(t) + " out of range [0, " +
                                    std::to_string(c.vocab_size) + ")");
      }
    }
    total += static_cast<int>(sl.tokens.size());
  }
  return total;
}

}  // namespace llmbench::engine

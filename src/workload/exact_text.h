#pragma once
// Text prompts with an exact token count under a given tokenizer.
//
// vLLM's random dataset decodes random ids, re-encodes, truncates and retries a few times, and
// accepts a mismatch when that does not converge. This generator draws from word tokens
// (" word": a space and ASCII letters), which round-trip almost always, runs the same
// decode/re-encode/trim loop on the tail only (so a shared head stays byte-identical), and
// finishes with a character-level fix-up (drop characters / add one-letter words, re-encoding
// after each step) so that encode(head + tail) has exactly the target number of tokens.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmbench::workload {

class ExactTextGenerator {
 public:
  // Keeps a reference: the tokenizer must outlive the generator.
  explicit ExactTextGenerator(const tokenizer::Tokenizer& tokenizer);

  // `n` random token ids from the word-token pool (text-friendly).
  std::vector<int32_t> random_word_ids(int32_t n, std::mt19937_64& rng) const;
  // `n` random ids from every non-special token (for token-id prompts).
  std::vector<int32_t> random_any_ids(int32_t n, std::mt19937_64& rng) const;

  // A tail such that encode(head + tail) has exactly `target_tokens` tokens. Throws
  // std::invalid_argument when head alone already has more, std::runtime_error when the
  // tokenizer cannot reach the target (never seen with byte-level BPE). `fixed_up` (optional)
  // is set when the character-level step was needed.
  std::string complete(std::string_view head, int32_t target_tokens, std::mt19937_64& rng,
                       bool* fixed_up = nullptr) const;

  int32_t count(std::string_view text) const;
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  const tokenizer::Tokenizer& tokenizer_;
  std::vector<int32_t> word_pool_;
  std::vector<int32_t> any_pool_;
};

}  // namespace llmbench::workload

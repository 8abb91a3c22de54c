#include "workload/exact_text.h"

#include <algorithm>
#include <stdexcept>

namespace llmbench::workload {
namespace {

bool is_word_token(const std::string& bytes) {
  if (bytes.size() < 2 || bytes[0] != ' ') return false;
  return std::all_of(bytes.begin() + 1, bytes.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

bool is_printable_ascii(const std::string& bytes) {
  return !bytes.empty() && std::all_of(bytes.begin(), bytes.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Removes the last UTF-8 character of s.
void pop_char(std::string& s) {
  if (s.empty()) return;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  s.resize(i);
}

}  // namespace

ExactTextGenerator::ExactTextGenerator(const tokenizer::Tokenizer& tokenizer) : tokenizer_(tokenizer) {
  const auto vocab = static_cast<int32_t>(tokenizer.vocab_size());
  std::vector<int32_t> printable;
  std::string bytes;
  for (int32_t id = 0; id < vocab; ++id) {
    if (tokenizer.is_special(id)) continue;
    bytes.clear();
    if (!tokenizer.append_token_bytes(id, bytes) || bytes.empty()) continue;
    any_pool_.push_back(id);
    if (is_word_token(bytes)) word_pool_.push_back(id);
    if (is_printable_ascii(bytes)) printable.push_back(id);
  }
  // Tiny vocabularies (test tokenizers) may have few word tokens: fall back to printable ones.
  if (word_pool_.size() < 64) word_pool_ = printable.size() >= word_pool_.size() ? printable : word_pool_;
  if (word_pool_.empty()) word_pool_ = any_pool_;
  if (any_pool_.empty()) throw std::invalid_argument("tokenizer has no usable (non-special) tokens");
}

std::vector<int32_t> ExactTextGenerator::random_word_ids(int32_t n, std::mt19937_64& rng) const {
  std::uniform_int_distribution<size_t> pick(0, word_pool_.size() - 1);
  std::vector<int32_t> ids(static_cast<size_t>(std::max(n, 0)));
  for (auto& id : ids) id = word_pool_[pick(rng)];
  return ids;
}

std::vector<int32_t> ExactTextGenerator::random_any_ids(int32_t n, std::mt19937_64& rng) const {
  std::uniform_int_distribution<size_t> pick(0, any_pool_.size() - 1);
  std::vector<int32_t> ids(static_cast<size_t>(std::max(n, 0)));
  for (auto& id : ids) id = any_pool_[pick(rng)];
  return ids;
}

int32_t ExactTextGenerator::count(std::string_view text) const {
  return static_cast<int32_t>(tokenizer_.encode(text).size());
}

std::string ExactTextGenerator::complete(std::string_view head, int32_t target, std::mt19937_64& rng,
                                         bool* fixed_up) const {
  if (fixed_up) *fixed_up = false;
  const int32_t base = head.empty() ? 0 : count(head);
  if (target < base) {
    throw std::invalid_argument("prompt head has " + std::to_string(base) + " tokens, more than the target " +
                                std::to_string(target));
  }
  if (target == base) return {};
  std::string full(head);
  const size_t head_size = full.size();
  auto total = [&](const std::string& tail) {
    full.resize(head_size);
    full += tail;
    return count(full);
  };
  std::string tail = tokenizer_.decode(random_word_ids(target - base, rng));
  // Phase 1: decode / re-encode / trim, as vLLM does, but on the tail only.
  for (int iteration = 0; iteration < 8; ++iteration) {
    const int32_t n = total(tail);
    if (n == target) return tail;
    if (n > target) {
      auto ids = tokenizer_.encode(tail);
      const auto excess = static_cast<size_t>(n - target);
      ids.resize(ids.size() > excess ? ids.size() - excess : 0);
      tail = tokenizer_.decode(ids);
    } else {
      tail += tokenizer_.decode(random_word_ids(target - n, rng));
    }
  }
  // Phase 2: one character or one short word at a time, re-encoding after each step.
  if (fixed_up) *fixed_up = true;
  std::uniform_int_distribution<int> letter('a', 'z');
  const int64_t max_steps = 8LL * (target - base) + 256;
  for (int64_t step = 0; step < max_steps; ++step) {
    const int32_t n = total(tail);
    if (n == target) return tail;
    if (n > target) {
      if (tail.empty()) break;
      pop_char(tail);
    } else {
      tail += ' ';
      tail += static_cast<char>(letter(rng));
    }
  }
  throw std::runtime_error("could not build a text prompt of exactly " + std::to_string(target) +
                           " tokens with this tokenizer");
}

}  // namespace llmbench::workload

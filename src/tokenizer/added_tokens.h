#pragma once
// Added tokens (special or not) found in the input before pre-tokenization, with Hugging Face's
// AddedVocabulary semantics: leftmost-longest matches, single_word, lstrip and rstrip.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmbench::tokenizer {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// One piece of the input: either an added token (id >= 0) or text to pre-tokenize (id < 0).
struct AddedSplit {
  size_t begin;
  size_t end;
  TokenId id;
};

class RegexSplitter;

// Matches a set of added tokens in text (a byte trie; contents are compared as bytes).
class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  ~AddedTokenMatcher();
  AddedTokenMatcher(AddedTokenMatcher&&) noexcept;
  AddedTokenMatcher& operator=(AddedTokenMatcher&&) noexcept;

  bool empty() const { return tokens_.empty(); }
  // Splits text[begin, end) into added-token and plain pieces, appending them to out in order.
  void split(std::string_view text, size_t begin, size_t end, std::vector<AddedSplit>& out) const;

 private:
  struct Node {
    int32_t first_child = -1;
    int32_t next_sibling = -1;
    int32_t token = -1;  // index into tokens_ of the token ending here
    unsigned char byte = 0;
  };
  // Longest token starting at pos, as (index into tokens_, length); index -1 if none.
  std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos, size_t end) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
  std::unique_ptr<RegexSplitter> word_char_;  // Unicode \w, for single_word
};

}  // namespace llmbench::tokenizer

#pragma once
// Incremental detokenization for one sequence, on the Tokenizer interface alone (so it works with
// any Tokenizer implementation): token bytes are appended as they come and only complete UTF-8
// characters are released. Invalid bytes become U+FFFD, one per maximal invalid subpart, as
// Python's bytes.decode("utf-8", errors="replace") (and so HF's decode) does.
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace llmbench::engine {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, bool skip_special);
  // Appends the text completed by this token to `out` (possibly nothing).
  void push(tokenizer::TokenId id, std::string& out);
  // Appends whatever is still held (an incomplete trailing character becomes U+FFFD).
  void flush(std::string& out);

 private:
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  bool skip_special_;
  std::string pending_;
};

// Moves the longest prefix of `bytes` that no later byte can change into `out` as valid UTF-8
// (invalid subparts replaced by U+FFFD) and erases it from `bytes`. With `final`, everything is moved.
void drain_utf8(std::string& bytes, std::string& out, bool final);

}  // namespace llmbench::engine

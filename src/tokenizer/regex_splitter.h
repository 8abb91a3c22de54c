#pragma once
// Pre-tokenization regexes (GPT-2's, Llama-3's, or any other Split pattern) run by PCRE2 with JIT,
// in UTF + Unicode-property mode so that \p{L}, \p{N}, \s and (?!\S) behave as in the Oniguruma
// engine that Hugging Face tokenizers uses.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::tokenizer {

// One piece of a split: [begin, end) byte offsets into the input, and whether the regex matched it.
struct SplitSpan {
  size_t begin;
  size_t end;
  bool matched;
};

class RegexSplitter {
 public:
  // Throws std::runtime_error naming the pattern when PCRE2 can't compile it.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Cuts valid UTF-8 text into alternating non-matched and matched spans covering all of it (empty
  // spans left out). Thread-safe.
  void split(std::string_view text, std::vector<SplitSpan>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

// The regex of Hugging Face's ByteLevel pre-tokenizer (GPT-2's encoder.py pattern).
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Rewrites an Oniguruma pattern (what Hugging Face tokenizers compiles) into PCRE2 syntax with the
// same meaning: Oniguruma's Unicode \s is U+0009-000D, U+0085 and \p{Z} (PCRE2's also has U+180E),
// its \w is \p{L}\p{M}\p{N}\p{Pc}, and its \h is a hex digit.
std::string onig_to_pcre2(std::string_view pattern);

// Escapes a literal string for use as a PCRE2 pattern (Split with {"String": ...}).
std::string regex_escape(std::string_view literal);

}  // namespace llmbench::tokenizer

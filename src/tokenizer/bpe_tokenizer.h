#pragma once
// The Tokenizer implementation: added tokens, then the pre-tokenizer steps (regex splits and
// ByteLevel), then BPE per word; decoding through the ByteLevel decoder.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::tokenizer {

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel } kind = Kind::kByteLevel;
  // kSplit
  std::string pattern;  // PCRE2 syntax
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  bool use_regex = true;
};

// Everything a loader gathers before the tokenizer is built.
struct TokenizerSpec {
  std::string source;  // file name(s), for messages
  TokenMap vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  BpeOptions bpe;
  std::vector<AddedToken> added_tokens;
  std::vector<PreTokenizerStep> pre_tokenizer;  // ends with ByteLevel
  std::optional<TokenId> bos_id;
  std::optional<TokenId> eos_id;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerSpec spec);
  ~BpeTokenizer() override;

  std::vector<TokenId> encode(std::string_view text) const override;
  std::string decode(std::span<const TokenId> ids, bool skip_special = true) const override;
  size_t vocab_size() const override { return tokens_.size(); }
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  std::optional<TokenId> bos_id() const override { return bos_id_; }
  std::optional<TokenId> eos_id() const override { return eos_id_; }
  bool append_token_bytes(TokenId id, std::string& out) const override;
  bool is_special(TokenId id) const override;

 private:
  struct Step {
    PreTokenizerStep spec;
    std::unique_ptr<RegexSplitter> regex;  // the Split pattern, or GPT-2's for ByteLevel(use_regex)
  };
  struct TokenInfo {
    std::string bytes;  // what the ByteLevel decoder makes of it
    bool known = false;
    bool special = false;
  };
  struct EncodeScratch;

  void encode_plain(std::string_view segment, std::vector<TokenId>& ids, EncodeScratch& scratch) const;

  BpeModel model_;
  std::vector<Step> steps_;
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized=false
  AddedTokenMatcher normalized_matcher_;  // normalized=true (no normalizer: matched the same way, second)
  TokenMap added_by_content_;
  std::vector<TokenInfo> tokens_;  // indexed by id
  std::optional<TokenId> bos_id_;
  std::optional<TokenId> eos_id_;
};

}  // namespace llmbench::tokenizer

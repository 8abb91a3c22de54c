#pragma once
// The BPE model of a byte-level tokenizer: vocabulary, ranked merges, and the merge loop that
// turns one pre-tokenized word (raw bytes) into token ids, exactly as Hugging Face's BPE does.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmbench::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

struct BpeOptions {
  bool ignore_merges = false;            // a word that is itself in the vocabulary is one token
  std::optional<std::string> unk_token;  // used for bytes whose character is not in the vocabulary
  bool fuse_unk = false;                 // consecutive unknowns become one unk token
};

// Reusable per-call buffers for encode_word (no allocation per word once warmed up).
struct BpeScratch {
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    TokenId new_id;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string mapped;
};

class BpeModel {
 public:
  // vocab: token string -> id; merges in rank order. Throws std::runtime_error when a merge names
  // a token (or produces one) that is not in the vocabulary, as Hugging Face does.
  BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one word (raw bytes, before byte-level mapping).
  void encode_word(std::string_view raw, std::vector<TokenId>& out, BpeScratch& scratch) const;

  const TokenMap& vocab() const { return vocab_; }
  std::optional<TokenId> token_to_id(std::string_view token) const;
  size_t merge_count() const { return merge_count_; }

 private:
  struct MergeEntry {
    uint64_t key;  // (left << 32) | right; kEmptyKey marks a free slot
    uint32_t rank;
    TokenId new_id;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};

  // Word -> ids, shared by all threads (Hugging Face keeps a similar cache). Sharded, each shard
  // behind a reader-writer lock; a full shard stops taking new words (no eviction).
  struct CacheShard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> words;
  };
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheWordsPerShard = 8192;
  static constexpr size_t kCacheMaxWordBytes = 64;

  void merge_word(std::string_view raw, std::vector<TokenId>& out, BpeScratch& scratch) const;
  const MergeEntry* find_merge(TokenId left, TokenId right) const noexcept;
  void insert_merge(TokenId left, TokenId right, uint32_t rank, TokenId new_id);

  TokenMap vocab_;
  BpeOptions options_;
  std::optional<TokenId> unk_id_;
  TokenId byte_id_[256];                 // id of each byte's single-character token, or -1
  std::vector<MergeEntry> merge_table_;  // open addressing, power-of-two size
  uint64_t merge_mask_ = 0;
  size_t merge_count_ = 0;
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace llmbench::tokenizer

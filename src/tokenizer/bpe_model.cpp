#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

size_t hash_key(uint64_t key) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ULL;
  key ^= key >> 32;
  return static_cast<size_t>(key);
}

// Min-heap order: lowest rank first, then leftmost position (Hugging Face's Merge ordering).
bool heap_after(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

BpeModel::BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  if (options_.unk_token) {
    auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end()) {
      throw std::runtime_error("tokenizer: unk_token '" + *options_.unk_token + "' is not in the vocabulary");
    }
    unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(byte_level::kByteToCodePoint[static_cast<size_t>(b)], ch);
    auto it = vocab_.find(ch);
    byte_id_[b] = it == vocab_.end() ? -1 : it->second;
  }
  size_t capacity = 16;
  while (capacity < merges.size() * 2 + 2) capacity *= 2;
  merge_table_.assign(capacity, MergeEntry{kEmptyKey, 0, 0});
  merge_mask_ = capacity - 1;
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto left_it = vocab_.find(left);
    if (left_it == vocab_.end()) {
      throw std::runtime_error("tokenizer: merge " + std::to_string(rank) + " uses '" + left +
                               "', which is not in the vocabulary");
    }
    auto right_it = vocab_.find(right);
    if (right_it == vocab_.end()) {
      throw std::runtime_error("tokenizer: merge " + std::to_string(rank) + " uses '" + right +
                               "', which is not in the vocabulary");
    }
    joined.assign(left).append(right);
    auto new_it = vocab_.find(joined);
    if (new_it == vocab_.end()) {
      throw std::runtime_error("tokenizer: merge " + std::to_string(rank) + " produces '" + joined +
                               "', which is not in the vocabulary");
    }
    insert_merge(left_it->second, right_it->second, static_cast<uint32_t>(rank), new_it->second);
  }
}

void BpeModel::insert_merge(TokenId left, TokenId right, uint32_t rank, TokenId new_id) {
  const uint64_t key = pair_key(left, right);
  size_t slot = hash_key(key) & merge_mask_;
  while (merge_table_[slot].key != kEmptyKey && merge_table_[slot].key != key) slot = (slot + 1) & merge_mask_;
  if (merge_table_[slot].key == kEmptyKey) ++merge_count_;
  // A repeated pair takes its last rank, as in Hugging Face (a HashMap built in order).
  merge_table_[slot] = MergeEntry{key, rank, new_id};
}

const BpeModel::MergeEntry* BpeModel::find_merge(TokenId left, TokenId right) const noexcept {
  const uint64_t key = pair_key(left, right);
  size_t slot = hash_key(key) & merge_mask_;
  while (true) {
    const MergeEntry& entry = merge_table_[slot];
    if (entry.key == key) return &entry;
    if (entry.key == kEmptyKey) return nullptr;
    slot = (slot + 1) & merge_mask_;
  }
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::encode_word(std::string_view raw, std::vector<TokenId>& out, BpeScratch& scratch) const {
  if (raw.empty()) return;
  if (raw.size() == 1 || raw.size() > kCacheMaxWordBytes) {
    merge_word(raw, out, scratch);
    return;
  }
  const size_t hash = StringHash{}(raw);
  CacheShard& shard = cache_[(hash >> 7) % kCacheShards];
  {
    std::shared_lock lock(shard.mutex);
    auto it = shard.words.find(raw);
    if (it != shard.words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(raw, out, scratch);
  std::unique_lock lock(shard.mutex);
  if (shard.words.size() < kCacheWordsPerShard) {
    shard.words.try_emplace(std::string(raw), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }
}

void BpeModel::merge_word(std::string_view raw, std::vector<TokenId>& out, BpeScratch& scratch) const {
  if (options_.ignore_merges) {
    scratch.mapped.clear();
    for (const char c : raw) append_utf8(byte_level::kByteToCodePoint[static_cast<unsigned char>(c)], scratch.mapped);
    auto it = vocab_.find(std::string_view(scratch.mapped));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (raw.size() == 1) {
    const TokenId id = byte_id_[static_cast<unsigned char>(raw[0])];
    if (id >= 0) {
      out.push_back(id);
    } else if (unk_id_) {
      out.push_back(*unk_id_);
    }
    return;
  }

  // Initial symbols: one per byte (each byte is one character of the byte-level alphabet).
  auto& symbols = scratch.symbols;
  symbols.clear();
  bool previous_unknown = false;
  for (const char c : raw) {
    TokenId id = byte_id_[static_cast<unsigned char>(c)];
    if (id < 0) {
      if (!unk_id_) continue;  // no unk token: the character is dropped, as Hugging Face does
      if (options_.fuse_unk && previous_unknown) continue;
      id = *unk_id_;
      previous_unknown = true;
    } else {
      previous_unknown = false;
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, true});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  auto& heap = scratch.heap;
  heap.clear();
  const auto push_candidate = [&](int32_t pos) {
    const int32_t next = symbols[static_cast<size_t>(pos)].next;
    if (next < 0) return;
    if (const MergeEntry* merge =
            find_merge(symbols[static_cast<size_t>(pos)].id, symbols[static_cast<size_t>(next)].id)) {
      heap.push_back({merge->rank, pos, merge->new_id});
      std::push_heap(heap.begin(), heap.end(), heap_after);
    }
  };
  for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos) push_candidate(pos);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), heap_after);
    const BpeScratch::Candidate top = heap.back();
    heap.pop_back();
    auto& left = symbols[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    auto& right = symbols[static_cast<size_t>(left.next)];
    // Stale candidate: one of its two symbols has changed since it was queued.
    const MergeEntry* merge = find_merge(left.id, right.id);
    if (!merge || merge->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) symbols[static_cast<size_t>(left.next)].prev = top.pos;
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(top.pos);
  }
  for (int32_t pos = 0; pos >= 0; pos = symbols[static_cast<size_t>(pos)].next)
    out.push_back(symbols[static_cast<size_t>(pos)].id);
}

}  // namespace llmbench::tokenizer

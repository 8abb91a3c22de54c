#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <list>
#include <stdexcept>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

// Largest id accepted relative to the number of tokens (guards against absurd ids in bad files).
constexpr size_t kMaxIdSlack = 1 << 20;

std::vector<AddedToken> select_added(const std::vector<AddedToken>& tokens, bool normalized) {
  std::vector<AddedToken> out;
  // Special tokens first, then the others, each in file order (Hugging Face's trie order).
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& token : tokens) {
      if (token.normalized == normalized && token.special == (pass == 0) && !token.content.empty()) {
        out.push_back(token);
      }
    }
  }
  return out;
}

// Applies a Split behavior to alternating matched/unmatched spans (Hugging Face's semantics).
void apply_behavior(SplitBehavior behavior, std::vector<SplitSpan>& spans) {
  std::vector<SplitSpan> out;
  out.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return;
    case SplitBehavior::kRemoved:
      for (const auto& s : spans) {
        if (!s.matched) out.push_back(s);
      }
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (const auto& s : spans) {
        if (s.matched == previous && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous = s.matched;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (const auto& s : spans) {
        if (s.matched && !previous && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous = s.matched;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->matched && !previous && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous = it->matched;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  spans.swap(out);
}

}  // namespace

struct BpeTokenizer::EncodeScratch {
  std::vector<AddedSplit> first_pass;
  std::vector<AddedSplit> second_pass;
  std::vector<std::string_view> pieces;
  std::vector<std::string_view> next_pieces;
  std::vector<SplitSpan> spans;
  std::list<std::string> prefixed;  // storage for pieces that got a prefix space (stable addresses)
  BpeScratch bpe;
};

BpeTokenizer::BpeTokenizer(TokenizerSpec spec)
    : model_(std::move(spec.vocab), spec.merges, std::move(spec.bpe)),
      raw_matcher_(select_added(spec.added_tokens, false)),
      normalized_matcher_(select_added(spec.added_tokens, true)),
      bos_id_(spec.bos_id),
      eos_id_(spec.eos_id) {
  if (spec.pre_tokenizer.empty() || spec.pre_tokenizer.back().kind != PreTokenizerStep::Kind::kByteLevel) {
    throw std::runtime_error("tokenizer: " + spec.source + ": the pre-tokenizer must end with ByteLevel");
  }
  for (auto& step : spec.pre_tokenizer) {
    Step built{step, nullptr};
    if (step.kind == PreTokenizerStep::Kind::kSplit) {
      built.regex = std::make_unique<RegexSplitter>(onig_to_pcre2(step.pattern));
    } else if (step.use_regex) {
      built.regex = std::make_unique<RegexSplitter>(onig_to_pcre2(kGpt2Pattern));
    }
    steps_.push_back(std::move(built));
  }

  size_t max_id = 0;
  size_t count = model_.vocab().size() + spec.added_tokens.size();
  const auto check_id = [&](TokenId id, const std::string& token) {
    if (id < 0 || static_cast<size_t>(id) > count + kMaxIdSlack) {
      throw std::runtime_error("tokenizer: " + spec.source + ": token '" + token + "' has an invalid id " +
                               std::to_string(id));
    }
    max_id = std::max(max_id, static_cast<size_t>(id));
  };
  for (const auto& [token, id] : model_.vocab()) check_id(id, token);
  for (const auto& token : spec.added_tokens) check_id(token.id, token.content);
  tokens_.resize(count == 0 ? 0 : max_id + 1);
  for (const auto& [token, id] : model_.vocab()) {
    auto& info = tokens_[static_cast<size_t>(id)];
    info.bytes = byte_level::token_bytes(token);
    info.known = true;
  }
  for (const auto& token : spec.added_tokens) {
    auto& info = tokens_[static_cast<size_t>(token.id)];
    info.bytes = byte_level::token_bytes(token.content);
    info.known = true;
    info.special = token.special;
    added_by_content_.emplace(token.content, token.id);
  }
  for (const auto id : {bos_id_, eos_id_}) {
    if (id && (*id < 0 || static_cast<size_t>(*id) >= tokens_.size() || !tokens_[static_cast<size_t>(*id)].known)) {
      throw std::runtime_error("tokenizer: " + spec.source + ": bos/eos id " + std::to_string(*id) + " is not a token");
    }
  }
}

BpeTokenizer::~BpeTokenizer() = default;

std::vector<TokenId> BpeTokenizer::encode(std::string_view input) const {
  // Hugging Face only ever sees valid UTF-8 (a Rust &str); other bytes are read lossily.
  std::string repaired;
  std::string_view text = input;
  if (!is_valid_utf8(input)) {
    append_utf8_lossy(input, repaired);
    text = repaired;
  }
  std::vector<TokenId> ids;
  if (text.empty()) return ids;
  ids.reserve(text.size() / 3 + 8);
  EncodeScratch scratch;

  auto& splits = scratch.first_pass;
  if (raw_matcher_.empty()) {
    splits.push_back({0, text.size(), -1});
  } else {
    raw_matcher_.split(text, 0, text.size(), splits);
  }
  if (!normalized_matcher_.empty()) {
    for (const auto& split : splits) {
      if (split.id >= 0) {
        scratch.second_pass.push_back(split);
      } else {
        normalized_matcher_.split(text, split.begin, split.end, scratch.second_pass);
      }
    }
    splits.swap(scratch.second_pass);
  }
  for (const auto& split : splits) {
    if (split.id >= 0) {
      ids.push_back(split.id);
    } else {
      encode_plain(text.substr(split.begin, split.end - split.begin), ids, scratch);
    }
  }
  return ids;
}

void BpeTokenizer::encode_plain(std::string_view segment, std::vector<TokenId>& ids, EncodeScratch& scratch) const {
  auto& pieces = scratch.pieces;
  auto& next = scratch.next_pieces;
  pieces.clear();
  pieces.push_back(segment);
  for (const Step& step : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      if (step.spec.kind == PreTokenizerStep::Kind::kByteLevel && step.spec.add_prefix_space &&
          (piece.empty() || piece.front() != ' ')) {
        scratch.prefixed.emplace_back(" ");
        scratch.prefixed.back().append(piece);
        piece = scratch.prefixed.back();
      }
      if (!step.regex) {
        next.push_back(piece);
        continue;
      }
      scratch.spans.clear();
      step.regex->split(piece, scratch.spans);
      if (step.spec.kind == PreTokenizerStep::Kind::kSplit) {
        if (step.spec.invert) {
          for (auto& span : scratch.spans) span.matched = !span.matched;
        }
        apply_behavior(step.spec.behavior, scratch.spans);
      }
      for (const auto& span : scratch.spans) {
        if (span.end > span.begin) next.push_back(piece.substr(span.begin, span.end - span.begin));
      }
    }
    pieces.swap(next);
  }
  for (const std::string_view piece : pieces) model_.encode_word(piece, ids, scratch.bpe);
}

std::string BpeTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (const TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) continue;
    const TokenInfo& info = tokens_[static_cast<size_t>(id)];
    if (!info.known || (skip_special && info.special)) continue;
    bytes.append(info.bytes);
  }
  if (is_valid_utf8(bytes)) return bytes;
  std::string text;
  append_utf8_lossy(bytes, text);
  return text;
}

std::optional<TokenId> BpeTokenizer::token_to_id(std::string_view token) const {
  auto it = added_by_content_.find(token);
  if (it != added_by_content_.end()) return it->second;
  return model_.token_to_id(token);
}

bool BpeTokenizer::append_token_bytes(TokenId id, std::string& out) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !tokens_[static_cast<size_t>(id)].known) return false;
  out.append(tokens_[static_cast<size_t>(id)].bytes);
  return true;
}

bool BpeTokenizer::is_special(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < tokens_.size() && tokens_[static_cast<size_t>(id)].special;
}

}  // namespace llmbench::tokenizer

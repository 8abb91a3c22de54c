#include "tokenizer/added_tokens.h"

#include "tokenizer/regex_splitter.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

// Unicode White_Space (what Rust's regex \s, used by Hugging Face for lstrip/rstrip, matches).
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation, joiners.
constexpr const char* kWordCharPattern = R"([\p{L}\p{Nl}\p{Nd}\p{M}\p{Pc}\x{200C}\x{200D}])";

size_t previous_char_start(std::string_view text, size_t end) {
  size_t pos = end;
  while (pos > 0) {
    --pos;
    if ((static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80) break;
  }
  return pos;
}

bool is_word_char(const RegexSplitter& word, std::string_view ch) {
  std::vector<SplitSpan> spans;
  word.split(ch, spans);
  return spans.size() == 1 && spans[0].matched;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  nodes_.push_back(Node{});
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& content = tokens_[t].content;
    if (content.empty()) continue;
    first_byte_[static_cast<unsigned char>(content[0])] = true;
    int32_t node = 0;
    for (const char c : content) {
      const auto byte = static_cast<unsigned char>(c);
      int32_t child = nodes_[static_cast<size_t>(node)].first_child;
      while (child >= 0 && nodes_[static_cast<size_t>(child)].byte != byte) {
        child = nodes_[static_cast<size_t>(child)].next_sibling;
      }
      if (child < 0) {
        Node fresh;
        fresh.byte = byte;
        fresh.next_sibling = nodes_[static_cast<size_t>(node)].first_child;
        child = static_cast<int32_t>(nodes_.size());
        nodes_.push_back(fresh);
        nodes_[static_cast<size_t>(node)].first_child = child;
      }
      node = child;
    }
    // The first token with a given content wins, as the first pattern does in Aho-Corasick.
    if (nodes_[static_cast<size_t>(node)].token < 0) nodes_[static_cast<size_t>(node)].token = static_cast<int32_t>(t);
  }
  for (const auto& token : tokens_) {
    if (token.single_word) {
      word_char_ = std::make_unique<RegexSplitter>(kWordCharPattern);
      break;
    }
  }
}

AddedTokenMatcher::~AddedTokenMatcher() = default;
AddedTokenMatcher::AddedTokenMatcher(AddedTokenMatcher&&) noexcept = default;
AddedTokenMatcher& AddedTokenMatcher::operator=(AddedTokenMatcher&&) noexcept = default;

std::pair<int32_t, size_t> AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t end) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < end; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    int32_t child = nodes_[static_cast<size_t>(node)].first_child;
    while (child >= 0 && nodes_[static_cast<size_t>(child)].byte != byte) {
      child = nodes_[static_cast<size_t>(child)].next_sibling;
    }
    if (child < 0) break;
    node = child;
    if (nodes_[static_cast<size_t>(node)].token >= 0) best = {nodes_[static_cast<size_t>(node)].token, i + 1 - pos};
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, size_t begin, size_t end, std::vector<AddedSplit>& out) const {
  size_t emitted = begin;  // everything before this is already in out
  size_t pos = begin;
  while (pos < end) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [index, length] = longest_at(text, pos, end);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(index)];
    size_t start = pos;
    size_t stop = pos + length;
    pos = stop;  // matches never overlap, even when this one is discarded
    if (token.single_word && word_char_) {
      const bool space_before =
          start == begin || !is_word_char(*word_char_, text.substr(previous_char_start(text, start),
                                                                   start - previous_char_start(text, start)));
      const bool space_after =
          stop == end || !is_word_char(*word_char_, text.substr(stop, utf8_step(text.substr(0, end), stop).length));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      size_t new_start = start;
      while (new_start > emitted) {
        const size_t prev = previous_char_start(text, new_start);
        size_t p = prev;
        if (!is_white_space(next_code_point(text, p))) break;
        new_start = prev;
      }
      start = new_start;
    }
    if (token.rstrip) {
      while (stop < end) {
        size_t p = stop;
        if (!is_white_space(next_code_point(text, p))) break;
        stop = p;
      }
      pos = stop;
    }
    if (emitted < start) out.push_back({emitted, start, -1});
    out.push_back({start, stop, token.id});
    emitted = stop;
  }
  if (emitted < end) out.push_back({emitted, end, -1});
}

}  // namespace llmbench::tokenizer

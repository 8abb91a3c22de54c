#pragma once
// A byte-level test tokenizer: token id = byte value (0..255), 256 = "<eos>" (special). Lets server
// tests predict token counts and texts exactly without the real BPE tokenizer.
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmbench::server::testing {

class FakeTokenizer : public tokenizer::Tokenizer {
 public:
  static constexpr tokenizer::TokenId kEos = 256;
  std::vector<tokenizer::TokenId> encode(std::string_view text) const override {
    std::vector<tokenizer::TokenId> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(std::span<const tokenizer::TokenId> ids, bool skip_special) const override {
    std::string out;
    for (auto id : ids) {
      if (id == kEos) {
        if (!skip_special) out += "<eos>";
      } else if (id >= 0 && id < 256) {
        out += static_cast<char>(id);
      }
    }
    return out;
  }
  size_t vocab_size() const override { return 257; }
  std::optional<tokenizer::TokenId> token_to_id(std::string_view token) const override {
    if (token.size() == 1) return static_cast<unsigned char>(token[0]);
    if (token == "<eos>") return kEos;
    return std::nullopt;
  }
  std::optional<tokenizer::TokenId> bos_id() const override { return std::nullopt; }
  std::optional<tokenizer::TokenId> eos_id() const override { return kEos; }
  bool append_token_bytes(tokenizer::TokenId id, std::string& out) const override {
    if (id < 0 || id > kEos) return false;
    out += id == kEos ? std::string("<eos>") : std::string(1, static_cast<char>(id));
    return true;
  }
  bool is_special(tokenizer::TokenId id) const override { return id == kEos; }
};

}  // namespace llmbench::server::testing

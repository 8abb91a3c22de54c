#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace llmbench::tokenizer::byte_level {

std::string encode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (const char c : raw) append_utf8(kByteToCodePoint[static_cast<unsigned char>(c)], out);
  return out;
}

std::optional<std::string> decode(std::string_view token) {
  if (!is_valid_utf8(token)) return std::nullopt;
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const uint32_t cp = next_code_point(token, pos);
    if (cp > kMaxCodePoint || kCodePointToByte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(kCodePointToByte[cp]));
  }
  return out;
}

std::string token_bytes(std::string_view token) {
  if (auto raw = decode(token)) return std::move(*raw);
  return std::string(token);
}

}  // namespace llmbench::tokenizer::byte_level

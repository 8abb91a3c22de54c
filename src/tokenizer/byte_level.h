#pragma once
// GPT-2's byte-level alphabet (bytes_to_unicode): every byte maps to one printable code point, so
// that BPE vocabularies are strings of visible characters ('Ġ' is the space byte 0x20).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmbench::tokenizer::byte_level {

// Code point that byte b is written as in byte-level vocabularies.
constexpr std::array<uint16_t, 256> make_byte_to_code_point() {
  std::array<uint16_t, 256> table{};
  uint16_t next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[static_cast<size_t>(b)] = printable ? static_cast<uint16_t>(b) : next_extra++;
  }
  return table;
}
inline constexpr std::array<uint16_t, 256> kByteToCodePoint = make_byte_to_code_point();
inline constexpr uint32_t kMaxCodePoint = 0x143;  // 256 + 67 remapped bytes - 1

// The byte a code point stands for, or -1 when it is not part of the byte-level alphabet.
constexpr std::array<int16_t, kMaxCodePoint + 1> make_code_point_to_byte() {
  std::array<int16_t, kMaxCodePoint + 1> table{};
  for (auto& v : table) v = -1;
  for (int b = 0; b < 256; ++b) table[kByteToCodePoint[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
  return table;
}
inline constexpr std::array<int16_t, kMaxCodePoint + 1> kCodePointToByte = make_code_point_to_byte();

// Maps raw bytes to their byte-level string (what vocab.json keys look like).
std::string encode(std::string_view raw);

// Maps a byte-level string back to raw bytes; nullopt if a character is outside the alphabet
// (or the string is not valid UTF-8).
std::optional<std::string> decode(std::string_view token);

// The bytes the ByteLevel decoder produces for one token: decode(token) when every character is
// in the alphabet, else the token's own UTF-8 bytes (as Hugging Face's decoder does).
std::string token_bytes(std::string_view token);

}  // namespace llmbench::tokenizer::byte_level

#pragma once
// UTF-8 helpers with the exact semantics of Rust's String::from_utf8_lossy (what Hugging Face
// tokenizers uses when decoding): every maximal invalid subpart becomes one U+FFFD.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmbench::tokenizer {

// The outcome of decoding one sequence at a position.
struct Utf8Step {
  size_t length = 0;       // bytes consumed (>= 1 unless at end of input)
  bool valid = false;      // a complete, well-formed sequence
  bool truncated = false;  // a well-formed prefix cut short by the end of input
};

// Decodes the sequence starting at bytes[pos] (pos < bytes.size()).
Utf8Step utf8_step(std::string_view bytes, size_t pos) noexcept;

bool is_valid_utf8(std::string_view bytes) noexcept;

// Appends bytes to out, replacing each maximal invalid subpart (and a truncated tail) by U+FFFD.
void append_utf8_lossy(std::string_view bytes, std::string& out);

// Length of the longest prefix of bytes that ends on a sequence boundary, leaving out a trailing
// well-formed but incomplete sequence (which more bytes could still complete).
size_t utf8_complete_prefix(std::string_view bytes) noexcept;

// Appends the UTF-8 encoding of a code point (< 0x110000, not a surrogate).
void append_utf8(uint32_t code_point, std::string& out);

// Decodes one code point of valid UTF-8 at bytes[pos]; advances pos.
uint32_t next_code_point(std::string_view bytes, size_t& pos) noexcept;

}  // namespace llmbench::tokenizer

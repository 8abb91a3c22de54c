#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

constexpr bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

}  // namespace

Utf8Step utf8_step(std::string_view bytes, size_t pos) noexcept {
  const size_t n = bytes.size();
  const auto at = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char first = at(pos);
  if (first < 0x80) return {1, true, false};
  size_t width = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (first >= 0xC2 && first <= 0xDF) {
    width = 2;
  } else if (first >= 0xE0 && first <= 0xEF) {
    width = 3;
    if (first == 0xE0) lo = 0xA0;
    if (first == 0xED) hi = 0x9F;
  } else if (first >= 0xF0 && first <= 0xF4) {
    width = 4;
    if (first == 0xF0) lo = 0x90;
    if (first == 0xF4) hi = 0x8F;
  } else {
    return {1, false, false};
  }
  if (pos + 1 >= n) return {n - pos, false, true};
  const unsigned char second = at(pos + 1);
  if (second < lo || second > hi) return {1, false, false};
  for (size_t k = 2; k < width; ++k) {
    if (pos + k >= n) return {n - pos, false, true};
    if (!is_continuation(at(pos + k))) return {k, false, false};
  }
  return {width, true, false};
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  size_t pos = 0;
  const size_t n = bytes.size();
  while (pos < n) {
    // Fast path for ASCII runs, 8 bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word = 0;
      for (size_t k = 0; k < 8; ++k)
        word |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[pos + k])) << (8 * k);
      if (word & 0x8080808080808080ULL) break;
      pos += 8;
    }
    if (pos >= n) break;
    const Utf8Step step = utf8_step(bytes, pos);
    if (!step.valid) return false;
    pos += step.length;
  }
  return true;
}

void append_utf8_lossy(std::string_view bytes, std::string& out) {
  size_t pos = 0;
  size_t run_start = 0;  // start of the current run of valid bytes, copied in one go
  while (pos < bytes.size()) {
    const Utf8Step step = utf8_step(bytes, pos);
    if (step.valid) {
      pos += step.length;
      continue;
    }
    out.append(bytes.data() + run_start, pos - run_start);
    out.append("\xEF\xBF\xBD");
    pos += step.length;
    run_start = pos;
  }
  out.append(bytes.data() + run_start, pos - run_start);
}

size_t utf8_complete_prefix(std::string_view bytes) noexcept {
  // A truncated sequence is at most 3 bytes long, so only its possible start positions matter;
  // scanning forward from a boundary keeps the same segmentation as append_utf8_lossy.
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Step step = utf8_step(bytes, pos);
    if (step.truncated) return pos;
    pos += step.length;
  }
  return bytes.size();
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t next_code_point(std::string_view bytes, size_t& pos) noexcept {
  const auto at = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  const uint32_t b0 = at(pos);
  if (b0 < 0x80) {
    pos += 1;
    return b0;
  }
  if (b0 < 0xE0) {
    const uint32_t cp = ((b0 & 0x1F) << 6) | (at(pos + 1) & 0x3F);
    pos += 2;
    return cp;
  }
  if (b0 < 0xF0) {
    const uint32_t cp = ((b0 & 0x0F) << 12) | ((at(pos + 1) & 0x3F) << 6) | (at(pos + 2) & 0x3F);
    pos += 3;
    return cp;
  }
  const uint32_t cp =
      ((b0 & 0x07) << 18) | ((at(pos + 1) & 0x3F) << 12) | ((at(pos + 2) & 0x3F) << 6) | (at(pos + 3) & 0x3F);
  pos += 4;
  return cp;
}

}  // namespace llmbench::tokenizer

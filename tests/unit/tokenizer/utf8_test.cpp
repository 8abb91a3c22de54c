// UTF-8 helpers: lossy decoding must segment invalid input exactly as Rust's
// String::from_utf8_lossy (Hugging Face decode), and streaming must hold only completable tails.
#include <gtest/gtest.h>

#include <string>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string lossy(std::string_view bytes) {
  std::string out;
  append_utf8_lossy(bytes, out);
  return out;
}

TEST(Utf8, LossyMatchesRustMaximalSubparts) {
  // Examples from Rust's documentation and the Unicode "best practice" table (U+FFFD per maximal subpart).
  EXPECT_EQ(lossy("Hello \xF0\x90\x80World"), "Hello " + kFffd + "World");
  EXPECT_EQ(lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // surrogate: ED then two stray continuations
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
  EXPECT_EQ(lossy("\xC0\xAF"), kFffd + kFffd);                          // overlong
  EXPECT_EQ(lossy("\xE2\x82"), kFffd);                                  // truncated at the end: one
  EXPECT_EQ(lossy("\xE2\x82"
                  "A"),
            kFffd + "A");
  EXPECT_EQ(lossy("\xF0\x9F\x98"
                  "\xF0\x9F\x98\x80"),
            kFffd + "\xF0\x9F\x98\x80");
  EXPECT_EQ(lossy("\xFF\xFE"), kFffd + kFffd);
  EXPECT_EQ(lossy("plain ascii \xC3\xA9"), "plain ascii \xC3\xA9");
  EXPECT_EQ(lossy(""), "");
}

TEST(Utf8, Validity) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("abcdefghijklmnop\xF0\x9F\x99\x82"));
  EXPECT_FALSE(is_valid_utf8("abcdefgh\x80"));
  EXPECT_FALSE(is_valid_utf8("abcdefghijklmno\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));
}

TEST(Utf8, CompletePrefixHoldsOnlyCompletableTails) {
  EXPECT_EQ(utf8_complete_prefix("a\xE2\x82"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(utf8_complete_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(utf8_complete_prefix("\xFF"), 1u);  // can never complete: not held
  EXPECT_EQ(utf8_complete_prefix("\xE2\x82"
                                 "A"),
            3u);                                    // broken sequence then A
  EXPECT_EQ(utf8_complete_prefix("\xF4\x90"), 2u);  // F4 90 is already invalid
}

TEST(ByteLevel, AlphabetIsGpt2s) {
  EXPECT_EQ(byte_level::encode(" "), "\xC4\xA0");   // 'Ġ'
  EXPECT_EQ(byte_level::encode("\n"), "\xC4\x8A");  // 'Ċ'
  EXPECT_EQ(byte_level::encode("a!~"), "a!~");
  EXPECT_EQ(byte_level::encode("\xAD"), "\xC5\x83");  // soft hyphen byte -> U+0143 'Ń', the last remapped
  for (int b = 0; b < 256; ++b) {
    const std::string raw(1, static_cast<char>(b));
    EXPECT_EQ(byte_level::decode(byte_level::encode(raw)), raw);
  }
  EXPECT_EQ(byte_level::decode("hello world"), std::nullopt);  // ' ' is not in the alphabet
  EXPECT_EQ(byte_level::token_bytes("hello world"), "hello world");
  EXPECT_EQ(byte_level::token_bytes("\xC4\xA0hi"), " hi");
}

}  // namespace
}  // namespace llmbench::tokenizer

// Compares llmbench's tokenizer with Hugging Face tokenizers 0.23.2 outputs (tests/fixtures/tokenizer,
// made by tests/fixtures/make_fixtures.py): ids, decode, and token-by-token streaming decode.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

const std::string kFixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/";

struct Expected {
  std::string text;
  std::vector<TokenId> ids;
  std::string decoded;
};

std::vector<Expected> load_expected(const std::string& name) {
  std::ifstream in(kFixtures + name);
  EXPECT_TRUE(in) << name;
  std::vector<Expected> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    out.push_back(
        {j["text"].get<std::string>(), j["ids"].get<std::vector<TokenId>>(), j["decoded"].get<std::string>()});
  }
  return out;
}

std::string stream_decode(const std::shared_ptr<const Tokenizer>& tokenizer, const std::vector<TokenId>& ids) {
  StreamingDecoder decoder(tokenizer, /*skip_special=*/false);
  std::string text;
  for (const TokenId id : ids) {
    const std::string delta = decoder.push(id);
    EXPECT_TRUE(is_valid_utf8(delta));  // every delta is complete UTF-8 on its own
    text += delta;
  }
  text += decoder.flush();
  return text;
}

void check_all(const std::shared_ptr<const Tokenizer>& tokenizer, const std::string& expected_file) {
  const auto cases = load_expected(expected_file);
  ASSERT_GE(cases.size(), 200u);
  size_t mismatches = 0;
  for (const auto& c : cases) {
    const auto ids = tokenizer->encode(c.text);
    EXPECT_EQ(ids, c.ids) << expected_file << ": text " << nlohmann::json(c.text).dump();
    mismatches += ids != c.ids;
    EXPECT_EQ(tokenizer->decode(c.ids, /*skip_special=*/false), c.decoded) << nlohmann::json(c.text).dump();
    EXPECT_EQ(stream_decode(tokenizer, c.ids), c.decoded) << nlohmann::json(c.text).dump();
    if (mismatches > 5) FAIL() << "too many mismatches";
  }
}

TEST(TokenizerHfFixture, Gpt2VocabMerges) {
  check_all(Tokenizer::from_vocab_merges(std::string(LLMBENCH_SOURCE_DIR) + "/data/gpt2/vocab.json",
                                         std::string(LLMBENCH_SOURCE_DIR) + "/data/gpt2/merges.txt"),
            "gpt2_expected.jsonl");
}

TEST(TokenizerHfFixture, Gpt2Embedded) {
  check_all(Tokenizer::gpt2(), "gpt2_expected.jsonl");
}

TEST(TokenizerHfFixture, Gpt2StyleTokenizerJson) {
  check_all(Tokenizer::from_tokenizer_json(kFixtures + "gpt2_style_tokenizer.json"), "gpt2_style_expected.jsonl");
}

TEST(TokenizerHfFixture, Llama3StyleTokenizerJson) {
  check_all(Tokenizer::from_tokenizer_json(kFixtures + "llama3_style_tokenizer.json"), "llama3_style_expected.jsonl");
}

TEST(TokenizerHfFixture, SkipSpecialDropsSpecialTokens) {
  auto tokenizer = Tokenizer::gpt2();
  const auto ids = tokenizer->encode("before<|endoftext|>after");
  EXPECT_EQ(tokenizer->decode(ids, /*skip_special=*/true), "beforeafter");
  EXPECT_EQ(tokenizer->decode(ids, /*skip_special=*/false), "before<|endoftext|>after");
}

}  // namespace
}  // namespace llmbench::tokenizer

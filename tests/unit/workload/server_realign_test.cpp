// Realigning text prompts to a server's token counts (--tokenize-via-server) without a network:
// the "server" counts with a different real tokenizer (the llama3-style fixture) plus a BOS token,
// as a Llama server would, while the prompts are generated with GPT-2's vocabulary.
#include "workload/server_realign.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "workload/dataset.h"
#include "workload/exact_text.h"

namespace llmbench::workload {
namespace {

const tokenizer::Tokenizer& gpt2() {
  static const auto tok = tokenizer::Tokenizer::gpt2();
  return *tok;
}
const tokenizer::Tokenizer& llama3_style() {
  static const auto tok = tokenizer::Tokenizer::from_tokenizer_json(
      std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/llama3_style_tokenizer.json");
  return *tok;
}

// A server that counts with the llama3-style tokenizer and adds BOS (`overhead` tokens in all).
struct FakeServer {
  int32_t overhead = 1;
  int64_t calls = 0;
  int64_t texts = 0;
  int32_t count_one(const std::string& text) const {
    return static_cast<int32_t>(llama3_style().encode(text).size()) + overhead;
  }
  ServerCountFn fn() {
    return [this](const std::vector<std::string>& batch) {
      ++calls;
      texts += static_cast<int64_t>(batch.size());
      std::vector<int32_t> out;
      for (const auto& t : batch) out.push_back(count_one(t));
      return out;
    };
  }
};

DatasetOptions random_text(int32_t input_len, double range_ratio, int32_t prefix_len, int64_t n, uint64_t seed) {
  DatasetOptions o;
  o.kind = DatasetKind::kRandom;
  o.token_id_prompts = false;
  o.input_len = input_len;
  o.range_ratio = range_ratio;
  o.random_prefix_len = prefix_len;
  o.num_prompts = n;
  o.output_len = 4;
  o.seed = seed;
  return o;
}

TEST(ServerRealign, EveryPromptMatchesTheServersCountForManyLengths) {
  ExactTextGenerator words(gpt2());
  for (int32_t len : {1, 2, 7, 33, 100, 257}) {
    auto ds = load_dataset(random_text(len, 0.0, 0, 6, static_cast<uint64_t>(len)), gpt2());
    FakeServer server;
    int64_t disagreeing = 0;  // before: GPT-2's exact text is not exact for this server
    for (const auto& it : ds.items) disagreeing += server.count_one(it.text) != len;
    EXPECT_GT(disagreeing, 0) << "len " << len;
    const auto report = realign_with_server(ds, words, server.fn(), RealignOptions{});
    EXPECT_EQ(report.exact, 6) << "len " << len;
    EXPECT_EQ(report.inexact, 0);
    EXPECT_LE(report.max_rounds_per_prompt, RealignOptions{}.max_rounds);
    EXPECT_EQ(ds.length_source, "server");
    for (const auto& it : ds.items) {
      EXPECT_EQ(server.count_one(it.text), len) << "len " << len << ": '" << it.text << "'";
      EXPECT_EQ(it.prompt_len, len);
      EXPECT_EQ(it.requested_prompt_len, len);
    }
  }
}

TEST(ServerRealign, RangeOfLengthsWithASharedPrefixKeepsThePrefixIdentical) {
  ExactTextGenerator words(gpt2());
  auto ds = load_dataset(random_text(41, 0.5, 9, 12, 5), gpt2());
  FakeServer server;
  const auto report = realign_with_server(ds, words, server.fn(), RealignOptions{.seed = 5});
  EXPECT_EQ(report.prefixes, 1);
  EXPECT_EQ(report.prefixes_inexact, 0);
  EXPECT_EQ(report.exact, 12);
  std::set<int32_t> lengths;
  const std::string prefix = ds.items.front().text.substr(0, ds.items.front().shared_prefix_bytes);
  EXPECT_EQ(server.count_one(prefix), 9);  // the prefix alone, as the server counts it (BOS included)
  for (const auto& it : ds.items) {
    lengths.insert(it.requested_prompt_len);
    EXPECT_EQ(server.count_one(it.text), it.requested_prompt_len);
    ASSERT_EQ(it.shared_prefix_bytes, prefix.size());
    EXPECT_EQ(it.text.substr(0, prefix.size()), prefix);
  }
  EXPECT_GT(lengths.size(), 3u);  // 9 + [20, 62]: lengths really vary
}

TEST(ServerRealign, SameSeedSameServerGivesTheSamePrompts) {
  ExactTextGenerator words(gpt2());
  auto a = load_dataset(random_text(50, 0.2, 0, 5, 3), gpt2());
  auto b = load_dataset(random_text(50, 0.2, 0, 5, 3), gpt2());
  FakeServer server;
  realign_with_server(a, words, server.fn(), RealignOptions{.seed = 3});
  realign_with_server(b, words, server.fn(), RealignOptions{.seed = 3});
  for (size_t i = 0; i < a.items.size(); ++i) EXPECT_EQ(a.items[i].text, b.items[i].text);
}

TEST(ServerRealign, ChatTemplateOverheadIsPartOfTheCount) {
  ExactTextGenerator words(gpt2());
  auto ds = load_dataset(random_text(30, 0.0, 0, 4, 8), gpt2());
  FakeServer server;
  server.overhead = 12;  // "user: ...\nassistant:" and friends
  const auto report = realign_with_server(ds, words, server.fn(), RealignOptions{});
  EXPECT_EQ(report.exact, 4);
  for (const auto& it : ds.items) EXPECT_EQ(server.count_one(it.text), 30);
}

TEST(ServerRealign, UnreachableLengthsAreReportedAfterBoundedRounds) {
  ExactTextGenerator words(gpt2());
  // Too short for the template: 5 tokens requested, the server counts at least 12.
  auto ds = load_dataset(random_text(5, 0.0, 0, 3, 1), gpt2());
  FakeServer server;
  server.overhead = 12;
  auto report = realign_with_server(ds, words, server.fn(), RealignOptions{});
  EXPECT_EQ(report.exact, 0);
  EXPECT_EQ(report.inexact, 3);
  ASSERT_FALSE(report.inexact_examples.empty());
  EXPECT_NE(report.inexact_examples.front().find("requested 5 tokens, server counts 12"), std::string::npos)
      << report.inexact_examples.front();
  for (const auto& it : ds.items) EXPECT_EQ(it.prompt_len, 12);  // the closest: no tail at all

  // A server whose counts are always even can never count an odd length: every prompt stops
  // after max_rounds counts and keeps the closest text.
  ds = load_dataset(random_text(31, 0.0, 0, 4, 2), gpt2());
  int64_t texts = 0;
  const ServerCountFn even = [&](const std::vector<std::string>& batch) {
    texts += static_cast<int64_t>(batch.size());
    std::vector<int32_t> out;
    for (const auto& t : batch) out.push_back(2 * static_cast<int32_t>((t.size() + 7) / 8));
    return out;
  };
  RealignOptions o;
  o.max_rounds = 12;
  report = realign_with_server(ds, words, even, o);
  EXPECT_EQ(report.inexact, 4);
  EXPECT_EQ(report.max_rounds_per_prompt, 12);
  EXPECT_LE(texts, 4 * 12);
  for (const auto& it : ds.items) EXPECT_EQ(std::abs(it.prompt_len - 31), 1) << it.prompt_len;
}

TEST(ServerRealign, CounterErrorsPropagateAndWrongDatasetsAreRefused) {
  ExactTextGenerator words(gpt2());
  auto ds = load_dataset(random_text(8, 0.0, 0, 2, 1), gpt2());
  const ServerCountFn broken = [](const std::vector<std::string>&) -> std::vector<int32_t> {
    throw std::runtime_error("connection refused");
  };
  EXPECT_THROW(realign_with_server(ds, words, broken, RealignOptions{}), std::runtime_error);

  DatasetOptions ids = random_text(8, 0.0, 0, 2, 1);
  ids.token_id_prompts = true;
  auto id_ds = load_dataset(ids, gpt2());
  EXPECT_FALSE(realignable(id_ds));
  FakeServer server;
  EXPECT_THROW(realign_with_server(id_ds, words, server.fn(), RealignOptions{}), std::invalid_argument);
  EXPECT_EQ(server.calls, 0);
}

}  // namespace
}  // namespace llmbench::workload

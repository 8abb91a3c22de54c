// Datasets: exact prompt lengths through real tokenizers, ShareGPT/JSONL parsing on the sample
// files in tests/data/datasets (including malformed ones), request bodies per backend.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "workload/dataset.h"
#include "workload/dataset_requests.h"
#include "workload/exact_text.h"

namespace llmbench::workload {
namespace {

const std::string kData = std::string(LLMBENCH_SOURCE_DIR) + "/tests/data/datasets/";

const tokenizer::Tokenizer& gpt2() {
  static const auto tok = tokenizer::Tokenizer::gpt2();
  return *tok;
}
const tokenizer::Tokenizer& llama3_style() {
  static const auto tok = tokenizer::Tokenizer::from_tokenizer_json(
      std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/llama3_style_tokenizer.json");
  return *tok;
}

TEST(ExactText, Gpt2ManyLengthsAndSeedsAreExact) {
  ExactTextGenerator gen(gpt2());
  for (uint64_t seed : {0u, 1u, 7u, 12345u}) {
    std::mt19937_64 rng(seed);
    for (int32_t n : {1, 2, 3, 5, 8, 13, 31, 64, 100, 128, 257, 512, 1000}) {
      const std::string text = gen.complete({}, n, rng);
      EXPECT_EQ(gpt2().encode(text).size(), static_cast<size_t>(n)) << "seed " << seed << " n " << n;
    }
  }
}

TEST(ExactText, HeadStaysIntactAndTotalIsExact) {
  ExactTextGenerator gen(gpt2());
  std::mt19937_64 rng(3);
  const std::string head = gen.complete({}, 40, rng);
  for (int32_t total : {40, 41, 47, 90, 300}) {
    const std::string tail = gen.complete(head, total, rng);
    EXPECT_EQ(gpt2().encode(head + tail).size(), static_cast<size_t>(total));
  }
  EXPECT_THROW(gen.complete(head, 10, rng), std::invalid_argument);
}

TEST(ExactText, OtherTokenizerIsExactToo) {
  ExactTextGenerator gen(llama3_style());
  for (uint64_t seed : {0u, 5u, 99u}) {
    std::mt19937_64 rng(seed);
    for (int32_t n : {1, 4, 17, 64, 200}) {
      const std::string text = gen.complete({}, n, rng);
      EXPECT_EQ(llama3_style().encode(text).size(), static_cast<size_t>(n)) << "seed " << seed << " n " << n;
    }
  }
}

TEST(RandomDataset, TextPromptsHaveExactlyTheDrawnLength) {
  DatasetOptions o;
  o.num_prompts = 40;
  o.input_len = 100;
  o.range_ratio = 0.5;
  o.output_len = 20;
  o.token_id_prompts = false;
  for (uint64_t seed : {1u, 2u}) {
    o.seed = seed;
    const Dataset ds = load_dataset(o, gpt2());
    ASSERT_EQ(ds.items.size(), 40u);
    std::set<int32_t> lengths;
    for (const auto& it : ds.items) {
      EXPECT_EQ(static_cast<int32_t>(gpt2().encode(it.text).size()), it.requested_prompt_len);
      EXPECT_EQ(it.prompt_len, it.requested_prompt_len);
      EXPECT_GE(it.requested_prompt_len, 50);
      EXPECT_LE(it.requested_prompt_len, 150);
      EXPECT_GE(it.max_tokens, 10);
      EXPECT_LE(it.max_tokens, 30);
      lengths.insert(it.requested_prompt_len);
    }
    EXPECT_GT(lengths.size(), 10u);  // lengths really vary
  }
}

TEST(RandomDataset, SharedPrefixIsByteIdenticalAndLengthsExact) {
  DatasetOptions o;
  o.num_prompts = 10;
  o.input_len = 30;
  o.random_prefix_len = 50;
  o.token_id_prompts = false;
  const Dataset ds = load_dataset(o, gpt2());
  ExactTextGenerator gen(gpt2());
  const std::string& first = ds.items[0].text;
  for (const auto& it : ds.items) {
    EXPECT_EQ(gen.count(it.text), 80);
    // The prefix: the first 50 tokens decode to the same text in every prompt.
    const auto ids = gpt2().encode(it.text);
    const auto ids0 = gpt2().encode(first);
    EXPECT_TRUE(std::equal(ids.begin(), ids.begin() + 50, ids0.begin()));
  }
  EXPECT_NE(ds.items[0].text, ds.items[1].text);
}

TEST(RandomDataset, TokenIdsAreReproducibleAndAvoidSpecials) {
  DatasetOptions o;
  o.num_prompts = 5;
  o.input_len = 64;
  o.random_prefix_len = 8;
  o.seed = 42;
  const Dataset a = load_dataset(o, gpt2());
  const Dataset b = load_dataset(o, gpt2());
  for (size_t i = 0; i < a.items.size(); ++i) {
    EXPECT_EQ(a.items[i].token_ids, b.items[i].token_ids);
    EXPECT_EQ(a.items[i].token_ids.size(), 72u);
    for (int32_t id : a.items[i].token_ids) EXPECT_FALSE(gpt2().is_special(id));
    EXPECT_TRUE(
        std::equal(a.items[i].token_ids.begin(), a.items[i].token_ids.begin() + 8, a.items[0].token_ids.begin()));
  }
  o.seed = 43;
  EXPECT_NE(load_dataset(o, gpt2()).items[0].token_ids, a.items[0].token_ids);
}

TEST(RandomDataset, RangeFollowsVllm) {
  EXPECT_EQ(length_range(100, 0.25, 0).low, 75);
  EXPECT_EQ(length_range(100, 0.25, 0).high, 125);
  EXPECT_EQ(length_range(3, 0.5, 1).low, 1);
  EXPECT_EQ(length_range(3, 0.5, 1).high, 5);
  EXPECT_THROW(length_range(10, 1.0, 0), std::invalid_argument);
  DatasetOptions o;
  o.input_len = 0;
  EXPECT_THROW(load_dataset(o, gpt2()), std::invalid_argument);
}

TEST(ShareGpt, SampleFileFollowsVllmRules) {
  DatasetOptions o;
  o.kind = DatasetKind::kShareGpt;
  o.path = kData + "sharegpt_sample.json";
  o.num_prompts = 5;
  const Dataset ds = load_dataset(o, gpt2());
  ASSERT_EQ(ds.items.size(), 5u);
  EXPECT_EQ(ds.filtered, 3);  // "Hi" (prompt < 4), "ok" reply (< 4), single turn
  EXPECT_EQ(ds.skipped, 0);
  EXPECT_EQ(ds.oversampled, 0);
  std::set<std::string> prompts;
  for (const auto& it : ds.items) {
    prompts.insert(it.text);
    EXPECT_EQ(it.prompt_len, static_cast<int32_t>(gpt2().encode(it.text).size()));
    EXPECT_GE(it.max_tokens, 4);
  }
  EXPECT_EQ(prompts.size(), 5u);
  // The system turn is skipped: the first human turn is the prompt.
  EXPECT_TRUE(prompts.count("List three prime numbers greater than ten, please."));
  // The reply's token count is the output length.
  for (const auto& it : ds.items) {
    if (it.text == "Write a haiku about the ocean at night.") {
      EXPECT_EQ(it.max_tokens,
                static_cast<int32_t>(
                    gpt2()
                        .encode("Dark waves breathe slowly\nmoonlight spills on silver foam\nthe tide keeps its time")
                        .size()));
    }
  }
}

TEST(ShareGpt, OutputOverrideAndOversampling) {
  DatasetOptions o;
  o.kind = DatasetKind::kShareGpt;
  o.path = kData + "sharegpt_sample.json";
  o.num_prompts = 12;
  o.sharegpt_output_len = 3;
  const Dataset ds = load_dataset(o, gpt2());
  ASSERT_EQ(ds.items.size(), 12u);
  EXPECT_EQ(ds.oversampled, 6);  // 6 usable once the reply length check is skipped
  for (const auto& it : ds.items) EXPECT_EQ(it.max_tokens, 3);
}

TEST(ShareGpt, MalformedEntriesSkippedOrRejected) {
  DatasetOptions o;
  o.kind = DatasetKind::kShareGpt;
  o.path = kData + "sharegpt_bad_entries.json";
  o.num_prompts = 3;
  const Dataset ds = load_dataset(o, gpt2());
  EXPECT_EQ(ds.skipped, 3);
  ASSERT_EQ(ds.bad_lines.size(), 3u);
  EXPECT_EQ(ds.bad_lines[0].line, 3);  // entry numbers, 1-based
  EXPECT_NE(ds.bad_lines[1].message.find("\"from\" and \"value\""), std::string::npos);
  o.on_bad_line = BadLinePolicy::kError;
  try {
    load_dataset(o, gpt2());
    FAIL() << "expected DatasetError";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("sharegpt_bad_entries.json:3:"), std::string::npos) << e.what();
  }
}

TEST(ShareGpt, TruncatedFileNamesTheLine) {
  DatasetOptions o;
  o.kind = DatasetKind::kShareGpt;
  o.path = kData + "sharegpt_truncated.json";
  try {
    load_dataset(o, gpt2());
    FAIL() << "expected DatasetError";
  } catch (const DatasetError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("sharegpt_truncated.json:"), std::string::npos) << what;
    EXPECT_NE(what.find("not valid JSON"), std::string::npos) << what;
  }
  o.path = kData + "does_not_exist.json";
  EXPECT_THROW(load_dataset(o, gpt2()), DatasetError);
}

TEST(Jsonl, TraceSampleParsesEveryKind) {
  DatasetOptions o;
  o.kind = DatasetKind::kJsonl;
  o.path = kData + "trace_sample.jsonl";
  o.num_prompts = 0;
  o.output_len = 16;
  o.require_timestamps = true;
  const Dataset ds = load_dataset(o, gpt2());
  ASSERT_EQ(ds.items.size(), 6u);  // the blank line is not a request
  EXPECT_EQ(ds.skipped, 0);
  EXPECT_EQ(ds.items[0].max_tokens, 8);
  EXPECT_EQ(ds.items[1].token_ids.size(), 9u);
  EXPECT_EQ(ds.items[2].messages.size(), 2u);
  EXPECT_EQ(ds.items[5].max_tokens, 16);  // default output length
  const auto offsets = trace_offsets_ns(ds);
  ASSERT_EQ(offsets.size(), 6u);
  EXPECT_EQ(offsets[0], 0);
  EXPECT_EQ(offsets[1], 250'000'000);
  EXPECT_EQ(offsets[5], 1'500'000'000);
}

TEST(Jsonl, MalformedLinesReportedWithLineNumbers) {
  DatasetOptions o;
  o.kind = DatasetKind::kJsonl;
  o.path = kData + "jsonl_malformed.jsonl";
  o.num_prompts = 0;
  const Dataset ds = load_dataset(o, gpt2());
  EXPECT_EQ(ds.items.size(), 3u);
  EXPECT_EQ(ds.skipped, 7);
  std::vector<int64_t> lines;
  for (const auto& b : ds.bad_lines) lines.push_back(b.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 4, 5, 6, 8, 9}));
  o.on_bad_line = BadLinePolicy::kError;
  try {
    load_dataset(o, gpt2());
    FAIL() << "expected DatasetError";
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("jsonl_malformed.jsonl:2: not valid JSON"), std::string::npos) << e.what();
  }
  // Trace replay needs timestamps: line 3 lacks one... and line 4 too.
  o.on_bad_line = BadLinePolicy::kSkip;
  o.require_timestamps = true;
  const Dataset trace = load_dataset(o, gpt2());
  EXPECT_EQ(trace.items.size(), 3u);
}

TEST(Jsonl, NothingUsableIsAnError) {
  DatasetOptions o;
  o.kind = DatasetKind::kJsonl;
  EXPECT_THROW(parse_jsonl("{\"x\": 1}\nnot json\n", "mem.jsonl", o, gpt2()), DatasetError);
}

// Found by fuzzing: a number too large for a double (1e600) made nlohmann throw out_of_range,
// which escaped the reader instead of being a bad line.
TEST(Jsonl, NumberOverflowIsABadLineNotACrash) {
  DatasetOptions o;
  o.num_prompts = 0;
  const auto ds = parse_jsonl("{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"timestamp\":1e600}\n", "mem.jsonl", o, gpt2());
  ASSERT_EQ(ds.items.size(), 1u);
  EXPECT_EQ(ds.skipped, 1);
  ASSERT_EQ(ds.bad_lines.size(), 1u);
  EXPECT_EQ(ds.bad_lines[0].line, 2);
  o.on_bad_line = BadLinePolicy::kError;
  EXPECT_THROW(parse_jsonl("{\"prompt\":\"x\",\"max_tokens\":1e600}\n", "mem.jsonl", o, gpt2()), DatasetError);
  o.kind = DatasetKind::kShareGpt;
  EXPECT_THROW(parse_sharegpt("[{\"conversations\":[],\"n\":-1e999}]", "mem.json", o, gpt2()), DatasetError);
}

TEST(PrefixDataset, SharedPrefixesAndMultiTurnSessions) {
  DatasetOptions o;
  o.kind = DatasetKind::kPrefix;
  o.num_prompts = 12;
  o.prefix_len = 32;
  o.suffix_len = 16;
  o.num_prefixes = 3;
  o.token_id_prompts = false;
  o.chat_turns = false;
  const Dataset ds = load_dataset(o, gpt2());
  ASSERT_EQ(ds.items.size(), 12u);
  std::set<std::vector<int32_t>> prefixes;
  for (const auto& it : ds.items) {
    const auto ids = gpt2().encode(it.text);
    EXPECT_EQ(ids.size(), 48u);
    prefixes.insert(std::vector<int32_t>(ids.begin(), ids.begin() + 32));
  }
  EXPECT_EQ(prefixes.size(), 3u);

  o.num_turns = 3;
  o.num_prompts = 6;  // 2 sessions x 3 turns
  o.chat_turns = true;
  o.output_len = 10;
  const Dataset turns = load_dataset(o, gpt2());
  ASSERT_EQ(turns.items.size(), 6u);
  EXPECT_EQ(turns.items[0].messages.size(), 1u);  // turn 1 of session 0
  EXPECT_EQ(turns.items[2].messages.size(), 3u);  // turn 2 of session 0: user, assistant, user
  EXPECT_EQ(turns.items[4].messages.size(), 5u);
  EXPECT_EQ(turns.items[4].messages[0].content, turns.items[0].messages[0].content);  // history carried
  EXPECT_EQ(turns.items[4].messages[2].content, turns.items[2].messages[2].content);
  EXPECT_EQ(gpt2().encode(turns.items[2].messages[1].content).size(), 10u);  // assistant reply
}

TEST(DatasetRequests, BodiesPerBackend) {
  DatasetOptions o;
  o.kind = DatasetKind::kJsonl;
  o.path = kData + "trace_sample.jsonl";
  o.num_prompts = 0;
  const Dataset ds = load_dataset(o, gpt2());
  BodyOptions base;
  base.model = "m";
  const auto comp = build_dataset_requests(ds, ApiBackend::kOpenAiCompletions, "", base, gpt2());
  ASSERT_EQ(comp.size(), ds.items.size());
  auto body = nlohmann::json::parse(comp[1].body);
  EXPECT_TRUE(body["prompt"].is_array());
  EXPECT_EQ(body["max_tokens"], 4);
  EXPECT_EQ(comp[1].prompt_tokens_sent, 9);
  body = nlohmann::json::parse(comp[2].body);
  EXPECT_EQ(body["prompt"], "You are a helpful assistant.\nWhat is 2 + 2?");
  const auto chat = build_dataset_requests(ds, ApiBackend::kOpenAiChat, "/v1/chat/completions", base, gpt2());
  body = nlohmann::json::parse(chat[2].body);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  body = nlohmann::json::parse(chat[1].body);
  EXPECT_EQ(body["messages"][0]["content"], gpt2().decode(ds.items[1].token_ids));
  const auto tgi = build_dataset_requests(ds, ApiBackend::kTgi, "", base, gpt2());
  EXPECT_TRUE(nlohmann::json::parse(tgi[1].body)["inputs"].is_string());

  const auto j = describe_dataset(ds, o, "gpt2");
  EXPECT_EQ(j["num_items"], 6);
  EXPECT_EQ(j["skipped_lines"], 0);
}

}  // namespace
}  // namespace llmbench::workload

#include "workload/synthetic_prompts.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace llmbench::workload {
namespace {

using nlohmann::json;

size_t word_count(const std::string& s) {
  std::istringstream in(s);
  size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

TEST(SyntheticPrompts, RandomTokenIdsExactLengthRangeAndSeeded) {
  for (int32_t len : {0, 1, 17, 1024}) {
    auto ids = random_token_ids(len, 5, 50257, 1000);
    ASSERT_EQ(ids.size(), static_cast<size_t>(len));
    for (int32_t id : ids) {
      EXPECT_GE(id, 1000);
      EXPECT_LT(id, 50257);
    }
  }
  EXPECT_EQ(random_token_ids(64, 9, 50257, 1000), random_token_ids(64, 9, 50257, 1000));
  EXPECT_NE(random_token_ids(64, 9, 50257, 1000), random_token_ids(64, 10, 50257, 1000));
}

TEST(SyntheticPrompts, CompletionsBodiesCarryExactTokenIdPrompts) {
  SyntheticOptions o;
  o.model = "facebook/opt-125m";
  o.num_requests = 5;
  o.input_len = 32;
  o.output_len = 16;
  o.seed = 1;
  o.ignore_eos = true;
  o.temperature = 0.0;
  auto specs = build_synthetic_requests(o);
  ASSERT_EQ(specs.size(), 5u);
  for (const auto& s : specs) {
    EXPECT_EQ(s.target, "/v1/completions");
    EXPECT_EQ(s.prompt_tokens_sent, 32);
    EXPECT_EQ(s.max_tokens, 16);
    auto body = json::parse(s.body);
    EXPECT_EQ(body["model"], "facebook/opt-125m");
    ASSERT_TRUE(body["prompt"].is_array());
    EXPECT_EQ(body["prompt"].size(), 32u);
    EXPECT_EQ(body["max_tokens"], 16);
    EXPECT_EQ(body["stream"], true);
    EXPECT_EQ(body["ignore_eos"], true);
    EXPECT_EQ(body["temperature"], 0.0);
    EXPECT_EQ(body["stream_options"]["include_usage"], true);
  }
  EXPECT_NE(specs[0].body, specs[1].body);                        // different prompts per request
  EXPECT_EQ(build_synthetic_requests(o)[3].body, specs[3].body);  // reproducible
}

TEST(SyntheticPrompts, FixedPromptRepeatedAndTrimmedToWords) {
  EXPECT_EQ(repeat_to_words("a b c", 7), "a b c a b c a");
  EXPECT_EQ(repeat_to_words("one two three", 2), "one two");
  EXPECT_THROW(repeat_to_words("   ", 3), std::invalid_argument);
  SyntheticOptions o;
  o.backend = ApiBackend::kOpenAiChat;
  o.fixed_prompt = "Tell me a story about a brave knight.";
  o.input_len = 20;
  o.num_requests = 2;
  auto specs = build_synthetic_requests(o);
  auto body = json::parse(specs[0].body);
  EXPECT_EQ(specs[0].target, "/v1/chat/completions");
  EXPECT_EQ(word_count(body["messages"][0]["content"].get<std::string>()), 20u);
  EXPECT_EQ(specs[0].body, specs[1].body);
}

TEST(SyntheticPrompts, TgiBodyUsesTextAndParameters) {
  SyntheticOptions o;
  o.backend = ApiBackend::kTgi;
  o.input_len = 12;
  o.output_len = 8;
  o.num_requests = 1;
  auto specs = build_synthetic_requests(o);
  auto body = json::parse(specs[0].body);
  EXPECT_EQ(specs[0].target, "/generate_stream");
  EXPECT_EQ(word_count(body["inputs"].get<std::string>()), 12u);
  EXPECT_EQ(body["parameters"]["max_new_tokens"], 8);
  EXPECT_EQ(body["parameters"].value("do_sample", false), false);  // greedy unless a temperature > 0
  EXPECT_EQ(body["parameters"]["details"], true);
}

TEST(SyntheticPrompts, ExtraBodyMergesAndIsValidated) {
  SyntheticOptions o;
  o.num_requests = 1;
  o.extra_body_json = R"({"top_p":0.9,"max_tokens":3})";
  auto body = json::parse(build_synthetic_requests(o)[0].body);
  EXPECT_EQ(body["top_p"], 0.9);
  EXPECT_EQ(body["max_tokens"], 3);  // extra body overrides
  o.extra_body_json = "[1,2]";
  EXPECT_THROW(build_synthetic_requests(o), std::invalid_argument);
  o.extra_body_json = "{nope";
  EXPECT_THROW(build_synthetic_requests(o), std::invalid_argument);
}

TEST(SyntheticPrompts, BackendNames) {
  EXPECT_EQ(parse_api_backend("vllm"), ApiBackend::kOpenAiCompletions);
  EXPECT_EQ(parse_api_backend("openai-chat"), ApiBackend::kOpenAiChat);
  EXPECT_EQ(parse_api_backend("tgi"), ApiBackend::kTgi);
  EXPECT_FALSE(parse_api_backend("nope").has_value());
}

TEST(SyntheticPrompts, RejectsBadLengths) {
  SyntheticOptions o;
  o.output_len = 0;
  EXPECT_THROW(build_synthetic_requests(o), std::invalid_argument);
  o.output_len = 1;
  o.input_len = -1;
  EXPECT_THROW(build_synthetic_requests(o), std::invalid_argument);
}

}  // namespace
}  // namespace llmbench::workload

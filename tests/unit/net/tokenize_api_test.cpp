// Tokenize endpoint formats: the bodies llmbench sends and the answers it accepts, in the shapes of
// vLLM (and llmbench serve), llama.cpp's server and TGI.
#include "net/tokenize_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmbench::net {
namespace {

using json = nlohmann::json;

TEST(TokenizeApi, BodiesCountWhatAGenerationRequestCounts) {
  auto vllm = json::parse(tokenize_body(TokenizeFormat::kVllm, "m", "Hi there", false));
  EXPECT_EQ(vllm, json({{"model", "m"}, {"prompt", "Hi there"}, {"add_special_tokens", true}}));
  vllm = json::parse(tokenize_body(TokenizeFormat::kVllm, "", "Hi", false));
  EXPECT_FALSE(vllm.contains("model"));
  const auto chat = json::parse(tokenize_body(TokenizeFormat::kVllm, "m", "Hi", true));
  EXPECT_EQ(chat["messages"], json::parse(R"([{"role":"user","content":"Hi"}])"));
  EXPECT_FALSE(chat.contains("add_special_tokens"));  // vLLM's chat default (false), as chat completions
  EXPECT_FALSE(chat.contains("prompt"));
  EXPECT_EQ(json::parse(tokenize_body(TokenizeFormat::kLlamaCpp, "m", "Hi", false)),
            json({{"content", "Hi"}, {"add_special", true}}));
  EXPECT_EQ(json::parse(tokenize_body(TokenizeFormat::kTgi, "m", "Hi", false)), json({{"inputs", "Hi"}}));
  EXPECT_EQ(tokenize_body(TokenizeFormat::kLlamaCpp, "m", "Hi", true), "");  // no chat form
  EXPECT_EQ(tokenize_body(TokenizeFormat::kTgi, "m", "Hi", true), "");
  // Text with invalid UTF-8 still makes a body (replaced), never an exception.
  EXPECT_FALSE(tokenize_body(TokenizeFormat::kVllm, "", std::string("a\xff"), false).empty());
}

TEST(TokenizeApi, AnswersOfEachServer) {
  std::string error;
  EXPECT_EQ(
      parse_tokenize_count(TokenizeFormat::kVllm,
                           R"({"count":3,"max_model_len":2048,"tokens":[2,31414,232],"token_strs":null})", &error),
      3);
  EXPECT_EQ(parse_tokenize_count(TokenizeFormat::kLlamaCpp, R"({"tokens":[1,15043,3186]})", &error), 3);
  EXPECT_EQ(parse_tokenize_count(
                TokenizeFormat::kTgi,
                R"([{"id":1,"text":"<s>","start":0,"stop":0},{"id":15043,"text":"Hi","start":0,"stop":2}])", &error),
            2);
  EXPECT_EQ(parse_tokenize_count(TokenizeFormat::kTgi, "[]", &error), 0);
}

TEST(TokenizeApi, OtherServersAnswersAreNotMistakenForOnes) {
  std::string error;
  // llama.cpp answers a vLLM-shaped body (no "content") with an empty token list: not vLLM's answer.
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kVllm, R"({"tokens":[]})", &error));
  EXPECT_NE(error.find("count"), std::string::npos) << error;
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kLlamaCpp, R"({"count":1,"tokens":[5]})", &error));
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kTgi, R"({"tokens":[5]})", &error));
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kTgi, R"([1,2])", &error));
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kVllm, R"({"count":2,"tokens":[5]})", &error));
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kVllm, R"({"count":-1})", &error));
  EXPECT_FALSE(parse_tokenize_count(TokenizeFormat::kVllm, R"({"error":{"message":"Not Found"}})", &error));
  for (const char* junk : {"", "{", "null", "data: {}\n\n", "[{\"id\":", "\xff\xfe"}) {
    for (auto f : {TokenizeFormat::kVllm, TokenizeFormat::kLlamaCpp, TokenizeFormat::kTgi}) {
      EXPECT_FALSE(parse_tokenize_count(f, junk, &error)) << junk;
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(TokenizeApi, FormatNames) {
  EXPECT_EQ(parse_tokenize_format("vllm"), TokenizeFormat::kVllm);
  EXPECT_EQ(parse_tokenize_format("sglang"), TokenizeFormat::kVllm);
  EXPECT_EQ(parse_tokenize_format("llama.cpp"), TokenizeFormat::kLlamaCpp);
  EXPECT_EQ(parse_tokenize_format("llamacpp"), TokenizeFormat::kLlamaCpp);
  EXPECT_EQ(parse_tokenize_format("tgi"), TokenizeFormat::kTgi);
  EXPECT_FALSE(parse_tokenize_format("auto"));
  for (auto f : {TokenizeFormat::kVllm, TokenizeFormat::kLlamaCpp, TokenizeFormat::kTgi}) {
    EXPECT_EQ(parse_tokenize_format(to_string(f)), f);
  }
}

}  // namespace
}  // namespace llmbench::net

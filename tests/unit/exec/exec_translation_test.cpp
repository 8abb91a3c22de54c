// The exec backend's translation: what llmbench writes to an adapter for an OpenAI completions
// body, and the SSE it synthesizes from adapter token events, read back through the real SSE
// parser and completions decoder (so token counts come out exactly as the adapter reported them).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "net/dialect.h"
#include "net/exec_transport.h"
#include "net/sse_parser.h"

namespace llmbench::net {
namespace {

nlohmann::json request_line(const std::string& body, const std::string& id) {
  std::string line = build_adapter_request_prefix(body) + id + "\"}";
  return nlohmann::json::parse(line);
}

TEST(ExecTranslation, TextPromptBodyBecomesARequestLine) {
  const auto j =
      request_line(R"({"model":"m","prompt":"Hello \"world\"","max_tokens":7,"min_tokens":7,"ignore_eos":true,)"
                   R"("temperature":0,"seed":3,"top_p":0.9,"stream":true,"stream_options":{"include_usage":true}})",
                   "42");
  EXPECT_EQ(j["type"], "request");
  EXPECT_EQ(j["id"], "42");
  EXPECT_EQ(j["prompt"], "Hello \"world\"");
  EXPECT_FALSE(j.contains("prompt_token_ids"));
  EXPECT_EQ(j["max_tokens"], 7);
  EXPECT_EQ(j["min_tokens"], 7);
  EXPECT_EQ(j["ignore_eos"], true);
  EXPECT_EQ(j["temperature"], 0);
  EXPECT_EQ(j["seed"], 3);
  EXPECT_DOUBLE_EQ(j["top_p"].get<double>(), 0.9);
  EXPECT_FALSE(j.contains("top_k"));
  EXPECT_FALSE(j.contains("stream"));
}

TEST(ExecTranslation, TokenIdPromptsAndDefaults) {
  auto j = request_line(R"({"prompt":[1,2,3]})", "1");
  EXPECT_EQ(j["prompt_token_ids"], nlohmann::json({1, 2, 3}));
  EXPECT_EQ(j["max_tokens"], 16);
  EXPECT_EQ(j["ignore_eos"], false);
  j = request_line(R"({"prompt":[[5,6]],"top_k":4})", "2");
  EXPECT_EQ(j["prompt_token_ids"], nlohmann::json({5, 6}));
  EXPECT_EQ(j["top_k"], 4);
  j = request_line(R"({"prompt":["only one"]})", "3");
  EXPECT_EQ(j["prompt"], "only one");
}

TEST(ExecTranslation, BadBodiesAreRejected) {
  EXPECT_THROW(build_adapter_request_prefix("not json"), std::invalid_argument);
  EXPECT_THROW(build_adapter_request_prefix("[1,2]"), std::invalid_argument);
  EXPECT_THROW(build_adapter_request_prefix(R"({"messages":[]})"), std::invalid_argument);
  EXPECT_THROW(build_adapter_request_prefix(R"({"prompt":{"a":1}})"), std::invalid_argument);
}

TEST(ExecTranslation, SynthesizedChunksDecodeToExactTokenCounts) {
  std::string sse;
  append_completion_chunk(&sse, R"(" t0")", 0, 1, {});
  append_completion_chunk(&sse, R"(" a \"b\"\n")", 0, 4, {});  // one event carrying 3 tokens
  append_completion_chunk(&sse, {}, 0, 4, {});                 // an event with no text
  append_completion_chunk(&sse, {}, 9, 5, "length");           // done: one more token than streamed
  sse += "data: [DONE]\n\n";

  SseParser parser;
  EventDecoder decoder(ApiDialect::kOpenAICompletions);
  StreamState state;
  DecodedEvent ev;
  std::vector<int32_t> tokens;
  std::string text, finish;
  bool done = false;
  parser.feed(sse, 123, [&](const SseEvent& e) {
    EXPECT_EQ(e.arrived_ns, 123);
    if (e.done) {
      done = true;
      return;
    }
    decoder.decode_event(e.data, &state, &ev, true);
    EXPECT_FALSE(ev.malformed) << ev.malformed_detail << " in " << e.data;
    tokens.push_back(ev.tokens);
    text += ev.text;
    if (!ev.finish_reason.empty()) finish = ev.finish_reason;
  });
  EXPECT_TRUE(done);
  EXPECT_EQ(tokens, (std::vector<int32_t>{1, 3, 0, 1}));
  EXPECT_EQ(state.completion_tokens, 5);
  EXPECT_EQ(state.prompt_tokens, 9);
  EXPECT_EQ(text, " t0 a \"b\"\n");
  EXPECT_EQ(finish, "length");
}

}  // namespace
}  // namespace llmbench::net

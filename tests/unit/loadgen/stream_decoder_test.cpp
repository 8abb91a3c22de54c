#include "loadgen/stream_decoder.h"

#include <gtest/gtest.h>

#include <string>

namespace llmbench::loadgen {
namespace {

using workload::ApiBackend;

int32_t total(const std::vector<StreamEventStamp>& ev) {
  int32_t n = 0;
  for (const auto& e : ev) n += e.tokens;
  return n;
}

TEST(StreamDecoder, OpenAiContinuousUsageGivesExactTokensPerEvent) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed(
      "data: {\"choices\":[{\"text\":\"Hello\",\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":7,"
      "\"completion_tokens\":1}}\n\n",
      100, ev);
  // Two tokens in one chunk (vLLM with stream_interval > 1), split across reads.
  d.feed("data: {\"choices\":[{\"text\":\" big world\"}],\"usage\":{\"prompt_tokens\":7,", 200, ev);
  d.feed("\"completion_tokens\":3}}\r\n\r\n", 300, ev);
  d.feed(
      "data: {\"choices\":[{\"text\":\"!\",\"finish_reason\":\"length\"}],\"usage\":{\"completion_tokens\":4}}\n\n"
      "data: [DONE]\n\n",
      400, ev);
  d.finish(500, ev);
  ASSERT_FALSE(d.failed()) << d.error();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].arrived_ns, 100);
  EXPECT_EQ(ev[0].tokens, 1);
  EXPECT_EQ(ev[1].arrived_ns, 300);  // stamped with the read that completed the event
  EXPECT_EQ(ev[1].tokens, 2);
  EXPECT_EQ(ev[2].tokens, 1);
  EXPECT_EQ(d.usage_completion_tokens(), 4);
  EXPECT_EQ(d.usage_prompt_tokens(), 7);
  EXPECT_EQ(d.finish_reason(), "length");
  EXPECT_TRUE(d.saw_done());
  EXPECT_FALSE(d.chunk_counted());
  EXPECT_EQ(d.output_text_bytes(), 16);
}

TEST(StreamDecoder, ChatWithoutUsageFallsBackToChunksAndTakesFinalUsage) {
  StreamDecoder d(ApiBackend::kOpenAiChat);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", 1, ev);
  d.feed("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", 2, ev);
  d.feed(": keep-alive\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n", 3, ev);
  d.feed("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n", 4, ev);
  d.finish(5, ev);
  ASSERT_FALSE(d.failed()) << d.error();
  EXPECT_TRUE(d.chunk_counted());
  EXPECT_EQ(total(ev), 2);
  EXPECT_EQ(ev[0].tokens, 0);  // role-only event
  EXPECT_EQ(d.usage_completion_tokens(), 2);
  EXPECT_EQ(d.finish_reason(), "stop");
}

TEST(StreamDecoder, TgiOneTokenPerEventAndDetails) {
  StreamDecoder d(ApiBackend::kTgi);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed(
      "data:{\"index\":1,\"token\":{\"id\":5,\"text\":\"x\",\"logprob\":-1,\"special\":false},"
      "\"generated_text\":null,\"details\":null}\n\n",
      10, ev);
  d.feed(
      "data:{\"index\":2,\"token\":{\"id\":6,\"text\":\"y\",\"logprob\":-1,\"special\":false},"
      "\"generated_text\":\"xy\",\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":2}}\n\n",
      20, ev);
  d.finish(30, ev);
  ASSERT_FALSE(d.failed()) << d.error();
  EXPECT_EQ(total(ev), 2);
  EXPECT_EQ(d.usage_completion_tokens(), 2);
  EXPECT_EQ(d.finish_reason(), "length");
  EXPECT_FALSE(d.chunk_counted());
}

TEST(StreamDecoder, MalformedJsonFails) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("data: {\"choices\":[{\"text\":\"a\"}\n\n", 1, ev);
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.failure_kind(), "malformed_json");
}

TEST(StreamDecoder, NonSseLinesAreIgnoredAndTheStreamIsIncomplete) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("{\"choices\":[]}\n\n", 1, ev);  // no "data:" field: not an event (SSE spec)
  EXPECT_TRUE(ev.empty());
  d.finish(2, ev);
  EXPECT_EQ(d.failure_kind(), "incomplete_stream");
}

TEST(StreamDecoder, SharedJsonDecoderAcrossStreams) {
  auto json = std::make_shared<net::EventDecoder>(net::ApiDialect::kOpenAICompletions);
  StreamDecoder a(json), b(json);
  a.reset(true);
  b.reset(true);
  std::vector<StreamEventStamp> ea, eb;
  a.feed("data: {\"choices\":[{\"text\":\"x\"}],\"usage\":{\"completion_tokens\":1}}\n\n", 1, ea);
  b.feed("data: {\"choices\":[{\"text\":\"y\"}],\"usage\":{\"completion_tokens\":2}}\n\n", 2, eb);
  a.feed("data: {\"choices\":[{\"text\":\"x\",\"finish_reason\":\"stop\"}],\"usage\":{\"completion_tokens\":3}}\n\n", 3,
         ea);
  ASSERT_EQ(ea.size(), 2u);
  EXPECT_EQ(ea[1].tokens, 2);  // each stream keeps its own running count
  EXPECT_EQ(eb[0].tokens, 2);
}

TEST(StreamDecoder, ErrorEventIsServerError) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("data: {\"error\":{\"message\":\"out of memory\",\"type\":\"InternalError\"}}\n\n", 1, ev);
  EXPECT_EQ(d.failure_kind(), "server_error");
  EXPECT_EQ(d.error(), "out of memory");
}

TEST(StreamDecoder, StreamWithoutEndIsIncomplete) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("data: {\"choices\":[{\"text\":\"a\"}]}\n\n", 1, ev);
  d.finish(2, ev);
  EXPECT_EQ(d.failure_kind(), "incomplete_stream");
}

TEST(StreamDecoder, NonStreamedJsonBody) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(false);
  std::vector<StreamEventStamp> ev;
  d.feed("{\"choices\":[{\"text\":\"abc\",\"finish_reason\":\"length\"}],", 1, ev);
  d.feed("\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}", 2, ev);
  d.finish(9, ev);
  ASSERT_FALSE(d.failed()) << d.error();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].arrived_ns, 9);
  EXPECT_EQ(ev[0].tokens, 3);
}

TEST(StreamDecoder, ResetClearsState) {
  StreamDecoder d(ApiBackend::kOpenAiCompletions);
  d.reset(true);
  std::vector<StreamEventStamp> ev;
  d.feed("data: {garbage\n\n", 1, ev);
  ASSERT_TRUE(d.failed());
  d.reset(true);
  EXPECT_FALSE(d.failed());
  d.feed("data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\"}]}\n\n", 1, ev);
  d.finish(2, ev);
  EXPECT_FALSE(d.failed());
}

}  // namespace
}  // namespace llmbench::loadgen

#include "net/sse_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace llmbench::net {
namespace {

struct Collected {
  std::string type, data, id;
  int64_t arrived_ns = 0;
  bool done = false, overflow = false;
  bool operator==(const Collected&) const = default;
};

std::vector<Collected> feed_all(SseParser& p, std::string_view chunk, int64_t stamp) {
  std::vector<Collected> out;
  p.feed(chunk, stamp, [&](const SseEvent& e) {
    out.push_back({std::string(e.type), std::string(e.data), std::string(e.id), e.arrived_ns, e.done, e.overflow});
  });
  return out;
}

std::vector<Collected> one_shot(std::string_view text, size_t limit = SseParser::kDefaultMaxEventBytes) {
  SseParser p(limit);
  return feed_all(p, text, 7);
}

// Feeds `text` in pieces of the given sizes (cycled), stamping each piece with its index.
std::vector<Collected> in_pieces(std::string_view text, const std::vector<size_t>& sizes,
                                 size_t limit = SseParser::kDefaultMaxEventBytes) {
  SseParser p(limit);
  std::vector<Collected> out;
  size_t pos = 0, i = 0;
  while (pos < text.size()) {
    const size_t n = std::min(sizes[i % sizes.size()], text.size() - pos);
    auto got = feed_all(p, text.substr(pos, n), static_cast<int64_t>(pos + n));
    out.insert(out.end(), got.begin(), got.end());
    pos += n;
    ++i;
  }
  return out;
}

TEST(SseParser, SingleEventWithSpaceAfterColon) {
  auto ev = one_shot("data: hello\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "hello");
  EXPECT_EQ(ev[0].type, "");
  EXPECT_EQ(ev[0].arrived_ns, 7);
  EXPECT_FALSE(ev[0].done);
}

TEST(SseParser, NoSpaceAfterColonAsAxumWritesIt) {
  // TGI (axum) writes "data:{json}" with no space.
  auto ev = one_shot("data:{\"a\":1}\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
}

TEST(SseParser, OnlyOneLeadingSpaceIsStripped) {
  auto ev = one_shot("data:  two\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, " two");
}

TEST(SseParser, SeveralEventsInOneRead) {
  auto ev = one_shot("data: a\n\ndata: b\n\ndata: [DONE]\n\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "a");
  EXPECT_EQ(ev[1].data, "b");
  EXPECT_TRUE(ev[2].done);
  EXPECT_EQ(ev[2].data, "[DONE]");
}

TEST(SseParser, LineEndingsLfCrlfCr) {
  for (std::string text : {"data: x\n\n", "data: x\r\n\r\n", "data: x\r\r", "data: x\r\n\n", "data: x\n\r\n"}) {
    auto ev = one_shot(text);
    ASSERT_EQ(ev.size(), 1u) << text;
    EXPECT_EQ(ev[0].data, "x");
  }
}

TEST(SseParser, CrlfSplitAcrossReadsIsOneLineEnd) {
  SseParser p;
  EXPECT_TRUE(feed_all(p, "data: a\r", 1).empty());
  EXPECT_TRUE(feed_all(p, "\n", 2).empty());  // the LF of the CRLF, not a blank line
  auto ev = feed_all(p, "\r\n", 3);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a");
  EXPECT_EQ(ev[0].arrived_ns, 3);
}

TEST(SseParser, CrThenCrIsBlankLine) {
  SseParser p;
  EXPECT_TRUE(feed_all(p, "data: a\r", 1).empty());
  auto ev = feed_all(p, "\r", 2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].arrived_ns, 2);
}

TEST(SseParser, MultiLineDataJoinedWithNewline) {
  auto ev = one_shot("data: line1\ndata: line2\ndata\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "line1\nline2\n");  // "data" alone appends an empty line
}

TEST(SseParser, CommentsAreIgnoredAndCounted) {
  SseParser p;
  auto ev = feed_all(p, ": ping\n\n:another\ndata: x\n\n", 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "x");
  EXPECT_EQ(p.comments(), 2u);
}

TEST(SseParser, EventAndIdFields) {
  auto ev = one_shot("event: error\nid: 42\ndata: {}\n\ndata: next\n\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "error");
  EXPECT_EQ(ev[0].id, "42");
  EXPECT_EQ(ev[1].type, "");  // the type resets after each event
  EXPECT_EQ(ev[1].id, "42");  // the last event ID persists
}

TEST(SseParser, EventWithoutDataIsNotDispatchedAndResetsType) {
  auto ev = one_shot("event: foo\n\ndata: x\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "");
}

TEST(SseParser, FieldWithNoColonAndUnknownFields) {
  auto ev = one_shot("data\nfoo: bar\nretry: 1500\nretry: x\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "");
  SseParser p;
  feed_all(p, "retry: 1500\nretry: 12a\n\n", 1);
  EXPECT_EQ(p.retry_ms(), 1500);
}

TEST(SseParser, LeadingBomStrippedOnceEvenWhenSplit) {
  const std::string bom = "\xEF\xBB\xBF";
  auto ev = in_pieces(bom + "data: a\n\n", {1});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a");
  // Only at the start of the stream: a second BOM is part of the field name.
  auto ev2 = one_shot(bom + bom + "data: a\n\n");
  EXPECT_TRUE(ev2.empty());
  // A partial BOM prefix is text.
  auto ev3 = one_shot(
      "\xEF"
      "data: a\n\n");
  EXPECT_TRUE(ev3.empty());
}

TEST(SseParser, StampIsTheChunkThatCompletedTheEvent) {
  SseParser p;
  EXPECT_TRUE(feed_all(p, "data: {\"text\":", 100).empty());
  EXPECT_TRUE(feed_all(p, "\"abc\"}\n", 200).empty());
  auto ev = feed_all(p, "\ndata: second\n\ndata: thi", 300);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "{\"text\":\"abc\"}");
  EXPECT_EQ(ev[0].arrived_ns, 300);
  EXPECT_EQ(ev[1].arrived_ns, 300);
  EXPECT_TRUE(p.has_partial_event());
  ev = feed_all(p, "rd\n\n", 400);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "third");
  EXPECT_EQ(ev[0].arrived_ns, 400);
  EXPECT_FALSE(p.has_partial_event());
}

TEST(SseParser, OversizedEventIsReportedOnceAndParsingRecovers) {
  std::string big = "data: " + std::string(5000, 'x') + "\n\n";
  const std::string text = "data: ok\n\n" + big + "data: after\n\n";
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, text.size()}) {
    auto ev = in_pieces(text, {piece}, 1024);
    ASSERT_EQ(ev.size(), 3u) << piece;
    EXPECT_EQ(ev[0].data, "ok");
    EXPECT_TRUE(ev[1].overflow);
    EXPECT_EQ(ev[1].data, "");
    EXPECT_EQ(ev[2].data, "after");
  }
  // Many small data lines adding up past the limit overflow too.
  std::string many;
  for (int i = 0; i < 300; ++i) many += "data: 0123456789\n";
  many += "\n";
  auto ev = one_shot(many, 1024);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].overflow);
}

TEST(SseParser, ResetForgetsState) {
  SseParser p;
  feed_all(p, "id: 9\ndata: partial", 1);
  p.reset();
  EXPECT_FALSE(p.has_partial_event());
  auto ev = feed_all(p, "data: x\n\n", 2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].id, "");
}

std::string long_stream() {
  std::string s = "\xEF\xBB\xBF: comment\r\n";
  const char* ends[] = {"\n", "\r\n", "\r"};
  for (int i = 0; i < 400; ++i) {
    const char* e = ends[i % 3];
    if (i % 5 == 0) s += std::string("event: e") + std::to_string(i) + e;
    if (i % 7 == 0) s += std::string("id:") + std::to_string(i) + e;
    s += "data: {\"choices\":[{\"text\":\"tok" + std::to_string(i) + "\"}]}" + e;
    if (i % 11 == 0) s += std::string("data:second line") + e + ":ping" + e;
    s += e;
  }
  s += "data: [DONE]\n\n";
  return s;
}

TEST(SseParser, ByteByByteAndRandomSplitsMatchOneShot) {
  const std::string text = long_stream();
  auto reference = in_pieces(text, {text.size()});
  ASSERT_EQ(reference.size(), 401u);
  EXPECT_TRUE(reference.back().done);
  EXPECT_EQ(reference[0].type, "e0");
  EXPECT_EQ(reference[11].data, "{\"choices\":[{\"text\":\"tok11\"}]}\nsecond line");
  auto strip_stamps = [](std::vector<Collected> v) {
    for (auto& e : v) e.arrived_ns = 0;
    return v;
  };
  auto bytewise = in_pieces(text, {1});
  EXPECT_EQ(strip_stamps(bytewise), strip_stamps(reference));
  std::mt19937 rng(1234);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 50; ++i) sizes.push_back(1 + rng() % 97);
    EXPECT_EQ(strip_stamps(in_pieces(text, sizes)), strip_stamps(reference)) << round;
  }
  // Byte-by-byte, each event's stamp is the offset just past its final line terminator.
  for (const auto& e : bytewise) {
    const char last = text[static_cast<size_t>(e.arrived_ns) - 1];
    EXPECT_TRUE(last == '\n' || last == '\r');
  }
}

}  // namespace
}  // namespace llmbench::net

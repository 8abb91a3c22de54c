#include "engine/stop_checker.h"

#include <gtest/gtest.h>

namespace llmbench::engine {
namespace {

// Feeds the text one piece at a time; returns what was released and the stop string, if any.
std::pair<std::string, std::string> feed(StopChecker& checker, const std::vector<std::string>& pieces,
                                         std::vector<std::string>* released = nullptr) {
  std::string out;
  for (const auto& piece : pieces) {
    std::string step;
    auto matched = checker.append(piece, true, step);
    out += step;
    if (released) released->push_back(step);
    if (matched) return {out, *matched};
  }
  std::string rest;
  checker.flush(rest);
  return {out + rest, ""};
}

TEST(StopChecker, MatchAcrossPiecesIsCutAndNotReleased) {
  StopChecker checker({"world"});
  std::vector<std::string> released;
  auto [text, stop] = feed(checker, {"Hello, w", "or", "ld! more"}, &released);
  EXPECT_EQ(text, "Hello, ");
  EXPECT_EQ(stop, "world");
  ASSERT_EQ(released.size(), 3u);
  EXPECT_EQ(released[0], "Hello, ");  // "w" held back: it could start "world"
  EXPECT_EQ(released[1], "");
  EXPECT_EQ(released[2], "");
}

TEST(StopChecker, HeldTextIsReleasedOnceItCannotMatch) {
  StopChecker checker({"world"});
  std::vector<std::string> released;
  auto [text, stop] = feed(checker, {"Hello, w", "ox", "!"}, &released);
  EXPECT_EQ(stop, "");
  EXPECT_EQ(text, "Hello, wox!");
  EXPECT_EQ(released[1], "wox");
}

TEST(StopChecker, EarliestOfSeveralStopsWins) {
  StopChecker checker({"cd", "b"});
  auto [text, stop] = feed(checker, {"abcd"});
  EXPECT_EQ(text, "a");
  EXPECT_EQ(stop, "b");
}

TEST(StopChecker, FlushReleasesAHeldPrefix) {
  StopChecker checker({"</s>"});
  auto [text, stop] = feed(checker, {"end </"});
  EXPECT_EQ(text, "end </");
  EXPECT_EQ(stop, "");
}

TEST(StopChecker, NoCheckBeforeMinTokens) {
  StopChecker checker({"x"});
  std::string out;
  EXPECT_FALSE(checker.append("axb", false, out));
  EXPECT_EQ(out, "axb");
  EXPECT_TRUE(checker.append("cx", true, out));
  EXPECT_EQ(out, "axbc");
}

TEST(StopChecker, NoStopsPassesThrough) {
  StopChecker checker({"", ""});
  EXPECT_TRUE(checker.empty());
  std::string out;
  EXPECT_FALSE(checker.append("abc", true, out));
  EXPECT_EQ(out, "abc");
}

}  // namespace
}  // namespace llmbench::engine

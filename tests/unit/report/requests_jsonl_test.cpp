#include "report/requests_jsonl.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "report_test_support.h"

namespace llmbench::report {
namespace {

using nlohmann::json;
using namespace testing;

TEST(RequestsJsonl, OneParsableLinePerRequestRelativeToRunStart) {
  ScratchDir dir("requests_jsonl");
  auto records = sample_records();
  records[0].warmup = true;
  const auto info = sample_info();
  const std::string path = (dir.path / "requests.jsonl").string();
  write_requests_jsonl(path, records, info);

  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u);

  const json& a = lines[0];
  EXPECT_EQ(a["index"], 0);
  EXPECT_EQ(a["warmup"], true);
  EXPECT_EQ(a["status"], "ok");
  EXPECT_EQ(a["t_ns"]["sent"], 0);
  EXPECT_EQ(a["t_ns"]["first_token"], 100 * kMs);
  EXPECT_EQ(a["t_ns"]["end"], 260 * kMs);
  EXPECT_EQ(a["token_source"], "server_usage");
  ASSERT_EQ(a["events"].size(), 4u);
  EXPECT_EQ(a["events"][0], json({10 * kMs, 0}));
  EXPECT_EQ(a["events"][2], json({150 * kMs, 2}));
  EXPECT_FALSE(a.contains("output_text"));

  // Invalid UTF-8 in generated text is replaced, not an error.
  EXPECT_NE(lines[1]["output_text"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);

  const json& f = lines[2];
  EXPECT_EQ(f["status"], "failed");
  EXPECT_EQ(f["http_status"], 503);
  EXPECT_EQ(f["failure_kind"], "http_503");
  EXPECT_EQ(f["error"], "Service \"Unavailable\"\n");
  EXPECT_TRUE(f["t_ns"]["first_token"].is_null());
  EXPECT_TRUE(f["events"].empty());
}

TEST(RequestsJsonl, OriginFallsBackToFirstScheduledSend) {
  auto records = sample_records();
  auto info = sample_info();
  info.start_ns = 0;
  std::string line;
  append_request_line(line, records[1], kT0 + 50 * kMs);
  const json j = json::parse(line);
  EXPECT_EQ(j["t_ns"]["sent"], 0);
  EXPECT_EQ(j["t_ns"]["scheduled"], 0);
}

}  // namespace
}  // namespace llmbench::report

// The load generator against the net module's scripted LLM-API server (tests/support): the three
// API dialects end to end, keep-alive reuse, and its fault presets, each failing only its request.
#include <gtest/gtest.h>

#include <map>

#include "core/clock.h"
#include "loadgen/load_runner.h"
#include "scripted_server.h"
#include "workload/synthetic_prompts.h"

namespace llmbench::loadgen {
namespace {

using testing::ScriptedServer;
using testing::ScriptedServerOptions;

net::Url url_of(const std::string& text) {
  std::string error;
  auto url = net::Url::parse(text, &error);
  EXPECT_TRUE(url) << error;
  return *url;
}

std::vector<workload::RequestSpec> specs(workload::ApiBackend backend, int32_t n, int32_t max_tokens,
                                         const std::string& extra_body = "") {
  workload::SyntheticOptions o;
  o.backend = backend;
  o.model = "m";
  o.num_requests = n;
  o.input_len = 8;
  o.output_len = max_tokens;
  o.extra_body_json = extra_body;
  return workload::build_synthetic_requests(o);
}

RunOutcome run(const ScriptedServer& server, workload::ApiBackend backend, std::vector<workload::RequestSpec> s,
               int32_t concurrency, int64_t read_timeout_ms = 5000) {
  LoadOptions o;
  o.backend = backend;
  o.concurrency = concurrency;
  o.num_prompts = static_cast<int64_t>(s.size());
  o.client.read_timeout_ms = read_timeout_ms;
  LoadRunner runner(url_of(server.url()), std::move(s), o);
  return runner.run();
}

TEST(LoadRunnerWithNetServer, EveryDialectCountsServerTokens) {
  ScriptedServerOptions so;
  so.default_script.inter_token_ms = 2;
  ScriptedServer server(so);
  for (auto backend :
       {workload::ApiBackend::kOpenAiCompletions, workload::ApiBackend::kOpenAiChat, workload::ApiBackend::kTgi}) {
    const auto out = run(server, backend, specs(backend, 4, 7), 2);
    ASSERT_EQ(out.records.size(), 4u) << workload::to_string(backend);
    for (const auto& r : out.records) {
      EXPECT_EQ(r.status, RequestStatus::kOk)
          << workload::to_string(backend) << ": " << r.failure_kind << " " << r.error;
      EXPECT_EQ(r.output_tokens, 7) << workload::to_string(backend);
      EXPECT_EQ(r.token_source, TokenCountSource::kServerUsage) << workload::to_string(backend);
      int32_t summed = 0;
      for (const auto& e : r.events) summed += e.tokens;
      EXPECT_EQ(summed, 7) << workload::to_string(backend);  // per-event counts add up to the total
      EXPECT_GT(r.first_token_ns, r.sent_ns);
    }
  }
}

TEST(LoadRunnerWithNetServer, WithoutUsageTokensAreChunkCountedAndFlagged) {
  ScriptedServer server;
  const auto out = run(server, workload::ApiBackend::kOpenAiChat,
                       specs(workload::ApiBackend::kOpenAiChat, 2, 5, R"({"llmbench_script":{"usage":"none"}})"), 1);
  for (const auto& r : out.records) {
    EXPECT_EQ(r.status, RequestStatus::kOk) << r.failure_kind << " " << r.error;
    EXPECT_EQ(r.output_tokens, 5);
    EXPECT_EQ(r.token_source, TokenCountSource::kChunkCount);
  }
}

TEST(LoadRunnerWithNetServer, ClosedLoopReusesKeepAliveConnections) {
  ScriptedServer server;
  const auto out =
      run(server, workload::ApiBackend::kOpenAiCompletions, specs(workload::ApiBackend::kOpenAiCompletions, 12, 3), 3);
  ASSERT_EQ(out.records.size(), 12u);
  EXPECT_LE(server.connections_accepted(), 3u);
}

TEST(LoadRunnerWithNetServer, FaultPresetsFailOnlyTheirRequest) {
  // Request i (one at a time) gets preset i; "ok" requests between them must stay healthy.
  const std::vector<std::pair<std::string, std::string>> faults = {
      {"garbage", "protocol_error"},   {"drop", "connection_closed"}, {"malformed_json", "malformed_json"},
      {"error_event", "server_error"}, {"http_429", "http_429"},      {"http_503", "http_503"},
      {"stall", "read_timeout"},       {"close_before_headers", ""},  {"garbage_sse", ""},
  };
  std::vector<workload::RequestSpec> all;
  for (const auto& [preset, kind] : faults) {
    for (auto& s :
         specs(workload::ApiBackend::kOpenAiCompletions, 1, 6, R"({"llmbench_script":")" + preset + R"("})")) {
      all.push_back(std::move(s));
    }
    for (auto& s : specs(workload::ApiBackend::kOpenAiCompletions, 1, 6)) all.push_back(std::move(s));
  }
  ScriptedServer server;
  const int64_t t0 = now_ns();
  const auto out = run(server, workload::ApiBackend::kOpenAiCompletions, all, 1, /*read_timeout_ms=*/400);
  EXPECT_LT(ns_to_s(now_ns() - t0), 15);
  ASSERT_EQ(out.records.size(), all.size());
  for (size_t i = 0; i < faults.size(); ++i) {
    const auto& bad = out.records[2 * i];
    const auto& good = out.records[2 * i + 1];
    const auto& [preset, kind] = faults[i];
    EXPECT_EQ(good.status, RequestStatus::kOk) << "after " << preset << ": " << good.failure_kind << " " << good.error;
    if (preset == "garbage_sse") {
      // Random bytes inside the stream are not events: the stream still completes.
      EXPECT_TRUE(bad.status == RequestStatus::kOk || bad.failure_kind == "malformed_json") << bad.failure_kind;
      continue;
    }
    EXPECT_EQ(bad.status, RequestStatus::kFailed) << preset;
    EXPECT_FALSE(bad.error.empty()) << preset;
    if (!kind.empty()) {
      EXPECT_EQ(bad.failure_kind, kind) << preset << ": " << bad.error;
    } else {
      EXPECT_FALSE(bad.failure_kind.empty()) << preset;
    }
  }
}

}  // namespace
}  // namespace llmbench::loadgen

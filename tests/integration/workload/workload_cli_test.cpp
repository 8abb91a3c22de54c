// Datasets, trace replay, --num-runs, sweeps and the SLO search end to end: the llmbench binary (a
// child process) against the scripted streaming server in this process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.h"
#include "llmbench_cli.h"
#include "loopback_port.h"
#include "scripted_sse_server.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;
using testing::ResponseScript;
using testing::ScriptedSseServer;

const std::string kData = std::string(LLMBENCH_SOURCE_DIR) + "/tests/data/datasets/";

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

using testing::slurp;

class WorkloadCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmbench_wl_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result run(std::vector<std::string> args) {
    // These tests count the requests their server sees: leave out the /metrics scrapes.
    if (!args.empty() && (args[0] == "load" || args[0] == "single" || args[0] == "sweep")) {
      args.insert(args.begin() + 1, "--no-server-metrics");
    }
    const testing::CliResult c = testing::run_llmbench(args, dir_);
    return Result{c.exit_code, c.out, c.err};
  }

  fs::path dir_;
};

TEST_F(WorkloadCli, TraceReplaySendsAtRecordedOffsets) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 5, .itl_ms = 1, .tokens = 2}; });
  const auto r = run({"load", "--base-url", server.base_url(), "--dataset-name", "jsonl", "--dataset-path",
                      kData + "trace_sample.jsonl", "--trace-replay", "--no-progress", "--save-result", "--result-dir",
                      dir_.string(), "--result-filename", "trace.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto arrivals = server.arrival_ns();
  ASSERT_EQ(arrivals.size(), 6u);
  const double expected_s[] = {0.0, 0.25, 0.5, 1.0, 1.1, 1.5};
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const double got_s = static_cast<double>(arrivals[i] - arrivals[0]) / 1e9;
    EXPECT_NEAR(got_s, expected_s[i], 0.15) << "request " << i;  // generous: a loaded 2-core machine
  }
  const auto result = nlohmann::json::parse(slurp(dir_ / "trace.json"));
  EXPECT_EQ(result["completed"], 6);
  EXPECT_EQ(result["llmbench"]["workload"]["dataset_name"], "jsonl");
  EXPECT_EQ(result["llmbench"]["workload"]["trace_replay"], true);
}

TEST_F(WorkloadCli, BadLinesSkippedAndCountedOrRejected) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.tokens = 2}; });
  auto r = run({"load", "--base-url", server.base_url(), "--dataset-name", "jsonl", "--dataset-path",
                kData + "jsonl_malformed.jsonl", "--num-prompts", "3", "--concurrency", "1", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("7 malformed lines skipped"), std::string::npos) << r.out;
  EXPECT_EQ(server.requests(), 3);
  r = run({"load", "--base-url", server.base_url(), "--dataset-name", "jsonl", "--dataset-path",
           kData + "jsonl_malformed.jsonl", "--on-bad-line", "error", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("jsonl_malformed.jsonl:2: not valid JSON"), std::string::npos) << r.err;
  r = run({"load", "--base-url", server.base_url(), "--dataset-name", "sharegpt", "--dataset-path",
           kData + "sharegpt_truncated.json", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests(), 3);  // nothing sent by the rejected runs
}

TEST_F(WorkloadCli, ExactTextPromptsReportedInResult) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.tokens = 2}; });
  const auto r = run({"load", "--base-url", server.base_url(), "--prompt-type", "text", "--random-input-len", "64",
                      "--random-range-ratio", "0.5", "--num-prompts", "8", "--concurrency", "2", "--no-progress",
                      "--save-result", "--result-dir", dir_.string(), "--result-filename", "r.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto w = nlohmann::json::parse(slurp(dir_ / "r.json"))["llmbench"]["workload"];
  EXPECT_EQ(w["prompt_kind"], "text");
  EXPECT_EQ(w["requested_input_len"], 64);
  EXPECT_EQ(w["exact_input_len_fraction"], 1.0);
  EXPECT_EQ(w["achieved_input_len_mean"], w["requested_input_len_mean"]);
  EXPECT_GE(w["achieved_input_len_min"].get<int>(), 32);
  EXPECT_LE(w["achieved_input_len_max"].get<int>(), 96);
}

TEST_F(WorkloadCli, NumRunsReportsMeanAndConfidenceInterval) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 10, .itl_ms = 2, .tokens = 3}; });
  const auto r = run({"load", "--base-url", server.base_url(), "--concurrency", "2", "--num-prompts", "4", "--num-runs",
                      "3", "--random-input-len", "8", "--no-progress", "--save-result", "--result-dir", dir_.string(),
                      "--result-filename", "reps.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(server.requests(), 12);
  EXPECT_NE(r.out.find("Across 3 runs"), std::string::npos) << r.out;
  const auto doc = nlohmann::json::parse(slurp(dir_ / "reps.json"));
  const auto& reps = doc["llmbench"]["repetitions"];
  EXPECT_EQ(reps["runs"], 3);
  const auto& ttft = reps["metrics"]["mean_ttft_ms"];
  ASSERT_EQ(ttft["values"].size(), 3u);
  EXPECT_LE(ttft["ci95_low"].get<double>(), ttft["mean"].get<double>());
  EXPECT_GE(ttft["ci95_high"].get<double>(), ttft["mean"].get<double>());
  EXPECT_EQ(reps["metrics"]["completed"]["mean"], 4.0);
  EXPECT_FALSE(reps["metrics"].contains("request_rate"));
}

TEST_F(WorkloadCli, SweepWritesOneFileWithEveryRun) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 5, .itl_ms = 1, .tokens = 3}; });
  const auto r = run({"sweep", "--base-url", server.base_url(), "--concurrency-range", "1:4:x2", "--num-prompts", "4",
                      "--random-input-len", "8", "--no-progress", "--save-result", "--result-dir", dir_.string(),
                      "--sweep-file", (dir_ / "sweep.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(server.requests(), 12);
  EXPECT_NE(r.out.find("Sweep: throughput vs latency"), std::string::npos) << r.out;
  const auto doc = nlohmann::json::parse(slurp(dir_ / "sweep.json"));
  ASSERT_EQ(doc["runs"].size(), 3u);
  ASSERT_EQ(doc["table"].size(), 3u);
  EXPECT_EQ(doc["llmbench_sweep"]["dimension"], "concurrency");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(doc["runs"][i]["completed"], 4);
    EXPECT_EQ(doc["runs"][i]["max_concurrency"], 1 << i);  // vLLM's key: the users of that point
    EXPECT_EQ(doc["table"][i]["concurrency"], 1 << i);
    EXPECT_TRUE(doc["table"][i]["p99_ttft_ms"].is_number());
  }
  int per_run_files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const auto name = e.path().filename().string();
    if (name.rfind("openai-closed", 0) == 0) ++per_run_files;
  }
  EXPECT_EQ(per_run_files, 3);
}

TEST_F(WorkloadCli, SweepFlagErrorsExitTwo) {
  auto r = run({"sweep", "--base-url", "http://127.0.0.1:1", "--concurrency", "1,2", "--request-rate", "3"});
  EXPECT_EQ(r.exit_code, 2);
  r = run({"sweep", "--base-url", "http://127.0.0.1:1", "--concurrency-range", "8:2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("END must be >= START"), std::string::npos) << r.err;
  r = run({"sweep", "--base-url", "http://127.0.0.1:1", "--slo-search", "--search-min", "1", "--search-max", "4"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--goodput"), std::string::npos) << r.err;
}

// A server with a known capacity: one FIFO worker, 40 ms per request, so with N closed-loop users
// each request's TTFT is about N x 40 ms. An SLO of p99 TTFT <= 220 ms holds up to N = 5.
TEST_F(WorkloadCli, SloSearchFindsTheKnownCapacity) {
  std::mutex mu;
  int64_t next_free_ms = 0;
  ScriptedSseServer server([&](int64_t) {
    std::lock_guard lock(mu);
    const int64_t now_ms = now_ns() / 1'000'000;
    const int64_t start = std::max(now_ms, next_free_ms);
    next_free_ms = start + 40;
    return ResponseScript{.ttft_ms = start - now_ms + 40, .itl_ms = 1, .tokens = 2};
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run({"sweep",
                      "--base-url",
                      server.base_url(),
                      "--slo-search",
                      "--search-by",
                      "concurrency",
                      "--search-min",
                      "1",
                      "--search-max",
                      "16",
                      "--search-iterations",
                      "6",
                      "--goodput",
                      "ttft:220",
                      "--slo-percentile",
                      "99",
                      "--num-prompts",
                      "12",
                      "--random-input-len",
                      "8",
                      "--no-progress",
                      "--sweep-file",
                      (dir_ / "slo.json").string()});
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_LT(elapsed_s, 30);
  const auto doc = nlohmann::json::parse(slurp(dir_ / "slo.json"));
  const auto& search = doc["slo_search"];
  ASSERT_TRUE(search["max_passing"].is_number()) << search.dump(2);
  const double best = search["max_passing"].get<double>();
  EXPECT_GE(best, 4) << search.dump(2);  // 5 in theory; 4 if the machine added > 20 ms
  EXPECT_LE(best, 5) << search.dump(2);
  const auto& probes = search["probes"];
  ASSERT_GE(probes.size(), 3u);
  EXPECT_EQ(probes[0]["concurrency"], 1);
  EXPECT_EQ(probes[0]["pass"], true);
  EXPECT_EQ(probes[1]["concurrency"], 16);
  EXPECT_EQ(probes[1]["pass"], false);
  EXPECT_TRUE(probes[1]["slos"]["ttft"]["p99_ms"].get<double>() > 220);
  EXPECT_LE(server.requests(), static_cast<int64_t>(probes.size()) * 12);
  EXPECT_EQ(doc["runs"].size(), probes.size());
}

TEST_F(WorkloadCli, TokenizeViaServerWithoutAnEndpointFailsBeforeAnyLoad) {
  // A server that answers 404 to everything but would stream completions is never loaded: the
  // three tokenize formats are probed, then the command stops with exit code 2.
  ScriptedSseServer server([](int64_t) { return ResponseScript{.status = 404}; });
  auto r = run({"load", "--base-url", server.base_url(), "--tokenize-via-server", "--random-input-len", "16",
                "--num-prompts", "4", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("no tokenize endpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/tokenize"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vllm: HTTP 404"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tgi: HTTP 404"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests(), 3);  // the probes only
  // Same through sweep, and with one named format: one probe.
  r = run({"sweep", "--base-url", server.base_url(), "--concurrency", "1,2", "--tokenize-via-server", "--tokenize-api",
           "llama.cpp", "--random-input-len", "16", "--num-prompts", "4", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("llama.cpp: HTTP 404"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests(), 4);

  // A server that wants an API key: said so, not "no endpoint".
  ScriptedSseServer locked([](int64_t) { return ResponseScript{.status = 401}; });
  r = run({"load", "--base-url", locked.base_url(), "--tokenize-via-server", "--random-input-len", "16",
           "--num-prompts", "2", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the server refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--api-key"), std::string::npos) << r.err;
  EXPECT_EQ(locked.requests(), 3);

  // Nothing listening: a clear message, exit 2.
  const auto port = testing::unused_port();
  r = run({"load", "--base-url", "http://127.0.0.1:" + std::to_string(port), "--tokenize-via-server",
           "--random-input-len", "16", "--num-prompts", "2", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << r.err;
}

TEST_F(WorkloadCli, TokenizeViaServerFlagErrors) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.tokens = 2}; });
  const std::string url = server.base_url();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--dataset-name", "jsonl", "--dataset-path", kData + "trace_sample.jsonl"}, "needs --dataset-name random"},
      {{"--prompt-type", "token-ids"}, "realigns text prompts"},
      {{"--prompt", "hello"}, "not a fixed --prompt"},
      {{"--tokenize-api", "nope"}, "--tokenize-api: expected auto"},
      {{"--backend", "openai-chat", "--tokenize-api", "tgi"}, "no chat form"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> args = {"load", "--base-url", url, "--tokenize-via-server", "--no-progress"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  const auto r = run({"load", "--base-url", url, "--tokenize-api", "vllm", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("only with --tokenize-via-server"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace llmbench

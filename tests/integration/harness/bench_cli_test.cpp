// The `single` and `load` commands end to end: the llmbench binary (a child process) against the
// scripted streaming server in this process, checking exit codes, stdout/stderr and the files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "llmbench_cli.h"
#include "loopback_port.h"
#include "scripted_sse_server.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;
using testing::ResponseScript;
using testing::ScriptedSseServer;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

using testing::slurp;

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmbench_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs llmbench with `args`; if `interrupt_when` is given, sends SIGINT once it returns true
  // (polled every 10 ms, for at most 60 s), so the signal lands after the run has really started
  // however slowly the process starts on a loaded machine.
  Result run(std::vector<std::string> args, const std::function<bool()>& interrupt_when = {}) {
    // These tests count the requests their server sees: leave out the /metrics scrapes.
    if (!args.empty() && (args[0] == "load" || args[0] == "single" || args[0] == "sweep")) {
      args.insert(args.begin() + 1, "--no-server-metrics");
    }
    testing::CliRunOptions options;
    options.interrupt_when = interrupt_when;
    const testing::CliResult c = testing::run_llmbench(args, dir_, options);
    return Result{c.exit_code, c.out, c.err};
  }

  fs::path dir_;
};

TEST_F(BenchCli, LoadClosedLoopWritesVllmResultAndJsonl) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 30, .itl_ms = 5, .tokens = 6}; });
  const auto r = run({"load",
                      "--base-url",
                      server.base_url(),
                      "--model",
                      "m",
                      "--concurrency",
                      "4",
                      "--num-prompts",
                      "12",
                      "--num-warmups",
                      "2",
                      "--random-input-len",
                      "16",
                      "--max-tokens",
                      "6",
                      "--save-result",
                      "--result-dir",
                      dir_.string(),
                      "--result-filename",
                      "res.json",
                      "--save-requests",
                      (dir_ / "req.jsonl").string(),
                      "--no-progress",
                      "--goodput",
                      "ttft:1000",
                      "--metadata",
                      "k=v"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Serving Benchmark Result"), std::string::npos) << r.out;
  EXPECT_EQ(server.requests(), 14);
  const auto result = nlohmann::json::parse(slurp(dir_ / "res.json"));
  EXPECT_EQ(result["completed"], 12);
  EXPECT_EQ(result["total_output_tokens"], 72);
  EXPECT_GT(result["mean_ttft_ms"].get<double>(), 25);
  EXPECT_EQ(result["max_concurrency"], 4);  // closed loop: the users
  std::ifstream jsonl(dir_ / "req.jsonl");
  int lines = 0, warmups = 0;
  for (std::string line; std::getline(jsonl, line);) {
    auto j = nlohmann::json::parse(line);
    ++lines;
    if (j.value("warmup", false)) ++warmups;
  }
  EXPECT_EQ(lines, 14);
  EXPECT_EQ(warmups, 2);
}

TEST_F(BenchCli, SinglePrintsTheSeedBlock) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 20, .itl_ms = 4, .tokens = 5}; });
  const auto r =
      run({"single", "--base-url", server.base_url(), "--num-trials", "3", "--prompt", "Hello world", "--max-tokens",
           "5", "--save-result", "--result-dir", dir_.string(), "--result-filename", "single.json", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(server.requests(), 4);  // 1 warm-up + 3 trials
  for (const char* line : {"TTFT", "Total Latency", "Tokens Generated", "Tokens/sec"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing in:\n" << r.out;
  }
  const auto result = nlohmann::json::parse(slurp(dir_ / "single.json"));
  EXPECT_TRUE(result.is_object());
}

TEST_F(BenchCli, FaultsAreCountedAndResultsStillWritten) {
  ScriptedSseServer server([](int64_t i) {
    ResponseScript s{.ttft_ms = 2, .itl_ms = 1, .tokens = 4};
    if (i % 3 == 1) s.status = 500;
    if (i % 3 == 2) s.malformed_at = 1;
    return s;
  });
  const auto r = run({"load", "--base-url", server.base_url(), "--concurrency", "1", "--num-prompts", "9",
                      "--random-input-len", "4", "--max-tokens", "4", "--save-result", "--result-dir", dir_.string(),
                      "--result-filename", "res.json", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto result = nlohmann::json::parse(slurp(dir_ / "res.json"));
  EXPECT_EQ(result["completed"], 3);
  const std::string dump = result.dump();
  EXPECT_NE(dump.find("http_500"), std::string::npos);
  EXPECT_NE(dump.find("malformed_json"), std::string::npos);
}

TEST_F(BenchCli, NothingListeningFailsEveryRequestButExitsCleanly) {
  const auto r = run({"load", "--port", std::to_string(testing::unused_port()), "--concurrency", "2", "--num-prompts",
                      "4", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no request completed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("connection_refused"), std::string::npos) << r.out;
}

TEST_F(BenchCli, CtrlCWritesPartialResultsAndExits130) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{.ttft_ms = 10, .itl_ms = 50, .tokens = 400}; });
  const auto r =
      run({"load", "--base-url", server.base_url(), "--concurrency", "3", "--num-prompts", "30", "--drain-timeout",
           "0.3", "--save-result", "--result-dir", dir_.string(), "--result-filename", "res.json", "--no-progress"},
          [&] { return server.requests() >= 3; });  // the load is running: all three users sent
  EXPECT_EQ(r.exit_code, 130) << r.err << r.out;
  EXPECT_NE(r.err.find("partial results: interrupted (SIGINT)"), std::string::npos) << r.err;
  const std::string text = slurp(dir_ / "res.json");
  ASSERT_FALSE(text.empty());
  const auto result = nlohmann::json::parse(text);
  EXPECT_NE(result.dump().find("\"partial\":true"), std::string::npos);
}

TEST_F(BenchCli, BadFlagsExitWithCode2AndOneMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {"load", "--concurrency", "abc"}, {"load", "--base-url", "notaurl"}, {"load", "--concurency", "4"},
      {"load", "--request-rate", "-1"}, {"single", "--num-trials", "0"},   {"load", "--extra-body", "{oops"},
  };
  for (const auto& args : cases) {
    const auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("llmbench ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// CLI11 repeats a rejected argument in its message; a credential in it must not reach the terminal.
TEST_F(BenchCli, UsageErrorsNeverEchoACredential) {
  const std::string key = "sk-llmbench-USAGEKEY-4c19d2";
  const std::vector<std::vector<std::string>> cases = {
      {"compare", "x.json", "--api-key=" + key},
      {"serve", "--api-key=" + key, "--no-such-flag"},
      {"report", "--header", "Authorization=Bearer " + key},
      {"sweep", "--api-key", key, "extra", "--header=X-Api-Key=" + key},
  };
  for (const auto& args : cases) {
    const auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_FALSE(r.err.empty()) << args[0];
    EXPECT_EQ(r.err.find(key), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(key), std::string::npos) << r.out;
  }
}

TEST_F(BenchCli, DryRunSendsNothing) {
  ScriptedSseServer server([](int64_t) { return ResponseScript{}; });
  const auto r = run({"load", "--base-url", server.base_url(), "--request-rate", "5", "--num-prompts", "10",
                      "--dry-run", "--random-input-len", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Dry run"), std::string::npos);
  EXPECT_NE(r.out.find("\"prompt\":["), std::string::npos) << r.out;
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace llmbench

// `llmbench single|load --backend exec` end to end: the llmbench binary (a child process) starts
// the stand-in adapter (python3 tests/support/standin_adapter.py) and measures it like an HTTP
// target. Every fault mode must end the run in bounded time with the failures counted and the
// result JSON written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "llmbench_cli.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  double seconds = 0;
  std::string out;
  std::string err;
};

using testing::slurp;

std::string standin(const std::string& args) {
  return "python3 " + std::string(LLMBENCH_SOURCE_DIR) + "/tests/support/standin_adapter.py " + args;
}

class ExecCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmbench_exec_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs llmbench with `args`, killing it (and failing the test) if it runs past 60 s.
  Result run(std::vector<std::string> args) {
    testing::CliRunOptions options;
    options.timeout_s = 60;
    const testing::CliResult c = testing::run_llmbench(args, dir_, options);
    if (c.timed_out) ADD_FAILURE() << "llmbench hung (killed after 60 s)";
    return Result{c.exit_code, c.seconds, c.out, c.err};
  }

  std::vector<std::string> load_args(const std::string& adapter_args, int concurrency, int prompts, int max_tokens) {
    return {"load",
            "--backend",
            "exec",
            "--engine-cmd",
            standin(adapter_args),
            "--concurrency",
            std::to_string(concurrency),
            "--num-prompts",
            std::to_string(prompts),
            "--random-input-len",
            "8",
            "--max-tokens",
            std::to_string(max_tokens),
            "--save-result",
            "--result-dir",
            dir_.string(),
            "--result-filename",
            "res.json",
            "--no-progress"};
  }

  fs::path dir_;
};

TEST_F(ExecCli, LoadMeasuresTheStandInExactly) {
  auto args = load_args("--ttft-ms 30 --itl-ms 5 --max-batch 4", 4, 12, 8);
  for (const char* a : {"--num-warmups", "2", "--save-requests"}) args.emplace_back(a);
  args.push_back((dir_ / "req.jsonl").string());
  const auto r = run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("not counted in any request"), std::string::npos) << r.out;
  const auto result = nlohmann::json::parse(slurp(dir_ / "res.json"));
  EXPECT_EQ(result["completed"], 12);
  EXPECT_EQ(result["total_output_tokens"], 12 * 8);
  EXPECT_EQ(result["backend"], "exec");
  EXPECT_EQ(result["engine"], "standin");
  EXPECT_EQ(result["engine_max_batch"], "4");
  const double ttft = result["mean_ttft_ms"].get<double>(), itl = result["mean_itl_ms"].get<double>();
  EXPECT_GT(ttft, 25);  // the adapter waits 30 ms before the first token
  EXPECT_LT(ttft, 300);
  EXPECT_GT(itl, 3);  // and 5 ms between tokens
  EXPECT_LT(itl, 60);
  // The adapter's output delay (our first-token receive stamp minus its own stamp), summarized.
  const auto& delay = result["llmbench"]["adapter_output_delay"];
  ASSERT_TRUE(delay.is_object()) << result["llmbench"].dump(1);
  EXPECT_EQ(delay["requests"], 12);
  EXPECT_GE(delay["median_ms"].get<double>(), 0.0);
  EXPECT_LT(delay["median_ms"].get<double>(), 50.0);  // a pipe and a JSON line, even on a loaded machine
  EXPECT_GE(delay["p99_ms"].get<double>(), delay["median_ms"].get<double>());
  EXPECT_NE(r.out.find("Adapter output delay"), std::string::npos) << r.out;
  std::ifstream jsonl(dir_ / "req.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) {
    const auto j = nlohmann::json::parse(line);
    ++lines;
    EXPECT_EQ(j.value("output_tokens", -1), 8) << line;
    // The adapter's own first-token stamp, as a time since the send: at least its 30 ms.
    ASSERT_TRUE(j["server_ttft_ns"].is_number()) << line;
    EXPECT_GT(j["server_ttft_ns"].get<int64_t>(), 25'000'000) << line;
    EXPECT_LT(j["server_ttft_ns"].get<int64_t>(), 300'000'000) << line;
  }
  EXPECT_EQ(lines, 14);  // 2 warm-ups + 12 measured
}

TEST_F(ExecCli, SingleRuns) {
  const auto r = run({"single", "--backend", "exec", "--engine-cmd", standin("--ttft-ms 30 --itl-ms 5"), "--num-trials",
                      "3", "--prompt", "Hello world", "--max-tokens", "5", "--save-result", "--result-dir",
                      dir_.string(), "--result-filename", "single.json", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* line : {"TTFT", "Tokens Generated"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing in:\n" << r.out;
  }
  const auto result = nlohmann::json::parse(slurp(dir_ / "single.json"));
  EXPECT_TRUE(result.is_object());
  EXPECT_EQ(result["engine"], "standin");
  EXPECT_EQ(result["backend"], "exec");
  EXPECT_NE(r.out.find("not counted in any request"), std::string::npos) << r.out;
}

TEST_F(ExecCli, OneAtATimeAdapterShowsQueueingInTtft) {
  // max_batch 1: four users' requests run one after another (~30 + 3 * 5 ms each), so on average a
  // request waits for 1.5 others before its own 30 ms TTFT.
  const auto r = run(load_args("--ttft-ms 30 --itl-ms 5 --max-batch 1", 4, 12, 4));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto result = nlohmann::json::parse(slurp(dir_ / "res.json"));
  EXPECT_EQ(result["completed"], 12);
  EXPECT_GT(result["mean_ttft_ms"].get<double>(), 55);
}

struct Fault {
  const char* adapter_args;
  const char* reason;  // failure kind in the result JSON
  std::vector<std::string> extra;
};

void expect_fault(ExecCli* t, const Result& r, const fs::path& res, const Fault& f) {
  EXPECT_LT(r.seconds, 20) << "took too long";
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  ASSERT_TRUE(fs::exists(res)) << r.err << r.out;
  const auto result = nlohmann::json::parse(slurp(res));
  EXPECT_EQ(result["completed"], 0);
  EXPECT_GE(result["failed"].get<int>(), 1);
  EXPECT_NE(result.dump().find(f.reason), std::string::npos) << f.reason << " not in " << result.dump();
  (void)t;
}

TEST_F(ExecCli, AdapterCrashFailsTheRunInBoundedTime) {
  Fault f{"--mode crash --after 3", "adapter_exited", {}};
  const auto r = run(load_args(f.adapter_args, 4, 8, 16));
  expect_fault(this, r, dir_ / "res.json", f);
  EXPECT_NE((r.out + r.err).find("adapter exited with status 7"), std::string::npos) << r.out << r.err;
}

TEST_F(ExecCli, StalledAdapterTimesOut) {
  auto args = load_args("--mode stall --after 3", 4, 4, 16);
  for (const char* a : {"--read-timeout", "1"}) args.emplace_back(a);
  const auto r = run(args);
  expect_fault(this, r, dir_ / "res.json", {"", "read_timeout", {}});
}

TEST_F(ExecCli, GarbageLineIsAProtocolError) {
  const auto r = run(load_args("--mode garbage --after 2", 4, 8, 16));
  expect_fault(this, r, dir_ / "res.json", {"", "adapter_protocol", {}});
}

TEST_F(ExecCli, AdapterErrorsAreCountedWithTheirMessage) {
  const auto r = run(load_args("--mode error", 2, 6, 8));
  expect_fault(this, r, dir_ / "res.json", {"", "adapter_error", {}});
  EXPECT_NE(slurp(dir_ / "res.json").find("refuses every request"), std::string::npos);
}

TEST_F(ExecCli, AdapterThatNeverGetsReadyIsAClearError) {
  const auto r = run(load_args("--mode no-ready", 1, 2, 4));
  EXPECT_LT(r.seconds, 20);
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_NE(r.err.find("exited with status 3 before it was ready"), std::string::npos) << r.err;
}

TEST_F(ExecCli, StartupTimeoutIsEnforced) {
  auto args = load_args("--startup-ms 30000", 1, 2, 4);
  for (const char* a : {"--engine-startup-timeout", "1"}) args.emplace_back(a);
  const auto r = run(args);
  EXPECT_LT(r.seconds, 20);
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_NE(r.err.find("did not report ready within"), std::string::npos) << r.err;
}

TEST_F(ExecCli, FlagsAreChecked) {
  auto r = run({"load", "--backend", "exec", "--num-prompts", "1", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--engine-cmd is required"), std::string::npos) << r.err;
  r = run({"load", "--engine-cmd", "true", "--num-prompts", "1", "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace llmbench

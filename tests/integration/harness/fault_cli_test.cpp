// `llmbench load` (the real binary) against a server that misbehaves in every scripted way: for
// each fault, every request fails with the right reason, the timeouts hold, the run ends on time,
// and the result JSON and the per-request JSONL are complete and valid.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llmbench_cli.h"
#include "loopback_port.h"
#include "scripted_server.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using testing::slurp;

using testing::run_llmbench;
using testing::unused_port;

struct Fault {
  std::string preset;       // the scripted server's preset ("" = nothing listening)
  std::string kind;         // the failure reason every request must carry
  std::string error_has;    // a part of each request's error message ("" = any)
  std::string error_lacks;  // must not be in it
  double max_seconds = 20;  // the whole run, generous for a loaded machine
};

class FaultCli : public ::testing::TestWithParam<Fault> {};

TEST_P(FaultCli, FailsWithTheReasonOnTimeAndWritesCompleteResults) {
  const Fault& f = GetParam();
  const fs::path dir = fs::temp_directory_path() / ("llmbench_fault_" + std::to_string(getpid()) + "_" +
                                                    (f.preset.empty() ? std::string("refused") : f.preset));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::unique_ptr<testing::ScriptedServer> server;
  std::string url = "http://127.0.0.1:" + std::to_string(unused_port());
  if (!f.preset.empty()) {
    server = std::make_unique<testing::ScriptedServer>();
    url = server->url();
  }
  constexpr int kRequests = 4;
  std::vector<std::string> args = {"load",
                                   "--base-url",
                                   url,
                                   "--concurrency",
                                   "4",
                                   "--num-prompts",
                                   std::to_string(kRequests),
                                   "--random-input-len",
                                   "4",
                                   "--max-tokens",
                                   "4",
                                   "--read-timeout",
                                   "2",
                                   "--request-timeout",
                                   "4",
                                   "--drain-timeout",
                                   "1",
                                   "--no-server-metrics",
                                   "--no-progress",
                                   "--save-result",
                                   "--save-detailed",
                                   "--result-dir",
                                   dir.string(),
                                   "--result-filename",
                                   "res.json",
                                   "--save-requests",
                                   (dir / "req.jsonl").string()};
  if (!f.preset.empty()) {
    args.push_back("--header");
    args.push_back("x-llmbench-script=" + f.preset);
  }
  const testing::CliResult r = run_llmbench(args, dir);
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;  // no request completed
  EXPECT_NE(r.err.find("no request completed"), std::string::npos) << r.err;
  EXPECT_LT(r.seconds, f.max_seconds);
  EXPECT_NE(r.out.find(f.kind), std::string::npos) << "the terminal summary names the reason:\n" << r.out;

  const json result = json::parse(slurp(dir / "res.json"), nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << slurp(dir / "res.json");
  EXPECT_EQ(result["completed"], 0);
  EXPECT_EQ(result["num_prompts"], kRequests);
  EXPECT_EQ(result["llmbench"]["requests"]["failed"], kRequests) << result["llmbench"]["requests"].dump();
  EXPECT_EQ(result["llmbench"]["failures_by_reason"][f.kind], kRequests) << result["llmbench"]["failures_by_reason"];
  EXPECT_FALSE(result["llmbench"]["partial"].get<bool>());
  ASSERT_EQ(result["errors"].size(), static_cast<size_t>(kRequests));

  std::ifstream jsonl(dir / "req.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ++lines;
    EXPECT_EQ(j["status"], "failed") << line;
    EXPECT_EQ(j["failure_kind"], f.kind) << line;
    const std::string error = j["error"].is_string() ? j["error"].get<std::string>() : std::string();
    EXPECT_FALSE(error.empty()) << line;
    if (!f.error_has.empty()) {
      EXPECT_NE(error.find(f.error_has), std::string::npos) << error;
    }
    if (!f.error_lacks.empty()) {
      EXPECT_EQ(error.find(f.error_lacks), std::string::npos) << error;
    }
  }
  EXPECT_EQ(lines, kRequests);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultCli,
    ::testing::Values(Fault{"stall", "read_timeout"},       // stops after 2 tokens: --read-timeout 2
                      Fault{"trickle", "request_timeout"},  // one byte a second: --request-timeout 4
                      Fault{"drop", "connection_closed"},   // closes mid-stream
                      Fault{"close_before_headers", "connection_closed"},
                      Fault{"garbage", "protocol_error"},  // broken chunked framing
                      Fault{"malformed_json", "malformed_json"},
                      Fault{"huge_event", "malformed_json"},  // a 10 MB event of non-JSON
                      Fault{"error_event", "server_error"}, Fault{"http_429", "http_429", "Retry-After: 1"},
                      Fault{"http_500", "http_500", "", "Retry-After"}, Fault{"http_503", "http_503", "Retry-After: 2"},
                      Fault{"http_503_no_retry", "http_503", "", "Retry-After"},
                      Fault{"", "connection_refused"}),  // nothing listening
    [](const ::testing::TestParamInfo<Fault>& info) {
      return info.param.preset.empty() ? std::string("refused") : info.param.preset;
    });

}  // namespace
}  // namespace llmbench

// The demo path end to end, as a new user runs it, with a short configuration: `llmbench demo`
// starts the reference server, runs both benchmarks through the CLI, and writes every file. The
// server's own /metrics, scraped during each run, must show the KV cache in use under load and
// back to 0 once the run has drained.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

namespace fs = std::filesystem;

TEST(Demo, ShortDemoWritesEveryFileAndServerTelemetryShowsTheKvCache) {
  const fs::path root = fs::temp_directory_path() / ("llmbench_demo_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const std::string cmd = std::string(LLMBENCH_BINARY_DIR) + "/src/app/llmbench demo --model gpt2 --load-format dummy" +
                          " --dtype bfloat16 --num-warmups 1 --num-trials 2 --input-len 16 --output-len 24" +
                          " --concurrency 1,4 --min-prompts 4 --metrics-interval 0.02 --results-dir " + root.string() +
                          " 2>&1";
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << out;

  EXPECT_NE(out.find("| Approach | TTFT (sec) | Tokens/sec | Notes |"), std::string::npos) << out;
  EXPECT_NE(out.find("| llmbench serve (single) |"), std::string::npos) << out;
  EXPECT_NE(out.find("| llmbench serve (c=4) |"), std::string::npos) << out;

  ASSERT_TRUE(fs::is_directory(root));
  fs::path dir;
  for (const auto& e : fs::directory_iterator(root)) dir = e.path();  // results/<timestamp>/
  for (const char* f : {"single.json", "single.jsonl", "load_c1.json", "load_c1.jsonl", "load_c4.json", "load_c4.jsonl",
                        "summary.md", "report.html"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  const auto result = nlohmann::json::parse(std::ifstream(dir / "load_c4.json"));
  EXPECT_EQ(result["completed"].get<int>(), 8);
  EXPECT_EQ(result["total_output_tokens"].get<int>(), 8 * 24);
  EXPECT_GT(result["output_throughput"].get<double>(), 0.0);

  const auto& kv = result["llmbench"]["telemetry"]["server"]["normalized"]["kv_cache_usage"];
  ASSERT_TRUE(kv.is_object()) << result["llmbench"]["telemetry"].dump(1);
  EXPECT_GT(kv["peak"].get<double>(), 0.0) << kv.dump();  // in use under load
  EXPECT_EQ(kv["last"].get<double>(), 0.0) << kv.dump();  // the "after" scrape: all blocks freed
  const auto& running = result["llmbench"]["telemetry"]["server"]["normalized"]["requests_running"];
  EXPECT_EQ(running["last"].get<double>(), 0.0) << running.dump();
  fs::remove_all(root);
}

}  // namespace

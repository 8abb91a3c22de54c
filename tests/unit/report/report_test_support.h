#pragma once
// Shared fixtures for report tests: a small run with known numbers and a scratch directory.
#include <filesystem>
#include <string>
#include <vector>

#include "loadgen/request_record.h"
#include "loadgen/run_info.h"

namespace llmbench::report::testing {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 7'000'000'000'000;

inline loadgen::RequestRecord completed(uint64_t index, int64_t sent_ms, std::vector<std::pair<int64_t, int>> events,
                                        int64_t end_ms) {
  loadgen::RequestRecord r;
  r.index = index;
  r.scheduled_ns = kT0 + sent_ms * kMs;
  r.sent_ns = r.scheduled_ns;
  r.written_ns = r.sent_ns + kMs / 10;
  r.headers_ns = r.sent_ns + 5 * kMs;
  r.end_ns = kT0 + end_ms * kMs;
  r.prompt_tokens = 8;
  r.prompt_tokens_sent = 8;
  r.max_tokens = 16;
  r.http_status = 200;
  r.finish_reason = "length";
  for (auto [t, k] : events) {
    r.events.push_back({kT0 + t * kMs, k});
    r.output_tokens += k;
    if (k > 0 && r.first_token_ns == 0) r.first_token_ns = kT0 + t * kMs;
  }
  r.first_byte_ns = r.events.empty() ? 0 : r.events.front().arrived_ns;
  return r;
}

inline std::vector<loadgen::RequestRecord> sample_records() {
  std::vector<loadgen::RequestRecord> v;
  v.push_back(completed(0, 0, {{10, 0}, {100, 1}, {150, 2}, {250, 1}}, 260));
  v.push_back(completed(1, 50, {{300, 1}, {400, 1}}, 1100));
  v.back().output_text = "bad utf-8: \xff\xfe end";
  loadgen::RequestRecord failed = completed(2, 60, {}, 90);
  failed.status = loadgen::RequestStatus::kFailed;
  failed.http_status = 503;
  failed.failure_kind = "http_503";
  failed.error = "Service \"Unavailable\"\n";
  v.push_back(failed);
  return v;
}

inline loadgen::RunInfo sample_info() {
  loadgen::RunInfo info;
  info.scenario = "load";
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = 4;
  info.burstiness = 1;
  info.max_concurrency = 8;
  info.num_prompts = 3;
  info.start_ns = kT0;
  info.end_ns = kT0 + 1200 * kMs;
  info.wall_start_ns = 1'795'000'000'123'000'000;
  info.base_url = "http://127.0.0.1:8000";
  info.endpoint = "/v1/completions";
  info.backend = "openai";
  info.model = "facebook/opt-125m";
  info.command_line = "llmbench load --rate 4";
  info.host = "testhost";
  info.metadata = {{"gpu", "none"}};
  info.goodput = {{"ttft", 150}};
  info.metric_percentiles = {50, 99, 99.9};
  info.percentile_metrics = {"ttft", "tpot", "itl", "e2el"};
  return info;
}

// A fresh empty directory under the build tree, removed on destruction.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& name)
      : path(std::filesystem::path(LLMBENCH_BINARY_DIR) / "test_scratch" / name) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace llmbench::report::testing

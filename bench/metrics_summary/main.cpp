// How long summarizing and reporting a large run takes: synthetic closed-loop records with a
// configurable number of requests and token events each. Prints one table row per stage.
// Usage: bench_metrics_summary [requests=1000000] [events_per_request=16] [jsonl_path]
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "metrics/summary.h"
#include "report/requests_jsonl.h"
#include "report/result_json.h"

namespace {

using llmbench::loadgen::RequestRecord;

std::vector<RequestRecord> make_records(int64_t n, int events, int users) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> ttft_ms(4.0, 0.5);
  std::lognormal_distribution<double> gap_ms(3.0, 0.3);
  std::vector<RequestRecord> records(static_cast<size_t>(n));
  std::vector<int64_t> user_clock(static_cast<size_t>(users), 1'000'000'000);
  for (int64_t i = 0; i < n; ++i) {
    auto& r = records[static_cast<size_t>(i)];
    const auto u = static_cast<size_t>(i % users);
    r.index = static_cast<uint64_t>(i);
    r.worker = static_cast<int32_t>(u);
    r.scheduled_ns = r.sent_ns = user_clock[u];
    int64_t t = r.sent_ns + static_cast<int64_t>(ttft_ms(rng) * 1e6);
    r.first_token_ns = t;
    r.events.reserve(static_cast<size_t>(events));
    for (int e = 0; e < events; ++e) {
      r.events.push_back({t, 1 + (e % 4 == 3)});
      r.output_tokens += r.events.back().tokens;
      t += static_cast<int64_t>(gap_ms(rng) * 1e6);
    }
    r.end_ns = t;
    r.prompt_tokens = 128;
    user_clock[u] = t + 1000;
  }
  return records;
}

// CPU time of this process: on a shared, loaded machine wall time mostly measures the neighbours.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Stage {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = cpu_seconds();
  void print(const char* name, int64_t n) const {
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    fmt::print("{:<28} {:>10} {:>10.3f} {:>10.3f}\n", name, n, wall_s, cpu_seconds() - cpu);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int events = argc > 2 ? std::atoi(argv[2]) : 16;
  const std::string jsonl = argc > 3 ? argv[3] : "";
  const int users = 256;
  fmt::print("{:<28} {:>10} {:>10} {:>10}\n", "stage", "requests", "wall s", "cpu s");
  Stage stage;
  const auto records = make_records(n, events, users);
  stage.print("generate records", n);
  llmbench::loadgen::RunInfo info;
  info.mode = llmbench::loadgen::LoadMode::kClosedLoop;
  info.concurrency = users;
  info.metric_percentiles = {50, 99};
  info.goodput = {{"ttft", 100}, {"tpot", 25}};
  stage = Stage{};
  const auto summary = llmbench::metrics::summarize(records, info);
  stage.print("summarize", n);
  stage = Stage{};
  const auto doc = llmbench::report::result_json(summary, records, info, false);
  stage.print("result json (not detailed)", n);
  if (!jsonl.empty()) {
    stage = Stage{};
    llmbench::report::write_requests_jsonl(jsonl, records, info);
    stage.print("write requests jsonl", n);
  }
  fmt::print("completed={} itl_samples={} p99_ttft_ms={:.2f} steady_state={} ({} requests)\n", summary.completed,
             summary.latency.itl_ms.count, summary.latency.ttft_ms.at(99), summary.steady_state.found,
             summary.steady_state.requests);
  return 0;
}

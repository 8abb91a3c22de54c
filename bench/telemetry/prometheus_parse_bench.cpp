// How long parsing and recording one /metrics scrape takes, on the sample expositions and on a
// large synthetic vLLM exposition (8 engines, every histogram bucket), so that scraping every
// second is known to cost the client next to nothing.
//
//   prometheus_parse_bench [iterations]
#include <fmt/core.h>

#include <time.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "telemetry/prometheus_parser.h"
#include "telemetry/telemetry_recorder.h"

using namespace llmbench::telemetry;

namespace {

// CPU time of this process, so that the figures hold on a machine shared with other work.
int64_t cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string large_vllm() {
  std::string out;
  const char* histograms[] = {"vllm:time_to_first_token_seconds", "vllm:time_per_output_token_seconds",
                              "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds",
                              "vllm:request_prompt_tokens",       "vllm:request_generation_tokens"};
  for (const char* h : histograms) {
    out += fmt::format("# HELP {} Histogram.\n# TYPE {} histogram\n", h, h);
    for (int engine = 0; engine < 8; ++engine) {
      for (int b = 0; b < 20; ++b) {
        out += fmt::format("{}_bucket{{model_name=\"meta-llama/Llama-3.1-70B-Instruct\",engine=\"{}\",le=\"{}\"}} {}\n",
                           h, engine, 0.001 * (1 << b), 10.0 * b);
      }
      out += fmt::format(
          "{}_bucket{{model_name=\"meta-llama/Llama-3.1-70B-Instruct\",engine=\"{}\",le=\"+Inf\"}} 200.0\n", h, engine);
      out +=
          fmt::format("{}_count{{model_name=\"meta-llama/Llama-3.1-70B-Instruct\",engine=\"{}\"}} 200.0\n", h, engine);
      out += fmt::format("{}_sum{{model_name=\"meta-llama/Llama-3.1-70B-Instruct\",engine=\"{}\"}} 1.234e+02\n", h,
                         engine);
    }
  }
  for (const char* g : {"vllm:kv_cache_usage_perc", "vllm:num_requests_running", "vllm:num_requests_waiting"}) {
    out += fmt::format("# TYPE {} gauge\n", g);
    for (int engine = 0; engine < 8; ++engine) {
      out += fmt::format("{}{{model_name=\"meta-llama/Llama-3.1-70B-Instruct\",engine=\"{}\"}} 0.5\n", g, engine);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (iterations <= 0) iterations = 2000;
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const char* f : {"vllm_v1.txt", "sglang.txt", "tgi.txt", "llamacpp.txt"}) {
    inputs.emplace_back(f, read_file(std::string(LLMBENCH_SOURCE_DIR) + "/tests/data/prometheus/" + f));
  }
  inputs.emplace_back("vllm 8 engines (synthetic)", large_vllm());
  fmt::print("{:<28} {:>9} {:>8} {:>12} {:>10} {:>16}\n", "exposition", "bytes", "samples", "parse us", "MB/s",
             "parse+record us");
  fmt::print("(CPU time per scrape, mean of {} parses)\n", iterations);
  for (const auto& [name, text] : inputs) {
    size_t samples = 0;
    int64_t start = cpu_ns();
    for (int i = 0; i < iterations; ++i) samples = parse_prometheus_text(text).samples.size();
    double parse_us = static_cast<double>(cpu_ns() - start) / 1000.0 / iterations;
    TelemetryRecorder recorder;
    int record_iterations = std::min(iterations, 1000);
    start = cpu_ns();
    for (int i = 0; i < record_iterations; ++i) recorder.add_scrape(i, parse_prometheus_text(text), 1.0);
    double record_us = static_cast<double>(cpu_ns() - start) / 1000.0 / record_iterations;
    fmt::print("{:<28} {:>9} {:>8} {:>12.1f} {:>10.1f} {:>16.1f}\n", name, text.size(), samples, parse_us,
               static_cast<double>(text.size()) / parse_us, record_us);
  }
  return 0;
}

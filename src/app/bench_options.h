#pragma once
// Flags of the `single` and `load` commands (names follow `vllm bench serve` where the concept is
// the same) and their validation into a BenchPlan: everything a run needs, checked before anything
// is sent. Numbers are taken as text and parsed here so every bad value gets one clear message.
#include <CLI/CLI.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loadgen/load_runner.h"
#include "loadgen/run_info.h"
#include "net/exec_transport.h"
#include "net/http_client.h"
#include "net/tokenize_api.h"
#include "telemetry/telemetry_collector.h"
#include "workload/dataset.h"
#include "workload/synthetic_prompts.h"

namespace llmbench::app {

enum class BenchScenario { kSingle, kLoad };

// A bad flag value: the message is printed as is, the exit code is 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Raw flag values as given on the command line.
struct BenchFlags {
  std::string base_url, host = "127.0.0.1", port = "8000", endpoint, backend = "openai", model, tokenizer;
  std::string num_prompts, request_rate, burstiness, max_concurrency, concurrency, duration, arrival;
  std::string ramp_up, ramp_up_strategy, ramp_up_duration, ramp_up_start_rps, ramp_up_end_rps;
  std::string num_warmups, num_trials, random_input_len, random_output_len, max_tokens, prompt;
  std::string seed = "0", temperature, extra_body, api_key, label;
  std::vector<std::string> headers, metadata, goodput;
  bool ignore_eos = false, save_result = false, save_detailed = false, dry_run = false, no_progress = false;
  bool no_stream_usage = false, save_output_text = false;
  std::string result_dir, result_filename, save_requests;
  std::string percentile_metrics = "ttft,tpot,itl", metric_percentiles = "99";
  std::string threads = "1";
  std::string engine_cmd, engine_startup_timeout = "600", engine_log;  // --backend exec
  std::string connect_timeout = "10", read_timeout = "60", request_timeout = "600", drain_timeout = "10";
  // Datasets and repetitions (docs/workloads.md).
  std::string dataset_name, dataset_path, random_range_ratio, random_prefix_len, prompt_type, sharegpt_output_len;
  std::string prefix_len, suffix_len, num_prefixes, num_turns, on_bad_line = "skip", num_runs;
  bool trace_replay = false, turns_as_text = false;
  bool tokenize_via_server = false;  // realign text prompts through the server's /tokenize
  std::string tokenize_api = "auto";
};

struct BenchPlan {
  BenchScenario scenario = BenchScenario::kLoad;
  telemetry::TelemetryOptions telemetry;  // server /metrics and GPU sampling during the run
  net::Url base_url;
  workload::SyntheticOptions synthetic;
  loadgen::LoadOptions load;
  loadgen::RunInfo info;
  int32_t num_trials = 0;  // single
  bool save_result = false;
  bool save_detailed = false;
  std::string result_dir;       // empty = current directory
  std::string result_filename;  // empty = default_result_filename(info)
  std::string save_requests_path;
  bool dry_run = false;
  bool progress = true;
  // Datasets: used unless --prompt gives a fixed text (then `synthetic` is used).
  bool use_dataset = true;
  workload::DatasetOptions dataset;
  bool trace_replay = false;  // send request i at its JSONL timestamp offset
  // --tokenize-via-server: text prompts realigned to the server's own token counts before the
  // clock starts; the format is probed (vllm, llama.cpp, tgi) unless --tokenize-api names one.
  bool tokenize_via_server = false;
  std::optional<net::TokenizeFormat> tokenize_format;
  int32_t num_runs = 1;           // --num-runs: repeat the scenario and report mean and 95% CI
  bool exec = false;              // --backend exec: requests go to an engine adapter process
  net::ExecEngineOptions engine;  // when exec
  // The credentials this run sends (bearer token, credential header values): never printed or
  // saved; see secret_redaction.h.
  std::vector<std::string> secrets;
};

void add_bench_flags(CLI::App& command, BenchFlags& flags, BenchScenario scenario);

// Validates and resolves the flags. `env_api_key` is $OPENAI_API_KEY (or null). Throws UsageError.
BenchPlan resolve_bench_plan(const BenchFlags& flags, BenchScenario scenario, const std::string& command_line,
                             const char* env_api_key);

// The default result file name, as vLLM builds it: <backend>-<rate>qps[-concurrency<N>]-<model>-<date>.json.
std::string default_result_filename(const loadgen::RunInfo& info);

}  // namespace llmbench::app

#include "app/bench_options.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <sstream>

#include "app/secret_redaction.h"
#include "core/version.h"
#include "workload/request_body.h"

namespace llmbench::app {
namespace {

using loadgen::ArrivalDistribution;
using loadgen::LoadMode;
using loadgen::RampUp;

[[noreturn]] void usage(const std::string& message) {
  throw UsageError(message);
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

double parse_double(const std::string& flag, const std::string& text, bool allow_inf = false) {
  const std::string t = trim(text);
  if (allow_inf && (t == "inf" || t == "Inf" || t == "INF" || t == "infinity")) {
    return std::numeric_limits<double>::infinity();
  }
  double v = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
    usage(fmt::format("{}: expected a number{}, got '{}'", flag, allow_inf ? " or 'inf'" : "", text));
  }
  return v;
}

int64_t parse_int(const std::string& flag, const std::string& text, int64_t min_value) {
  const std::string t = trim(text);
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) {
    usage(fmt::format("{}: expected an integer, got '{}'", flag, text));
  }
  if (v < min_value) usage(fmt::format("{}: must be >= {}, got {}", flag, min_value, v));
  return v;
}

double parse_seconds(const std::string& flag, const std::string& text) {
  const double v = parse_double(flag, text);
  if (!(v > 0)) usage(fmt::format("{}: must be > 0 seconds, got '{}'", flag, text));
  return v;
}

std::pair<std::string, std::string> parse_key_value(const std::string& flag, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) usage(fmt::format("{}: expected KEY=VALUE, got '{}'", flag, text));
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// --header NAME=VALUE, or curl's "NAME: VALUE". The value is never echoed: it may be a credential.
std::pair<std::string, std::string> parse_header(const std::string& text) {
  const auto sep = std::min(text.find('='), text.find(':'));
  if (sep == std::string::npos || sep == 0) {
    usage("--header: expected NAME=VALUE or 'NAME: VALUE' (the argument is not shown: it may hold a credential)");
  }
  std::string name = trim(text.substr(0, sep));
  std::string value = text.substr(sep + 1);
  if (text[sep] == ':') value = trim(value);
  if (name.empty() || name.find_first_of(" \t\r\n") != std::string::npos) {
    usage("--header: '" + name + "' is not a header name");
  }
  if (value.find_first_of("\r\n") != std::string::npos) usage("--header: a header value cannot span lines");
  return {name, value};
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) {
    part = trim(part);
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// Python's str(float): 10 -> "10.0", 2.5 -> "2.5", inf -> "inf".
std::string python_float(double v) {
  if (std::isinf(v)) return "inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool writable_dir(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::access(dir.c_str(), W_OK) == 0;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// --tokenize-via-server / --tokenize-api: which prompts can be realigned and through what.
void resolve_tokenize_flags(const BenchFlags& f, BenchPlan& plan) {
  auto& d = plan.dataset;
  if (!f.tokenize_via_server) {
    if (f.tokenize_api != "auto") usage("--tokenize-api: only with --tokenize-via-server");
    return;
  }
  plan.tokenize_via_server = true;
  if (plan.exec) usage("--tokenize-via-server: the exec backend has no HTTP server to ask (use --tokenizer)");
  if (!plan.use_dataset) usage("--tokenize-via-server: realigns generated prompts, not a fixed --prompt");
  if (d.kind != workload::DatasetKind::kRandom && d.kind != workload::DatasetKind::kPrefix) {
    usage(fmt::format(
        "--tokenize-via-server: needs --dataset-name random (or prefix): the {} dataset asks for no prompt length",
        workload::to_string(d.kind)));
  }
  if (d.kind == workload::DatasetKind::kPrefix && d.num_turns > 1) {
    usage("--tokenize-via-server: multi-turn sessions (--num-turns > 1) are not realigned; use one turn");
  }
  if (f.prompt_type == "token-ids" || f.prompt_type == "ids") {
    usage("--tokenize-via-server realigns text prompts: token-id prompts are exact already (drop --prompt-type)");
  }
  d.token_id_prompts = false;  // implied: text prompts
  if (f.tokenize_api != "auto") {
    plan.tokenize_format = net::parse_tokenize_format(f.tokenize_api);
    if (!plan.tokenize_format) {
      usage(fmt::format("--tokenize-api: expected auto, vllm, llama.cpp or tgi, got '{}'", f.tokenize_api));
    }
    if (plan.synthetic.backend == workload::ApiBackend::kOpenAiChat &&
        *plan.tokenize_format != net::TokenizeFormat::kVllm) {
      usage(fmt::format("--tokenize-api {}: has no chat form, so it cannot count a chat prompt (use vllm)",
                        f.tokenize_api));
    }
  }
}

// Dataset flags into plan.dataset (files are read later, by prepare_bench_workload).
void resolve_dataset_flags(const BenchFlags& f, BenchPlan& plan) {
  auto& d = plan.dataset;
  const auto& syn = plan.synthetic;
  plan.num_runs = f.num_runs.empty() ? 1 : static_cast<int32_t>(parse_int("--num-runs", f.num_runs, 1));
  const std::string name = f.dataset_name.empty() ? "random" : f.dataset_name;
  const auto kind = workload::parse_dataset_kind(name);
  if (!kind) usage(fmt::format("--dataset-name: expected random, sharegpt, jsonl or prefix, got '{}'", name));
  if (syn.fixed_prompt) {
    if (!f.dataset_name.empty() || !f.dataset_path.empty())
      usage("--prompt and --dataset-name/--dataset-path: give one");
    plan.use_dataset = false;
  }
  d.kind = *kind;
  d.path = f.dataset_path;
  const bool file = d.kind == workload::DatasetKind::kShareGpt || d.kind == workload::DatasetKind::kJsonl;
  if (file && d.path.empty()) usage(fmt::format("--dataset-name {} needs --dataset-path", name));
  if (!file && !d.path.empty()) usage(fmt::format("--dataset-path: the {} dataset is generated, not read", name));
  d.seed = syn.seed;
  d.num_prompts = syn.num_requests;
  d.input_len = syn.input_len;
  d.output_len = syn.output_len;
  if (!f.random_range_ratio.empty()) {
    d.range_ratio = parse_double("--random-range-ratio", f.random_range_ratio);
    if (!(d.range_ratio >= 0 && d.range_ratio < 1)) usage("--random-range-ratio: must be in [0, 1)");
  }
  if (!f.random_prefix_len.empty()) {
    d.random_prefix_len = static_cast<int32_t>(parse_int("--random-prefix-len", f.random_prefix_len, 0));
  }
  if (plan.use_dataset && d.kind == workload::DatasetKind::kRandom && d.random_prefix_len + d.input_len < 1) {
    usage("--random-input-len: prompts need at least one token (--random-input-len + --random-prefix-len >= 1)");
  }
  if (f.prompt_type.empty()) {
    d.token_id_prompts = workload::accepts_token_id_prompt(syn.backend);
  } else if (f.prompt_type == "token-ids" || f.prompt_type == "ids") {
    if (!workload::accepts_token_id_prompt(syn.backend))
      usage(fmt::format("--prompt-type token-ids: backend '{}' takes text only", workload::to_string(syn.backend)));
    d.token_id_prompts = true;
  } else if (f.prompt_type == "text") {
    d.token_id_prompts = false;
  } else {
    usage(fmt::format("--prompt-type: expected token-ids or text, got '{}'", f.prompt_type));
  }
  if (!f.sharegpt_output_len.empty()) {
    d.sharegpt_output_len = static_cast<int32_t>(parse_int("--sharegpt-output-len", f.sharegpt_output_len, 1));
  }
  if (!f.prefix_len.empty()) d.prefix_len = static_cast<int32_t>(parse_int("--prefix-len", f.prefix_len, 0));
  if (!f.suffix_len.empty()) d.suffix_len = static_cast<int32_t>(parse_int("--suffix-len", f.suffix_len, 0));
  if (!f.num_prefixes.empty()) d.num_prefixes = static_cast<int32_t>(parse_int("--num-prefixes", f.num_prefixes, 1));
  if (!f.num_turns.empty()) d.num_turns = static_cast<int32_t>(parse_int("--num-turns", f.num_turns, 1));
  d.chat_turns = !f.turns_as_text;
  if (d.kind == workload::DatasetKind::kPrefix && d.prefix_len + d.suffix_len < 1) {
    usage("--prefix-len + --suffix-len must be >= 1");
  }
  if (f.on_bad_line == "skip") {
    d.on_bad_line = workload::BadLinePolicy::kSkip;
  } else if (f.on_bad_line == "error") {
    d.on_bad_line = workload::BadLinePolicy::kError;
  } else {
    usage(fmt::format("--on-bad-line: expected skip or error, got '{}'", f.on_bad_line));
  }
  plan.trace_replay = f.trace_replay;
  if (plan.trace_replay) {
    if (d.kind != workload::DatasetKind::kJsonl) usage("--trace-replay needs --dataset-name jsonl (with timestamps)");
    if (!f.concurrency.empty() || !f.request_rate.empty() || !f.ramp_up.empty() || !f.ramp_up_strategy.empty()) {
      usage("--trace-replay sends at the recorded times: drop --concurrency/--request-rate/--ramp-up");
    }
    if (!f.duration.empty()) usage("--trace-replay and --duration: the trace decides how long the run is");
    d.require_timestamps = true;
    d.num_prompts = f.num_prompts.empty() ? 0 : plan.load.num_prompts;  // 0 = the whole trace
  } else if (d.kind == workload::DatasetKind::kJsonl) {
    d.num_prompts = 0;  // every line; the runner cycles through them for --num-prompts
  }
  resolve_tokenize_flags(f, plan);
  if (plan.use_dataset) plan.info.dataset_name = workload::to_string(d.kind);
  if (plan.use_dataset && d.kind == workload::DatasetKind::kRandom)
    plan.info.input_len = d.random_prefix_len + d.input_len;
}

}  // namespace

void add_bench_flags(CLI::App& c, BenchFlags& f, BenchScenario scenario) {
  const bool load = scenario == BenchScenario::kLoad;
  c.allow_extras();  // unknown flags are reported by resolve with exit code 2
  // Target.
  c.add_option("--base-url", f.base_url, "Server base URL, e.g. http://127.0.0.1:8000 (overrides --host/--port)");
  c.add_option("--host", f.host, "Server host when --base-url is not given")->capture_default_str();
  c.add_option("--port", f.port, "Server port when --base-url is not given")->capture_default_str();
  c.add_option("--endpoint", f.endpoint,
               "API path (default: /v1/completions, /v1/chat/completions or /generate_stream)");
  c.add_option("--backend", f.backend,
               "API dialect: openai, openai-chat, tgi (vLLM's names: vllm, sglang, ...), or exec (an in-process "
               "engine behind a JSON-lines adapter, see --engine-cmd)")
      ->capture_default_str();
  c.add_option("--engine-cmd", f.engine_cmd,
               "With --backend exec: the adapter command (run with /bin/sh -c; docs/adapter-protocol.md)");
  c.add_option("--engine-startup-timeout", f.engine_startup_timeout,
               "With --backend exec: seconds the engine may take to report ready")
      ->capture_default_str();
  c.add_option("--engine-log", f.engine_log, "With --backend exec: append the adapter's stderr to this file");
  c.add_option("--model", f.model, "Model name sent in each request (omitted when empty)");
  c.add_option("--tokenizer", f.tokenizer, "Tokenizer name/path, recorded in the results");
  c.add_option("--api-key", f.api_key, "Bearer token (default: $OPENAI_API_KEY)");
  c.add_option(
      "--header", f.headers,
      "Extra HTTP header NAME=VALUE or 'NAME: VALUE' (repeatable; credential values are never printed or saved)");
  // Workload.
  c.add_option("--random-input-len", f.random_input_len,
               load ? "Prompt length in tokens (default 1024); with --prompt, in words"
                    : "Prompt length in tokens (default 128); with --prompt, in words");
  c.add_option("--random-output-len", f.random_output_len, "Output tokens per request (max_tokens, default 128)");
  c.add_option("--max-tokens", f.max_tokens, "Same as --random-output-len");
  c.add_option("--prompt", f.prompt,
               "Fixed prompt text instead of random token ids (repeated/trimmed to --random-input-len words)");
  c.add_option("--seed", f.seed, "Seed for prompts and arrivals")->capture_default_str();
  c.add_option("--temperature", f.temperature, "Sampling temperature (omitted when not given)");
  c.add_flag("--ignore-eos", f.ignore_eos, "Ask the server to ignore EOS so every request generates max tokens");
  c.add_option("--extra-body", f.extra_body, "JSON object merged into every request body");
  c.add_flag("--no-stream-usage", f.no_stream_usage,
             "Do not ask for per-chunk usage (stream_options); tokens are then counted per chunk");
  // Datasets (docs/workloads.md).
  c.add_option("--dataset-name", f.dataset_name, "random (default), sharegpt, jsonl or prefix");
  c.add_option("--dataset-path", f.dataset_path, "Dataset file (sharegpt: JSON list; jsonl: one request a line)");
  c.add_option("--random-range-ratio", f.random_range_ratio,
               "Lengths uniform in [len*(1-r), len*(1+r)], r in [0, 1) (default 0)");
  c.add_option("--random-prefix-len", f.random_prefix_len, "Tokens of one random prefix shared by every prompt");
  c.add_option("--prompt-type", f.prompt_type,
               "random/prefix prompts as token-ids (default where the backend takes ids) or text (exact token "
               "count under --tokenizer)");
  c.add_option("--sharegpt-output-len", f.sharegpt_output_len, "Output tokens for every ShareGPT request");
  c.add_option("--prefix-len", f.prefix_len, "prefix dataset: tokens of each shared prefix (default 256)");
  c.add_option("--suffix-len", f.suffix_len, "prefix dataset: tokens after the prefix / per later turn (default 256)");
  c.add_option("--num-prefixes", f.num_prefixes, "prefix dataset: distinct prefixes (default 10)");
  c.add_option("--num-turns", f.num_turns, "prefix dataset: turns per session; each turn carries the earlier ones");
  c.add_flag("--turns-as-text", f.turns_as_text, "prefix dataset: concatenate turns as text instead of chat messages");
  c.add_flag("--tokenize-via-server", f.tokenize_via_server,
             "random/prefix text prompts: before the run, realign each prompt through the server's tokenize endpoint "
             "until the server counts exactly the requested tokens (special tokens included; docs/workloads.md)");
  c.add_option("--tokenize-api", f.tokenize_api,
               "With --tokenize-via-server: the endpoint's format, vllm (also llmbench serve), llama.cpp or "
               "tgi; auto tries them in turn")
      ->capture_default_str();
  c.add_option("--on-bad-line", f.on_bad_line,
               "Malformed dataset line/entry: skip (default, counted) or error (exit 2)")
      ->capture_default_str();
  c.add_option("--num-runs", f.num_runs, "Repeat the scenario N times; report mean and 95% CI per metric");
  if (load) {
    c.add_flag("--trace-replay", f.trace_replay,
               "jsonl: send request i at start + timestamp_i - timestamp_0 (open loop, absolute schedule)");
  }
  // Run shape.
  c.add_option("--num-warmups", f.num_warmups,
               load ? "Warm-up requests, excluded from metrics (default 0)"
                    : "Warm-up requests, excluded from metrics (default 1)");
  if (load) {
    c.add_option("--num-prompts", f.num_prompts, "Measured requests (default 1000, or unlimited with --duration)");
    c.add_option("--concurrency", f.concurrency, "Closed loop: N users, each sending when its previous request ends");
    c.add_option("--request-rate", f.request_rate, "Open loop: requests per second, or inf (all at once; default)");
    c.add_option("--arrival", f.arrival, "Open-loop arrivals: poisson (default), constant, gamma");
    c.add_option("--burstiness", f.burstiness, "Gamma shape of arrivals (1 = Poisson; < 1 burstier)");
    c.add_option("--max-concurrency", f.max_concurrency, "Cap on in-flight requests (open loop)");
    c.add_option("--ramp-up", f.ramp_up, "Ramp the request rate up: linear or exponential");
    c.add_option("--ramp-up-strategy", f.ramp_up_strategy, "vLLM's name for --ramp-up (ramps over the requests)");
    c.add_option("--ramp-up-duration", f.ramp_up_duration, "Seconds over which the rate ramps up");
    c.add_option("--ramp-up-start-rps", f.ramp_up_start_rps, "Rate at the start of the ramp (default 1)");
    c.add_option("--ramp-up-end-rps", f.ramp_up_end_rps, "Rate at the end of the ramp (default --request-rate)");
    c.add_option("--duration", f.duration, "Stop sending after this many seconds");
    c.add_option("--goodput", f.goodput, "SLOs for goodput: ttft:MS tpot:MS e2el:MS")->expected(1, 3);
  } else {
    c.add_option("--num-trials", f.num_trials, "Sequential measured requests (default 5)");
  }
  if (load) {
    c.add_option("--threads", f.threads,
                 "Event-loop threads sending requests (users / arrivals spread over them; records merged after)")
        ->capture_default_str();
  }
  // Timeouts.
  c.add_option("--connect-timeout", f.connect_timeout, "Seconds to connect")->capture_default_str();
  c.add_option("--read-timeout", f.read_timeout, "Longest silence in seconds while a response streams")
      ->capture_default_str();
  c.add_option("--request-timeout", f.request_timeout, "Seconds for a whole request")->capture_default_str();
  c.add_option("--drain-timeout", f.drain_timeout, "After Ctrl-C or --duration: seconds in-flight requests may finish")
      ->capture_default_str();
  // Output.
  c.add_option("--label", f.label, "Label for this run (results, file name)");
  c.add_option("--metadata", f.metadata, "KEY=VALUE recorded in the results (repeatable)");
  c.add_flag("--save-result", f.save_result, "Save the result JSON");
  c.add_option("--result-dir", f.result_dir, "Directory for the result JSON (default: current)");
  c.add_option("--result-filename", f.result_filename, "Result JSON file name");
  c.add_flag("--save-detailed", f.save_detailed, "Add per-request arrays to the result JSON (as vLLM)");
  c.add_option("--save-requests", f.save_requests, "Write every request's timeline to this JSONL file");
  c.add_flag("--save-output-text", f.save_output_text, "Keep the generated text of each request");
  c.add_option("--percentile-metrics", f.percentile_metrics, "Metrics to report percentiles for")
      ->capture_default_str();
  c.add_option("--metric-percentiles", f.metric_percentiles, "Percentiles to report, e.g. 50,90,99")
      ->capture_default_str();
  c.add_flag("--dry-run", f.dry_run, "Build and describe the requests without sending them");
  c.add_flag("--no-progress", f.no_progress, "No progress display");
}

std::string default_result_filename(const loadgen::RunInfo& info) {
  std::string model = info.model.empty() ? "model" : info.model.substr(info.model.rfind('/') + 1);
  const std::time_t now = static_cast<std::time_t>(info.wall_start_ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y%m%d-%H%M%S", &tm);
  std::string shape;
  if (info.scenario == "single") {
    shape = "single";
  } else if (info.mode == LoadMode::kClosedLoop) {
    shape = fmt::format("closed{}", info.concurrency);
  } else {
    shape = python_float(info.request_rate) + "qps";
    if (info.max_concurrency > 0) shape += fmt::format("-concurrency{}", info.max_concurrency);
  }
  std::string name = fmt::format("{}-{}-{}-{}.json", info.backend, shape, model, date);
  if (!info.label.empty()) name = info.label + "-" + name;
  return name;
}

BenchPlan resolve_bench_plan(const BenchFlags& f, BenchScenario scenario, const std::string& command_line,
                             const char* env_api_key) {
  const bool load = scenario == BenchScenario::kLoad;
  BenchPlan plan;
  plan.scenario = scenario;
  auto& info = plan.info;
  auto& lo = plan.load;
  auto& syn = plan.synthetic;

  // Target. `exec` sends OpenAI completions bodies, which the exec transport translates.
  plan.exec = f.backend == "exec";
  if (plan.exec) {
    if (f.engine_cmd.find_first_not_of(" \t") == std::string::npos) usage("--backend exec: --engine-cmd is required");
    if (!f.base_url.empty()) usage("--base-url: not used with --backend exec (the engine runs as --engine-cmd)");
    if (!f.endpoint.empty()) usage("--endpoint: not used with --backend exec");
    plan.engine.command = f.engine_cmd;
    const double startup_s = parse_seconds("--engine-startup-timeout", f.engine_startup_timeout);
    if (!(startup_s > 0)) usage("--engine-startup-timeout: must be > 0");
    plan.engine.startup_timeout_ms = static_cast<int64_t>(startup_s * 1000);
    plan.engine.stderr_path = f.engine_log;
  } else if (!f.engine_cmd.empty() || !f.engine_log.empty()) {
    usage("--engine-cmd / --engine-log: only with --backend exec");
  }
  const auto backend = workload::parse_api_backend(plan.exec ? std::string("openai") : f.backend);
  if (!backend) usage(fmt::format("--backend: unknown backend '{}' (use openai, openai-chat or tgi)", f.backend));
  std::string url_text = plan.exec ? std::string("http://127.0.0.1:1") : f.base_url;
  if (url_text.empty()) {
    const int64_t port = parse_int("--port", f.port, 1);
    if (port > 65535) usage(fmt::format("--port: must be <= 65535, got {}", port));
    if (f.host.empty()) usage("--host: must not be empty");
    url_text = fmt::format("http://{}:{}", f.host, port);
  }
  std::string url_error;
  auto url = net::Url::parse(url_text, &url_error);
  if (!url) usage(fmt::format("--base-url: invalid URL '{}': {}", url_text, url_error));
  plan.base_url = *url;
  std::string endpoint = f.endpoint.empty() ? workload::default_endpoint(*backend) : f.endpoint;
  if (endpoint.front() != '/') usage(fmt::format("--endpoint: must start with '/', got '{}'", endpoint));
  // A base URL with a path prefix (http://host/prefix) keeps it in front of the endpoint.
  if (url->target.size() > 1) {
    std::string prefix = url->target;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    endpoint = prefix + endpoint;
  }

  // Workload.
  syn.backend = *backend;
  syn.endpoint = endpoint;
  syn.model = f.model;
  syn.input_len = static_cast<int32_t>(
      f.random_input_len.empty() ? (load ? 1024 : 128) : parse_int("--random-input-len", f.random_input_len, 0));
  if (!f.max_tokens.empty() && !f.random_output_len.empty()) {
    usage("--max-tokens and --random-output-len mean the same thing: give one");
  }
  const std::string& out_text = f.max_tokens.empty() ? f.random_output_len : f.max_tokens;
  syn.output_len = static_cast<int32_t>(
      out_text.empty() ? 128 : parse_int(f.max_tokens.empty() ? "--random-output-len" : "--max-tokens", out_text, 1));
  syn.seed = static_cast<uint64_t>(parse_int("--seed", f.seed, 0));
  if (!f.prompt.empty()) {
    syn.fixed_prompt = f.prompt;
    if (f.prompt.find_first_not_of(" \t\n") == std::string::npos) usage("--prompt: must not be blank");
    if (f.random_input_len.empty()) syn.input_len = 0;  // as given
  } else if (!workload::accepts_token_id_prompt(*backend) && syn.input_len == 0) {
    usage("--random-input-len: must be >= 1 for text prompts");
  }
  if (!f.temperature.empty()) {
    const double t = parse_double("--temperature", f.temperature);
    if (t < 0) usage("--temperature: must be >= 0");
    syn.temperature = t;
  }
  syn.ignore_eos = f.ignore_eos;
  syn.extra_body_json = f.extra_body;
  syn.stream_usage = !f.no_stream_usage;

  // Shape of the run.
  lo.backend = *backend;
  lo.keep_output_text = f.save_output_text;
  lo.num_warmups =
      static_cast<int32_t>(f.num_warmups.empty() ? (load ? 0 : 1) : parse_int("--num-warmups", f.num_warmups, 0));
  if (load) {
    const bool closed = !f.concurrency.empty();
    if (closed && !f.request_rate.empty()) {
      usage("--concurrency (closed loop) and --request-rate (open loop) exclude each other: give one");
    }
    if (!f.duration.empty()) lo.duration_s = parse_seconds("--duration", f.duration);
    lo.num_prompts =
        f.num_prompts.empty() ? (lo.duration_s > 0 ? 0 : 1000) : parse_int("--num-prompts", f.num_prompts, 1);
    if (!f.max_concurrency.empty()) {
      lo.max_concurrency = static_cast<int32_t>(parse_int("--max-concurrency", f.max_concurrency, 1));
    }
    if (closed) {
      lo.mode = LoadMode::kClosedLoop;
      lo.concurrency = static_cast<int32_t>(parse_int("--concurrency", f.concurrency, 1));
      if (lo.max_concurrency > 0)
        usage("--max-concurrency applies to open loop (--request-rate); with --concurrency it is implied");
      for (const auto* flag : {&f.arrival, &f.burstiness, &f.ramp_up, &f.ramp_up_strategy}) {
        if (!flag->empty())
          usage("--arrival, --burstiness and --ramp-up describe open-loop arrivals: use them with --request-rate");
      }
      lo.warmup_concurrency = lo.concurrency;
    } else {
      lo.mode = LoadMode::kOpenLoop;
      auto& a = lo.arrival;
      a.request_rate = f.request_rate.empty() ? std::numeric_limits<double>::infinity()
                                              : parse_double("--request-rate", f.request_rate, true);
      if (!(a.request_rate > 0)) usage(fmt::format("--request-rate: must be > 0 or inf, got '{}'", f.request_rate));
      a.burstiness = f.burstiness.empty() ? 1.0 : parse_double("--burstiness", f.burstiness);
      if (!(a.burstiness > 0)) usage("--burstiness: must be > 0");
      if (f.arrival.empty()) {
        a.distribution = a.burstiness == 1.0 ? ArrivalDistribution::kPoisson : ArrivalDistribution::kGamma;
      } else if (f.arrival == "poisson") {
        a.distribution = ArrivalDistribution::kPoisson;
        if (a.burstiness != 1.0) usage("--arrival poisson has burstiness 1: use --arrival gamma with --burstiness");
      } else if (f.arrival == "constant") {
        a.distribution = ArrivalDistribution::kConstant;
      } else if (f.arrival == "gamma") {
        a.distribution = ArrivalDistribution::kGamma;
      } else {
        usage(fmt::format("--arrival: expected poisson, constant or gamma, got '{}'", f.arrival));
      }
      a.seed = syn.seed;
      if (!f.ramp_up.empty() && !f.ramp_up_strategy.empty()) usage("--ramp-up and --ramp-up-strategy: give one");
      const std::string& ramp = f.ramp_up.empty() ? f.ramp_up_strategy : f.ramp_up;
      if (!ramp.empty()) {
        if (ramp == "linear") {
          a.ramp_up = RampUp::kLinear;
        } else if (ramp == "exponential") {
          a.ramp_up = RampUp::kExponential;
        } else {
          usage(fmt::format("--ramp-up: expected linear or exponential, got '{}'", ramp));
        }
        if (!f.ramp_up_duration.empty()) a.ramp_up_duration_s = parse_seconds("--ramp-up-duration", f.ramp_up_duration);
        a.ramp_up_start_rps =
            f.ramp_up_start_rps.empty() ? 1.0 : parse_double("--ramp-up-start-rps", f.ramp_up_start_rps);
        if (!f.ramp_up_end_rps.empty()) a.ramp_up_end_rps = parse_double("--ramp-up-end-rps", f.ramp_up_end_rps);
        if (a.ramp_up_start_rps < 0) usage("--ramp-up-start-rps: must be >= 0");
        if (!f.ramp_up_end_rps.empty() && !(a.ramp_up_end_rps > 0)) usage("--ramp-up-end-rps: must be > 0");
        if (a.ramp_up_duration_s <= 0) a.ramp_up_requests = lo.num_prompts;
        if (a.ramp_up_duration_s <= 0 && lo.num_prompts == 0)
          usage("--ramp-up over requests needs --num-prompts (or give --ramp-up-duration)");
        if (a.ramp_up_end_rps <= 0 && std::isinf(a.request_rate))
          usage("--ramp-up needs --ramp-up-end-rps or a finite --request-rate");
        if (a.ramp_up == RampUp::kExponential && !(a.ramp_up_start_rps > 0))
          usage("--ramp-up exponential: --ramp-up-start-rps must be > 0");
      } else if (!f.ramp_up_duration.empty() || !f.ramp_up_start_rps.empty() || !f.ramp_up_end_rps.empty()) {
        usage("--ramp-up-duration/--ramp-up-start-rps/--ramp-up-end-rps need --ramp-up linear|exponential");
      }
      lo.warmup_concurrency = lo.max_concurrency > 0 ? lo.max_concurrency : 1;
    }
  } else {
    lo.mode = LoadMode::kClosedLoop;
    lo.concurrency = 1;
    plan.num_trials = static_cast<int32_t>(f.num_trials.empty() ? 5 : parse_int("--num-trials", f.num_trials, 1));
    lo.num_prompts = plan.num_trials;
  }
  syn.num_requests = static_cast<int32_t>(std::clamp<int64_t>(lo.num_prompts > 0 ? lo.num_prompts : 1000, 1, 1000000));
  lo.num_threads = static_cast<int32_t>(parse_int("--threads", f.threads, 1));
  if (lo.num_threads > 256) usage("--threads: must be <= 256");
  if (plan.exec && lo.num_threads > 1) usage("--threads: the exec backend runs one adapter on one thread (use 1)");
  lo.drain_timeout_s = parse_double("--drain-timeout", f.drain_timeout);
  if (lo.drain_timeout_s < 0) usage("--drain-timeout: must be >= 0");

  // Client.
  auto& cl = lo.client;
  cl.connect_timeout_ms = static_cast<int64_t>(parse_seconds("--connect-timeout", f.connect_timeout) * 1000);
  cl.read_timeout_ms = static_cast<int64_t>(parse_seconds("--read-timeout", f.read_timeout) * 1000);
  cl.total_timeout_ms = static_cast<int64_t>(parse_seconds("--request-timeout", f.request_timeout) * 1000);
  for (const auto& h : f.headers) cl.headers.push_back(parse_header(h));
  cl.bearer_token = !f.api_key.empty() ? f.api_key : (env_api_key ? env_api_key : "");
  if (!cl.bearer_token.empty()) plan.secrets.push_back(cl.bearer_token);
  if (env_api_key != nullptr && *env_api_key != '\0') plan.secrets.emplace_back(env_api_key);
  for (const auto& [name, value] : cl.headers) {
    if (!is_credential_header(name)) continue;
    plan.secrets.push_back(value);
    if (const auto space = value.rfind(' '); space != std::string::npos && space + 1 < value.size()) {
      plan.secrets.push_back(value.substr(space + 1));  // the token of "Bearer <token>"
    }
  }

  // Run description.
  info.scenario = load ? "load" : "single";
  info.mode = lo.mode;
  info.concurrency = lo.mode == LoadMode::kClosedLoop ? lo.concurrency : 0;
  info.request_rate = lo.mode == LoadMode::kOpenLoop ? lo.arrival.request_rate : 0;
  info.burstiness = lo.arrival.burstiness;
  info.arrival = lo.arrival.distribution;
  info.max_concurrency = lo.max_concurrency;
  info.ramp_up = lo.arrival.ramp_up;
  info.ramp_up_duration_s = lo.arrival.ramp_up_duration_s;
  info.ramp_up_start_rps = lo.arrival.ramp_up_start_rps;
  info.ramp_up_end_rps = lo.arrival.ramp_up_end_rps;
  info.num_prompts = lo.num_prompts;
  info.duration_limit_s = lo.duration_s;
  info.num_warmups = lo.num_warmups;
  info.base_url = url->origin();
  info.endpoint = endpoint;
  info.backend = workload::to_string(*backend);
  if (plan.exec) {
    info.base_url = "exec";
    info.backend = "exec";
    info.metadata.emplace_back("engine_command", f.engine_cmd);
  }
  info.model = f.model;
  info.tokenizer = f.tokenizer;
  info.dataset_name = syn.fixed_prompt ? "fixed" : "random";
  info.input_len = syn.input_len;
  info.output_len = syn.output_len;
  info.ignore_eos = syn.ignore_eos;
  info.temperature = syn.temperature.value_or(0);
  info.seed = syn.seed;
  info.label = f.label;
  for (const auto& m : f.metadata) info.metadata.push_back(parse_key_value("--metadata", m));
  for (auto& [key, value] : info.metadata) value = redact_secrets(value, plan.secrets);
  info.command_line = redact_secrets(command_line, plan.secrets);
  info.host = host_name();
  info.llmbench_version = kVersion;
  for (const auto& g : f.goodput) {
    const auto colon = g.find(':');
    if (colon == std::string::npos) usage(fmt::format("--goodput: expected METRIC:MS, got '{}'", g));
    const std::string metric = g.substr(0, colon);
    if (metric != "ttft" && metric != "tpot" && metric != "e2el" && metric != "itl") {
      usage(fmt::format("--goodput: unknown metric '{}' (use ttft, tpot or e2el)", metric));
    }
    const double ms = parse_double("--goodput", g.substr(colon + 1));
    if (!(ms > 0)) usage(fmt::format("--goodput: threshold must be > 0 ms, got '{}'", g));
    info.goodput.push_back({metric, ms});
  }
  for (const auto& m : split(f.percentile_metrics, ',')) {
    if (m != "ttft" && m != "tpot" && m != "itl" && m != "e2el") {
      usage(fmt::format("--percentile-metrics: unknown metric '{}' (use ttft, tpot, itl, e2el)", m));
    }
    info.percentile_metrics.push_back(m);
  }
  for (const auto& p : split(f.metric_percentiles, ',')) {
    const double v = parse_double("--metric-percentiles", p);
    if (!(v > 0 && v < 100)) usage(fmt::format("--metric-percentiles: must be in (0, 100), got '{}'", p));
    info.metric_percentiles.push_back(v);
  }
  if (info.metric_percentiles.empty()) usage("--metric-percentiles: give at least one percentile");

  // Outputs.
  plan.save_result = f.save_result || !f.result_filename.empty() || !f.result_dir.empty();
  plan.save_detailed = f.save_detailed;
  if (plan.save_result && !f.result_dir.empty() && !writable_dir(f.result_dir)) {
    usage(fmt::format("--result-dir: '{}' is not a writable directory", f.result_dir));
  }
  if (plan.save_result && f.result_dir.empty() && !f.result_filename.empty() &&
      !writable_dir(parent_dir(f.result_filename))) {
    usage(fmt::format("--result-filename: directory '{}' does not exist or is not writable",
                      parent_dir(f.result_filename)));
  }
  if (!f.save_requests.empty() && !writable_dir(parent_dir(f.save_requests))) {
    usage(
        fmt::format("--save-requests: directory '{}' does not exist or is not writable", parent_dir(f.save_requests)));
  }
  plan.result_dir = f.result_dir;
  plan.result_filename = f.result_filename;  // empty: default_result_filename() once the run has started
  plan.save_requests_path = f.save_requests;
  plan.dry_run = f.dry_run;
  plan.progress = !f.no_progress;

  resolve_dataset_flags(f, plan);

  // The requests themselves (body errors such as a bad --extra-body are usage errors too).
  try {
    (void)workload::build_request_body(syn.backend, std::string("x"),
                                       {syn.model, syn.output_len, syn.ignore_eos, syn.temperature, std::nullopt,
                                        syn.extra_body_json, syn.stream_usage});
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
  return plan;
}

}  // namespace llmbench::app

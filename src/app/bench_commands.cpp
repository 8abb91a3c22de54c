#include "app/bench_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>

#include "app/bench_options.h"
#include "app/bench_progress.h"
#include "app/bench_repetitions.h"
#include "app/bench_results.h"
#include "app/bench_workload.h"
#include "app/command.h"
#include "app/secret_redaction.h"
#include "core/clock.h"
#include "loadgen/load_runner.h"
#include "net/exec_transport.h"
#include "report/requests_jsonl.h"
#include "report/result_json.h"
#include "telemetry/telemetry_cli.h"
#include "telemetry/telemetry_collector.h"

namespace llmbench::app {
namespace {

// The one piece of mutable global state: which stop signal arrived (0 = none).
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signum) {
  g_stop_signal.store(signum);
  std::signal(signum, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// Installs SIGINT/SIGTERM handlers for the run and restores the previous ones after.
class StopSignalScope {
 public:
  StopSignalScope() {
    g_stop_signal.store(0);
    old_int_ = std::signal(SIGINT, on_stop_signal);
    old_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignalScope() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

// Every credential on the command line or in $OPENAI_API_KEY, for scrubbing messages.
std::vector<std::string> argument_secrets() {
  return secrets_in(process_arguments(), std::getenv("OPENAI_API_KEY"));
}

[[noreturn]] void fail_usage(const std::string& command, const std::string& message) {
  fmt::print(stderr, "llmbench {}: error: {}\n", command, redact_secrets(message, argument_secrets()));
  throw CliExit(2);
}

void describe_dry_run(const BenchPlan& plan, const std::vector<workload::RequestSpec>& specs,
                      const std::string& dataset_line) {
  const auto& info = plan.info;
  size_t bytes = 0;
  for (const auto& s : specs) bytes += s.body.size();
  std::string shape;
  if (plan.scenario == BenchScenario::kSingle) {
    shape = fmt::format("{} sequential trials", plan.num_trials);
  } else if (info.mode == loadgen::LoadMode::kClosedLoop) {
    shape = fmt::format("closed loop, {} users", info.concurrency);
  } else {
    shape = fmt::format(
        "open loop, {} req/s ({}{})", info.request_rate, loadgen::to_string(info.arrival),
        info.arrival == loadgen::ArrivalDistribution::kGamma ? fmt::format(", burstiness {}", info.burstiness) : "");
    if (info.max_concurrency > 0) shape += fmt::format(", max concurrency {}", info.max_concurrency);
    if (info.ramp_up != loadgen::RampUp::kNone) shape += fmt::format(", {} ramp-up", loadgen::to_string(info.ramp_up));
  }
  fmt::print("Dry run: nothing sent.\n");
  fmt::print("  target:    POST {}{} ({})\n", info.base_url, info.endpoint, info.backend);
  fmt::print("  run:       {}; {} measured requests{}; {} warm-ups\n", shape,
             info.num_prompts > 0 ? std::to_string(info.num_prompts) : std::string("unlimited"),
             info.duration_limit_s > 0 ? fmt::format(", at most {} s", info.duration_limit_s) : "", info.num_warmups);
  if (dataset_line.empty()) {
    fmt::print("  workload:  {} prompts, input {} {}, max_tokens {}, {} distinct bodies ({} bytes)\n",
               info.dataset_name, info.input_len, specs.front().prompt_tokens_sent > 0 ? "tokens" : "words",
               info.output_len, specs.size(), bytes);
  } else {
    fmt::print("  workload:  {}; {} distinct bodies ({} bytes)\n", dataset_line, specs.size(), bytes);
  }
  std::string body = specs.front().body;
  if (body.size() > 600) body = body.substr(0, 600) + fmt::format("... ({} bytes)", specs.front().body.size());
  fmt::print("  first body: {}\n", body);
}

int run_bench(const std::string& name, CLI::App& cmd, const BenchFlags& flags, BenchScenario scenario,
              const telemetry::TelemetryOptions& telemetry_options) {
  if (!cmd.remaining().empty()) {
    fail_usage(name, fmt::format("unknown option or extra argument '{}' (see llmbench {} --help)",
                                 cmd.remaining().front(), name));
  }
  BenchPlan plan;
  PreparedWorkload prepared;
  try {
    plan = resolve_bench_plan(flags, scenario, redacted_command_line(), std::getenv("OPENAI_API_KEY"));
    plan.telemetry = telemetry_options;
    prepared = prepare_bench_workload(plan);  // datasets are loaded and bodies built before the clock starts
  } catch (const UsageError& e) {
    fail_usage(name, e.what());
  } catch (const std::invalid_argument& e) {
    fail_usage(name, e.what());
  }
  if (plan.dry_run) {
    describe_dry_run(plan, prepared.specs, prepared.summary_line);
    return 0;
  }
  if (!prepared.summary_line.empty()) fmt::print("{}\n", prepared.summary_line);

  std::vector<nlohmann::json> run_documents;
  std::vector<loadgen::RequestRecord> last_records;
  loadgen::RunInfo info;
  bool interrupted = false;
  bool any_ok = false;
  for (int32_t run = 0; run < plan.num_runs && !interrupted; ++run) {
    if (plan.num_runs > 1) fmt::print("\n--- {} run {}/{} ---\n", name, run + 1, plan.num_runs);
    BenchRunResult result;
    try {
      result = execute_bench_run(plan, prepared.specs);
    } catch (const UsageError& e) {
      fail_usage(name, e.what());
    }
    interrupted = result.interrupted;
    info = result.info;

    auto& outcome = result;
    if (info.partial) fmt::print(stderr, "llmbench {}: partial results: {}\n", name, info.partial_reason);
    any_ok = any_ok || std::any_of(outcome.records.begin(), outcome.records.end(),
                                   [](const auto& r) { return !r.warmup && r.status == loadgen::RequestStatus::kOk; });

    try {
      if (plan.num_runs == 1) {
        const auto files = report_bench_run(plan, outcome.records, info, outcome.telemetry);
        if (!files.result_json.empty() && !prepared.description.is_null()) {
          add_to_result_file(files.result_json, "workload", prepared.description);
        }
        if (!files.result_json.empty()) fmt::print("Result saved to {}\n", files.result_json);
        if (!files.requests_jsonl.empty()) fmt::print("Per-request timelines saved to {}\n", files.requests_jsonl);
      } else {
        BenchPlan run_plan = plan;  // per-run summary only; files once, after the last run
        run_plan.save_result = false;
        run_plan.save_requests_path.clear();
        report_bench_run(run_plan, outcome.records, info, outcome.telemetry);
        run_documents.push_back(bench_result_document(plan, outcome.records, info));
        if (!outcome.telemetry.is_null()) run_documents.back()["llmbench"]["telemetry"] = outcome.telemetry;
        last_records = std::move(outcome.records);
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "llmbench {}: error: {}\n", name, redact_secrets(e.what(), plan.secrets));
      return interrupted ? 130 : 1;
    }
  }
  if (plan.num_runs > 1 && !run_documents.empty()) {
    const nlohmann::json reps = repetitions_json(run_documents);
    fmt::print("\n{}", format_repetitions(reps));
    try {
      if (const std::string path = bench_result_path(plan, info); !path.empty()) {
        nlohmann::json doc = run_documents.back();
        doc["llmbench"]["repetitions"] = reps;
        if (!prepared.description.is_null()) doc["llmbench"]["workload"] = prepared.description;
        report::write_json_file(path, doc);
        fmt::print("Result saved to {}\n", path);
      }
      if (!plan.save_requests_path.empty()) {
        report::write_requests_jsonl(plan.save_requests_path, last_records, info);
        fmt::print("Per-request timelines (last run) saved to {}\n", plan.save_requests_path);
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "llmbench {}: error: {}\n", name, redact_secrets(e.what(), plan.secrets));
      return interrupted ? 130 : 1;
    }
  }
  if (interrupted) return 130;
  if (!any_ok) {
    fmt::print(stderr, "llmbench {}: error: no request completed successfully\n", name);
    return 1;
  }
  return 0;
}

void add_bench_command(CLI::App& app, const std::string& name, const std::string& description, BenchScenario scenario) {
  auto flags = std::make_shared<BenchFlags>();
  auto telemetry_options = std::make_shared<telemetry::TelemetryOptions>();
  CLI::App* cmd = app.add_subcommand(name, description);
  add_bench_flags(*cmd, *flags, scenario);
  telemetry::add_telemetry_flags(*cmd, *telemetry_options);
  cmd->callback([name, cmd, flags, scenario, telemetry_options] {
    const int code = run_bench(name, *cmd, *flags, scenario, *telemetry_options);
    if (code != 0) throw CliExit(code);
  });
}

}  // namespace

// Moves telemetry time zero from when the collector started to the measured run's start, so that
// server and GPU series line up with the run's own time series.
static void shift_telemetry_times(nlohmann::json& node, double shift_s) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) {
      if (key == "points" && value.is_array()) {
        for (auto& p : value) {
          if (p.is_array() && !p.empty() && p[0].is_number()) p[0] = p[0].get<double>() - shift_s;
        }
      } else {
        shift_telemetry_times(value, shift_s);
      }
    }
  } else if (node.is_array()) {
    for (auto& value : node) shift_telemetry_times(value, shift_s);
  }
}

BenchRunResult execute_bench_run(const BenchPlan& given_plan, const std::vector<workload::RequestSpec>& specs) {
  BenchPlan plan = given_plan;
  StopSignalScope signals;
  // The server's own /metrics takes the same credentials as its API (vLLM's --api-key guards both);
  // a --metrics-url elsewhere gets none of them.
  if (plan.telemetry.metrics_url.empty()) {
    plan.telemetry.bearer_token = plan.load.client.bearer_token;
    plan.telemetry.headers = plan.load.client.headers;
  }
  // --backend exec: start the adapter once, before the clock starts; it is shut down (shutdown line,
  // SIGTERM, SIGKILL) at the end, on Ctrl-C and on errors (the destructor).
  std::unique_ptr<net::ExecEngine> engine;
  std::unique_ptr<loadgen::LoadRunner> runner;
  if (plan.exec) {
    plan.telemetry.scrape_server = false;  // an adapter has no /metrics; GPU sampling stays
    engine = std::make_unique<net::ExecEngine>();
    fmt::print("Starting engine: {}\n", redact_secrets(plan.engine.command, plan.secrets));
    std::fflush(stdout);
    try {
      engine->start(plan.engine, [] { return g_stop_signal.load() != 0; });
    } catch (const net::ExecEngineError& e) {
      fmt::print(stderr, "llmbench: error: {}\n", redact_secrets(e.what(), argument_secrets()));
      throw CliExit(g_stop_signal.load() != 0 ? 130 : 1);
    }
    const auto& ei = engine->info();
    fmt::print(
        "Engine {} ({}) ready: start-up {:.1f} s (adapter's own load time {:.1f} s; not counted in any "
        "request), max_batch {}\n",
        ei.engine.empty() ? "?" : ei.engine, ei.model.empty() ? "?" : ei.model, ei.launch_s, ei.startup_s,
        ei.max_batch);
    auto& md = plan.info.metadata;
    md.emplace_back("engine", ei.engine);
    md.emplace_back("engine_model", ei.model);
    md.emplace_back("engine_startup_s", fmt::format("{:.3f}", ei.startup_s));
    md.emplace_back("engine_launch_s", fmt::format("{:.3f}", ei.launch_s));
    md.emplace_back("engine_max_batch", std::to_string(ei.max_batch));
    if (!ei.version.empty()) md.emplace_back("engine_version", ei.version);
    if (!ei.device.empty()) md.emplace_back("engine_device", ei.device);
    if (!ei.dtype.empty()) md.emplace_back("engine_dtype", ei.dtype);
    net::ExecTransportOptions to;
    to.read_timeout_ms = plan.load.client.read_timeout_ms;
    to.on_fatal = [&runner](const std::string& reason) {
      if (runner) runner->request_stop(reason);
    };
    plan.load.transport_factory = [e = engine.get(), to](net::EventLoop& loop) -> std::unique_ptr<net::Transport> {
      return std::make_unique<net::ExecTransport>(loop, *e, to);
    };
  }
  try {
    runner = std::make_unique<loadgen::LoadRunner>(plan.base_url, specs, plan.load);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  // Server /metrics and GPU telemetry, on a thread of their own, before, during and after the run.
  std::unique_ptr<telemetry::TelemetryCollector> collector;
  int64_t telemetry_start_ns = 0;
  if (plan.telemetry.scrape_server || plan.telemetry.sample_gpu) {
    collector = std::make_unique<telemetry::TelemetryCollector>(plan.base_url.origin(), plan.telemetry);
    telemetry_start_ns = now_ns();
    collector->start(telemetry_start_ns);
  }
  loadgen::RunOutcome outcome;
  {
    ProgressOptions po;
    po.display = plan.progress;
    po.total = plan.load.num_prompts;
    po.duration_s = plan.load.duration_s;
    auto* r = runner.get();
    BenchProgress progress(
        runner->counters(), po, [] { return g_stop_signal.load() != 0; },
        [r] {
          const int sig = g_stop_signal.load();
          r->request_stop(sig == SIGTERM ? "interrupted (SIGTERM)" : "interrupted (SIGINT)");
        });
    outcome = runner->run();
  }
  if (engine) {
    runner.reset();  // its transports hold the adapter's pipes
    const std::string how = engine->shutdown();
    if (!how.empty()) fmt::print("Engine shut down ({})\n", how);
  }
  BenchRunResult result;
  result.interrupted = g_stop_signal.load() != 0;
  result.info = plan.info;
  result.info.start_ns = outcome.start_ns;
  result.info.end_ns = outcome.end_ns;
  result.info.wall_start_ns = outcome.wall_start_ns ? outcome.wall_start_ns : wall_now_ns();
  result.info.partial = outcome.partial;
  result.info.partial_reason = outcome.partial_reason;
  result.records = std::move(outcome.records);
  // A server may echo the request's credentials in an error body: keep them out of the results.
  for (auto& r : result.records) {
    if (!r.error.empty()) r.error = redact_secrets(std::move(r.error), plan.secrets);
  }
  if (collector) {
    collector->stop();
    const auto telemetry_report = collector->report();
    for (const auto& line : telemetry::summary_lines(telemetry_report)) fmt::print("{}\n", line);
    result.telemetry = telemetry_report.to_json();
    if (outcome.start_ns > 0) shift_telemetry_times(result.telemetry, ns_to_s(outcome.start_ns - telemetry_start_ns));
  }
  return result;
}

void add_single_command(CLI::App& app) {
  add_bench_command(app, "single",
                    "Benchmark 1: one request at a time (warm-ups, then N trials): TTFT, total latency, tokens, "
                    "tokens/s with mean, median, stdev and 95% CI",
                    BenchScenario::kSingle);
}

void add_load_command(CLI::App& app) {
  add_bench_command(app, "load",
                    "Benchmark 2: concurrent load, closed loop (--concurrency) or open loop (--request-rate), "
                    "with vLLM-compatible results",
                    BenchScenario::kLoad);
}

}  // namespace llmbench::app

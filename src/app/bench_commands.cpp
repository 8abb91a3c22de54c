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
#include "app/bench_results.h"
#include "app/command.h"
#include "core/clock.h"
#include "loadgen/load_runner.h"
#include "net/exec_transport.h"

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

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@%+") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    if (!out.empty()) out += ' ';
    out += shell_quote(raw.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

[[noreturn]] void fail_usage(const std::string& command, const std::string& message) {
  fmt::print(stderr, "llmbench {}: error: {}\n", command, message);
  throw CliExit(2);
}

void describe_dry_run(const BenchPlan& plan, const std::vector<workload::RequestSpec>& specs) {
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
  fmt::print("  workload:  {} prompts, input {} {}, max_tokens {}, {} distinct bodies ({} bytes)\n", info.dataset_name,
             info.input_len, specs.front().prompt_tokens_sent > 0 ? "tokens" : "words", info.output_len, specs.size(),
             bytes);
  std::string body = specs.front().body;
  if (body.size() > 600) body = body.substr(0, 600) + fmt::format("... ({} bytes)", specs.front().body.size());
  fmt::print("  first body: {}\n", body);
}

int run_bench(const std::string& name, CLI::App& cmd, const BenchFlags& flags, BenchScenario scenario) {
  if (!cmd.remaining().empty()) {
    fail_usage(name, fmt::format("unknown option or extra argument '{}' (see llmbench {} --help)",
                                 cmd.remaining().front(), name));
  }
  BenchPlan plan;
  std::vector<workload::RequestSpec> specs;
  try {
    plan = resolve_bench_plan(flags, scenario, command_line(), std::getenv("OPENAI_API_KEY"));
    specs = workload::build_synthetic_requests(plan.synthetic);
  } catch (const UsageError& e) {
    fail_usage(name, e.what());
  } catch (const std::invalid_argument& e) {
    fail_usage(name, e.what());
  }
  if (plan.dry_run) {
    describe_dry_run(plan, specs);
    return 0;
  }

  StopSignalScope signals;
  // --backend exec: start the adapter once, before the clock starts; it is shut down (shutdown line,
  // SIGTERM, SIGKILL) at the end, on Ctrl-C and on errors (the destructor).
  std::unique_ptr<net::ExecEngine> engine;
  std::unique_ptr<loadgen::LoadRunner> runner;
  if (plan.exec) {
    engine = std::make_unique<net::ExecEngine>();
    fmt::print("Starting engine: {}\n", plan.engine.command);
    std::fflush(stdout);
    try {
      engine->start(plan.engine, [] { return g_stop_signal.load() != 0; });
    } catch (const net::ExecEngineError& e) {
      fmt::print(stderr, "llmbench {}: error: {}\n", name, e.what());
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
    runner = std::make_unique<loadgen::LoadRunner>(plan.base_url, std::move(specs), plan.load);
  } catch (const std::invalid_argument& e) {
    fail_usage(name, e.what());
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
  const bool interrupted = g_stop_signal.load() != 0;
  if (engine) {
    runner.reset();  // its transports hold the adapter's pipes
    const std::string how = engine->shutdown();
    if (!how.empty()) fmt::print("Engine shut down ({})\n", how);
  }

  loadgen::RunInfo info = plan.info;
  info.start_ns = outcome.start_ns;
  info.end_ns = outcome.end_ns;
  info.wall_start_ns = outcome.wall_start_ns ? outcome.wall_start_ns : wall_now_ns();
  info.partial = outcome.partial;
  info.partial_reason = outcome.partial_reason;
  if (info.partial) fmt::print(stderr, "llmbench {}: partial results: {}\n", name, info.partial_reason);

  try {
    const auto files = report_bench_run(plan, outcome.records, info);
    if (!files.result_json.empty()) fmt::print("Result saved to {}\n", files.result_json);
    if (!files.requests_jsonl.empty()) fmt::print("Per-request timelines saved to {}\n", files.requests_jsonl);
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmbench {}: error: {}\n", name, e.what());
    return interrupted ? 130 : 1;
  }
  if (interrupted) return 130;
  const bool any_ok = std::any_of(outcome.records.begin(), outcome.records.end(),
                                  [](const auto& r) { return !r.warmup && r.status == loadgen::RequestStatus::kOk; });
  if (!any_ok) {
    fmt::print(stderr, "llmbench {}: error: no request completed successfully\n", name);
    return 1;
  }
  return 0;
}

void add_bench_command(CLI::App& app, const std::string& name, const std::string& description, BenchScenario scenario) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(name, description);
  add_bench_flags(*cmd, *flags, scenario);
  cmd->callback([name, cmd, flags, scenario] {
    const int code = run_bench(name, *cmd, *flags, scenario);
    if (code != 0) throw CliExit(code);
  });
}

}  // namespace

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

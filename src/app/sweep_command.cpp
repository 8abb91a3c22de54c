// `llmbench sweep`: one `load` run per concurrency level or request rate (a list or a range), all
// results in one file with a throughput-versus-latency table, or an SLO search (bisection for the
// highest rate/concurrency whose SLOs hold at a percentile). Flags: those of `load` plus the
// sweep ones below; docs/workloads.md.
#include "app/sweep_command.h"
#include "telemetry/telemetry_cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "app/bench_commands.h"
#include "app/bench_options.h"
#include "app/bench_repetitions.h"
#include "app/bench_workload.h"
#include "app/command.h"
#include "app/secret_redaction.h"
#include "app/sweep_plan.h"
#include "core/clock.h"
#include "core/version.h"
#include "metrics/summary.h"
#include "report/result_json.h"
#include "report/terminal_summary.h"

namespace llmbench::app {
namespace {

using nlohmann::json;

struct SweepFlags {
  std::string concurrency_range, request_rate_range, search_by, slo_percentile = "99", search_min, search_max;
  std::string search_iterations = "6", sweep_file;
  bool slo_search = false;
};

struct PointResult {
  double value = 0;
  json document;  // the (last) run's result document, with llmbench.repetitions when --num-runs > 1
  metrics::Summary summary;
  bool partial = false;
};

std::string value_text(double v, SweepDimension d) {
  if (std::isinf(v)) return "inf";
  return d == SweepDimension::kConcurrency ? fmt::format("{}", static_cast<int64_t>(v)) : fmt::format("{}", v);
}

double metric_at(const metrics::Summary& s, const std::string& metric, double p) {
  const auto& l = s.latency;
  const metrics::Distribution& d = metric == "ttft"   ? l.ttft_ms
                                   : metric == "tpot" ? l.tpot_ms
                                   : metric == "itl"  ? l.itl_ms
                                                      : l.e2el_ms;
  return d.at(p);
}

// One sweep point: --num-runs runs of the plan; prints each summary.
PointResult run_point(const BenchPlan& plan, double value, SweepDimension dim, const PreparedWorkload& workload,
                      bool* interrupted) {
  PointResult point;
  point.value = value;
  std::vector<json> docs;
  for (int32_t run = 0; run < plan.num_runs && !*interrupted; ++run) {
    fmt::print("\n=== sweep: {} = {}{} ===\n", to_string(dim), value_text(value, dim),
               plan.num_runs > 1 ? fmt::format(" (run {}/{})", run + 1, plan.num_runs) : "");
    std::fflush(stdout);
    BenchRunResult r = execute_bench_run(plan, workload.specs);
    *interrupted = r.interrupted;
    point.partial = point.partial || r.info.partial;
    point.summary = metrics::summarize(r.records, r.info);
    report::print_summary(stdout, point.summary, r.info);
    docs.push_back(report::result_json(point.summary, r.records, r.info, plan.save_detailed));
    if (!r.telemetry.is_null()) docs.back()["llmbench"]["telemetry"] = r.telemetry;
    if (run + 1 == plan.num_runs || *interrupted) {
      point.document = docs.back();
      if (plan.num_runs > 1) point.document["llmbench"]["repetitions"] = repetitions_json(docs);
      if (!workload.description.is_null()) point.document["llmbench"]["workload"] = workload.description;
      if (const std::string path = bench_result_path(plan, r.info); !path.empty()) {
        report::write_json_file(path, point.document);
        fmt::print("Result saved to {}\n", path);
      }
    }
  }
  return point;
}

json table_row(const PointResult& p, SweepDimension dim, const std::string& pct) {
  const json& d = p.document;
  auto get = [&](const std::string& k) { return d.contains(k) ? d[k] : json(nullptr); };
  return {{to_string(dim), std::isinf(p.value) ? json("inf") : json(p.value)},
          {"completed", get("completed")},
          {"failed", get("failed")},
          {"request_throughput", get("request_throughput")},
          {"output_throughput", get("output_throughput")},
          {"mean_ttft_ms", get("mean_ttft_ms")},
          {"p" + pct + "_ttft_ms", get("p" + pct + "_ttft_ms")},
          {"mean_tpot_ms", get("mean_tpot_ms")},
          {"p" + pct + "_tpot_ms", get("p" + pct + "_tpot_ms")},
          {"mean_e2el_ms", get("mean_e2el_ms")},
          {"p" + pct + "_e2el_ms", get("p" + pct + "_e2el_ms")},
          {"partial", p.partial}};
}

std::string format_table(const json& table, SweepDimension dim, const std::string& pct) {
  auto num = [](const json& v) { return v.is_number() ? fmt::format("{:.2f}", v.get<double>()) : std::string("-"); };
  std::string out = fmt::format("{:=^120}\n", " Sweep: throughput vs latency ");
  out += fmt::format("{:>12} {:>9} {:>7} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                     dim == SweepDimension::kConcurrency ? "concurrency" : "rate (r/s)", "completed", "failed", "req/s",
                     "out tok/s", "mean TTFT", "p" + pct + " TTFT", "mean TPOT", "p" + pct + " TPOT", "mean E2EL",
                     "p" + pct + " E2EL");
  for (const auto& row : table) {
    const json& v = row[to_string(dim)];
    out += fmt::format("{:>12} {:>9} {:>7} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                       v.is_string() ? v.get<std::string>() : fmt::format("{}", v.get<double>()),
                       row["completed"].is_number() ? fmt::format("{}", row["completed"].get<int64_t>()) : "-",
                       row["failed"].is_number() ? fmt::format("{}", row["failed"].get<int64_t>()) : "-",
                       num(row["request_throughput"]), num(row["output_throughput"]), num(row["mean_ttft_ms"]),
                       num(row["p" + pct + "_ttft_ms"]), num(row["mean_tpot_ms"]), num(row["p" + pct + "_tpot_ms"]),
                       num(row["mean_e2el_ms"]), num(row["p" + pct + "_e2el_ms"]));
  }
  out += std::string(120, '=') + "\n(latencies in ms)\n";
  return out;
}

std::string default_sweep_path(const BenchPlan& plan, SweepDimension dim, bool search) {
  std::string model = plan.info.model.empty() ? "model" : plan.info.model.substr(plan.info.model.rfind('/') + 1);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y%m%d-%H%M%S", &tm);
  std::string name =
      fmt::format("sweep-{}-{}{}-{}-{}.json", plan.info.backend, to_string(dim), search ? "-slo" : "", model, date);
  if (!plan.info.label.empty()) name = plan.info.label + "-" + name;
  return plan.result_dir.empty() ? name : plan.result_dir + "/" + name;
}

[[noreturn]] void fail_usage(const std::string& message) {
  fmt::print(stderr, "llmbench sweep: error: {}\n",
             redact_secrets(message, secrets_in(process_arguments(), std::getenv("OPENAI_API_KEY"))));
  throw CliExit(2);
}

int run_sweep(CLI::App& cmd, const BenchFlags& flags, const SweepFlags& sf,
              const telemetry::TelemetryOptions& telemetry_options) {
  if (!cmd.remaining().empty()) {
    fail_usage(
        fmt::format("unknown option or extra argument '{}' (see llmbench sweep --help)", cmd.remaining().front()));
  }
  const std::string command_line = redacted_command_line();
  SweepDimension dim = SweepDimension::kConcurrency;
  std::vector<double> values;
  std::optional<SloBisection> search;
  std::vector<loadgen::GoodputSlo> slos;
  double slo_percentile = 99;
  BenchPlan base_plan;
  PreparedWorkload workload;
  try {
    const int given = !flags.concurrency.empty() + !flags.request_rate.empty() + !sf.concurrency_range.empty() +
                      !sf.request_rate_range.empty();
    if (flags.trace_replay) throw UsageError("--trace-replay is not a sweep: use `llmbench load`");
    if (sf.slo_search) {
      if (given) throw UsageError("--slo-search probes --search-min..--search-max: drop the sweep lists/ranges");
      if (sf.search_by.empty() || sf.search_by == "rate" || sf.search_by == "request-rate") {
        dim = SweepDimension::kRequestRate;
      } else if (sf.search_by == "concurrency") {
        dim = SweepDimension::kConcurrency;
      } else {
        throw UsageError(fmt::format("--search-by: expected rate or concurrency, got '{}'", sf.search_by));
      }
      if (sf.search_min.empty() || sf.search_max.empty())
        throw UsageError("--slo-search needs --search-min and --search-max");
      const bool ints = dim == SweepDimension::kConcurrency;
      const double lo = parse_sweep_list("--search-min", sf.search_min, ints).front();
      const double hi = parse_sweep_list("--search-max", sf.search_max, ints).front();
      int iters = 0;
      const auto [ptr, ec] = std::from_chars(sf.search_iterations.data(),
                                             sf.search_iterations.data() + sf.search_iterations.size(), iters);
      if (ec != std::errc() || ptr != sf.search_iterations.data() + sf.search_iterations.size() || iters < 0 ||
          iters > 100) {
        throw UsageError(
            fmt::format("--search-iterations: expected an integer 0..100, got '{}'", sf.search_iterations));
      }
      search.emplace(lo, hi, iters, ints);
      slo_percentile = parse_sweep_list("--slo-percentile", sf.slo_percentile, false).front();
      if (!(slo_percentile > 0 && slo_percentile < 100)) throw UsageError("--slo-percentile: must be in (0, 100)");
      if (flags.goodput.empty()) throw UsageError("--slo-search needs SLOs: --goodput ttft:MS [tpot:MS] [e2el:MS]");
    } else {
      if (given != 1) {
        throw UsageError(
            "give exactly one of --concurrency LIST, --request-rate LIST, --concurrency-range A:B[:xF|+S], "
            "--request-rate-range A:B[:xF|+S] (or --slo-search)");
      }
      if (!flags.concurrency.empty()) values = parse_sweep_list("--concurrency", flags.concurrency, true);
      if (!sf.concurrency_range.empty()) values = parse_sweep_range("--concurrency-range", sf.concurrency_range, true);
      if (!flags.request_rate.empty()) {
        dim = SweepDimension::kRequestRate;
        values = parse_sweep_list("--request-rate", flags.request_rate, false);
      }
      if (!sf.request_rate_range.empty()) {
        dim = SweepDimension::kRequestRate;
        values = parse_sweep_range("--request-rate-range", sf.request_rate_range, false);
      }
    }
    // The first point's plan validates every other flag; the workload is built once and shared.
    BenchFlags f = flags;
    const double first = search ? search->next().value() : values.front();
    f.concurrency = dim == SweepDimension::kConcurrency ? value_text(first, dim) : "";
    f.request_rate = dim == SweepDimension::kRequestRate ? value_text(first, dim) : "";
    base_plan = resolve_bench_plan(f, BenchScenario::kLoad, command_line, std::getenv("OPENAI_API_KEY"));
    if (search) {
      slos = base_plan.info.goodput;
      auto& mp = base_plan.info.metric_percentiles;
      if (std::find(mp.begin(), mp.end(), slo_percentile) == mp.end()) mp.push_back(slo_percentile);
    }
    workload = prepare_bench_workload(base_plan);
  } catch (const UsageError& e) {
    fail_usage(e.what());
  } catch (const std::invalid_argument& e) {
    fail_usage(e.what());
  }
  if (!workload.summary_line.empty()) fmt::print("{}\n", workload.summary_line);

  auto plan_for = [&](double v) {
    BenchFlags f = flags;
    f.concurrency = dim == SweepDimension::kConcurrency ? value_text(v, dim) : "";
    f.request_rate = dim == SweepDimension::kRequestRate ? value_text(v, dim) : "";
    BenchPlan p = resolve_bench_plan(f, BenchScenario::kLoad, command_line, std::getenv("OPENAI_API_KEY"));
    p.info.metric_percentiles = base_plan.info.metric_percentiles;
    p.telemetry = telemetry_options;
    return p;
  };
  const std::string pct = report::percentile_word(base_plan.info.metric_percentiles.front());
  std::vector<PointResult> points;
  json probes = json::array();
  bool interrupted = false;
  try {
    if (search) {
      while (auto v = search->next()) {
        if (interrupted) break;
        PointResult p = run_point(plan_for(*v), *v, dim, workload, &interrupted);
        json slo_values = json::object();
        bool pass = p.summary.completed > 0 && p.summary.failed == 0 && !p.partial;
        for (const auto& slo : slos) {
          const double got = metric_at(p.summary, slo.metric, slo_percentile);
          const bool ok = std::isfinite(got) && got <= slo.threshold_ms;
          pass = pass && ok;
          slo_values[slo.metric] = {{"p" + report::percentile_word(slo_percentile) + "_ms", got},
                                    {"threshold_ms", slo.threshold_ms},
                                    {"pass", ok}};
        }
        if (interrupted) break;  // an interrupted probe decides nothing
        search->record(*v, pass);
        probes.push_back({{to_string(dim), *v},
                          {"pass", pass},
                          {"completed", p.summary.completed},
                          {"failed", p.summary.failed},
                          {"slos", slo_values}});
        fmt::print("SLO probe: {} = {} -> {}\n", to_string(dim), value_text(*v, dim), pass ? "PASS" : "FAIL");
        points.push_back(std::move(p));
      }
    } else {
      for (double v : values) {
        if (interrupted) break;
        points.push_back(run_point(plan_for(v), v, dim, workload, &interrupted));
      }
    }
  } catch (const UsageError& e) {
    fail_usage(e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmbench sweep: error: {}\n", redact_secrets(e.what(), base_plan.secrets));
    return interrupted ? 130 : 1;
  }

  json table = json::array();
  json runs = json::array();
  for (const auto& p : points) {
    table.push_back(table_row(p, dim, pct));
    runs.push_back(p.document);
  }
  fmt::print("\n{}", format_table(table, dim, pct));
  json header = {{"llmbench_version", kVersion},
                 {"command_line", base_plan.info.command_line},
                 {"date", report::iso8601_utc(wall_now_ns())},
                 {"dimension", to_string(dim)},
                 {"num_runs_per_point", base_plan.num_runs},
                 {"partial", interrupted}};
  json doc = {{"llmbench_sweep", header}, {"runs", runs}, {"table", table}};
  if (search) {
    json slo_list = json::array();
    for (const auto& s : slos) slo_list.push_back({{"metric", s.metric}, {"threshold_ms", s.threshold_ms}});
    doc["slo_search"] = {{"slos", slo_list},
                         {"percentile", slo_percentile},
                         {"dimension", to_string(dim)},
                         {"search_min", sf.search_min},
                         {"search_max", sf.search_max},
                         {"probes", probes},
                         {"max_passing", search->best() ? json(*search->best()) : json(nullptr)},
                         {"conclusion", search->conclusion()}};
    fmt::print("SLO search ({} at p{}): {}: {}\n", to_string(dim), report::percentile_word(slo_percentile),
               search->best() ? value_text(*search->best(), dim) : std::string("none"), search->conclusion());
  }
  const std::string path =
      sf.sweep_file.empty() ? default_sweep_path(base_plan, dim, search.has_value()) : sf.sweep_file;
  try {
    report::write_json_file(path, doc);
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmbench sweep: error: {}\n", redact_secrets(e.what(), base_plan.secrets));
    return 1;
  }
  fmt::print("Sweep results saved to {}\n", path);
  return interrupted ? 130 : 0;
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  auto sf = std::make_shared<SweepFlags>();
  auto telemetry_options = std::make_shared<telemetry::TelemetryOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      "Benchmark 2 over several concurrency levels or request rates (one load run each, one results file with a "
      "throughput-vs-latency table), or an SLO search for the highest rate/concurrency meeting --goodput SLOs");
  add_bench_flags(*cmd, *flags, BenchScenario::kLoad);
  telemetry::add_telemetry_flags(*cmd, *telemetry_options);
  cmd->get_option("--concurrency")->description("Closed-loop concurrency levels to sweep, e.g. 1,2,4,8");
  cmd->get_option("--request-rate")->description("Open-loop request rates to sweep (req/s), e.g. 1,2,4 or inf");
  cmd->add_option("--concurrency-range", sf->concurrency_range, "Concurrency levels START:END[:xF|+S], e.g. 1:64:x2");
  cmd->add_option("--request-rate-range", sf->request_rate_range, "Request rates START:END[:xF|+S], e.g. 2:20:+2");
  cmd->add_flag("--slo-search", sf->slo_search,
                "Bisect for the highest rate/concurrency whose --goodput SLOs hold at --slo-percentile");
  cmd->add_option("--search-by", sf->search_by, "SLO search over rate (default, open loop) or concurrency");
  cmd->add_option("--slo-percentile", sf->slo_percentile, "Percentile at which the SLOs must hold")
      ->capture_default_str();
  cmd->add_option("--search-min", sf->search_min, "Lowest rate/concurrency probed");
  cmd->add_option("--search-max", sf->search_max, "Highest rate/concurrency probed");
  cmd->add_option("--search-iterations", sf->search_iterations, "Bisection probes after the two bounds")
      ->capture_default_str();
  cmd->add_option("--sweep-file", sf->sweep_file,
                  "The sweep results file (default: sweep-<backend>-<dimension>-<model>-<date>.json in --result-dir)");
  cmd->callback([cmd, flags, sf, telemetry_options] {
    const int code = run_sweep(*cmd, *flags, *sf, *telemetry_options);
    if (code != 0) throw CliExit(code);
  });
}

}  // namespace llmbench::app

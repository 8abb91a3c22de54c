// `llmbench` with no arguments, or `llmbench demo`: the whole system at work on one machine.
// Starts the built-in reference server on a free loopback port, runs Benchmark 1 (single request)
// and Benchmark 2 (a concurrency sweep) against it exactly as a user would with `llmbench single`
// and `llmbench load`, prints the seed README's Results Summary table filled in, and writes
// everything under results/<timestamp>/.
#include <fmt/core.h>
#include <fmt/format.h>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/command.h"
#include "app/demo_command.h"
#include "app/subprocess.h"
#include "core/clock.h"
#include "report/atomic_file.h"
#include "report/html_report.h"
#include "report/result_files.h"

namespace llmbench::app {
namespace {

struct DemoOptions {
  std::string model = "opt-125m";
  std::string load_format = "dummy";
  std::string dtype = "bfloat16";
  std::string base_url;  // benchmark this server instead of starting one
  std::string results_dir = "results";
  int input_len = 32;
  int output_len = 128;
  int num_warmups = 2;
  int num_trials = 5;
  std::vector<int> concurrency = {1, 2, 4, 8, 16, 32};
  int min_prompts_per_level = 4;
  int prompts_per_user = 2;
  int server_start_timeout_s = 180;
  double metrics_interval_s = 0.25;  // Benchmark 2's /metrics readings: several per level even when a level is short
};

std::string timestamp_dir_name() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;
  }
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::numeric_limits<double>::quiet_NaN();
}

std::string fmt_num(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  return fmt::format("{:.{}f}", v, decimals);
}

// Runs `llmbench <args...>` as a child with its output shown; returns its exit status.
int run_self(const std::vector<std::string>& args) {
  std::vector<std::string> argv{self_executable_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess child(argv, /*capture_stdout=*/false);
  return child.wait();
}

struct Row {
  std::string approach;
  double ttft_s;
  double tokens_per_s;
  std::string notes;
};

int run_demo(const DemoOptions& opt) {
  const int64_t started_ns = now_ns();
  std::filesystem::path dir = std::filesystem::path(opt.results_dir) / timestamp_dir_name();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "llmbench demo: cannot create {}: {}\n", dir.string(), ec.message());
    return 1;
  }
  fmt::print("llmbench demo: results go to {}\n", dir.string());

  std::unique_ptr<Subprocess> server;
  std::string base_url = opt.base_url;
  if (base_url.empty()) {
    fmt::print("[1/3] starting the reference server: llmbench serve --model {} --load-format {} --dtype {}\n",
               opt.model, opt.load_format, opt.dtype);
    server = std::make_unique<Subprocess>(
        std::vector<std::string>{self_executable_path(), "serve", "--host", "127.0.0.1", "--port", "0", "--model",
                                 opt.model, "--load-format", opt.load_format, "--dtype", opt.dtype});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.server_start_timeout_s);
    while (base_url.empty() && std::chrono::steady_clock::now() < deadline) {
      auto line = server->read_line(std::chrono::milliseconds(500));
      if (!line) {
        if (server->read_line(std::chrono::milliseconds(0)) == std::nullopt && kill(server->pid(), 0) != 0) break;
        continue;
      }
      fmt::print("  server: {}\n", *line);
      auto at = line->find("http://");
      if (line->find("listening on") != std::string::npos && at != std::string::npos) {
        base_url = line->substr(at, line->find_first_of(" \t", at) - at);
      }
    }
    if (base_url.empty()) {
      fmt::print(stderr, "llmbench demo: the reference server did not start within {} s\n", opt.server_start_timeout_s);
      return 1;
    }
  }

  const std::string out_len = std::to_string(opt.output_len);
  const std::string in_len = std::to_string(opt.input_len);
  const std::vector<std::string> common{
      "--base-url",          base_url, "--model",      opt.model,       "--random-input-len", in_len,
      "--random-output-len", out_len,  "--ignore-eos", "--save-result", "--result-dir",       dir.string()};

  fmt::print("\n[2/3] Benchmark 1: single request ({} warm-ups, {} trials, {} output tokens)\n", opt.num_warmups,
             opt.num_trials, opt.output_len);
  std::vector<std::string> single_args{"single",
                                       "--num-warmups",
                                       std::to_string(opt.num_warmups),
                                       "--num-trials",
                                       std::to_string(opt.num_trials),
                                       "--result-filename",
                                       "single.json",
                                       "--save-requests",
                                       (dir / "single.jsonl").string(),
                                       "--label",
                                       "llmbench serve (single)"};
  single_args.insert(single_args.end(), common.begin(), common.end());
  int failures = run_self(single_args) != 0 ? 1 : 0;

  fmt::print("\n[3/3] Benchmark 2: concurrent serving, concurrency sweep\n");
  std::vector<int> levels_run;
  for (int c : opt.concurrency) {
    int prompts = std::max(opt.min_prompts_per_level, c * opt.prompts_per_user);
    fmt::print("\n-- concurrency {} ({} requests)\n", c, prompts);
    std::vector<std::string> args{"load",
                                  "--concurrency",
                                  std::to_string(c),
                                  "--num-prompts",
                                  std::to_string(prompts),
                                  "--num-warmups",
                                  std::to_string(std::min(c, 4)),
                                  "--result-filename",
                                  fmt::format("load_c{}.json", c),
                                  "--save-requests",
                                  (dir / fmt::format("load_c{}.jsonl", c)).string(),
                                  "--label",
                                  fmt::format("llmbench serve (c={})", c),
                                  "--metrics-interval",
                                  fmt::format("{}", opt.metrics_interval_s)};
    args.insert(args.end(), common.begin(), common.end());
    if (run_self(args) != 0) ++failures;
    levels_run.push_back(c);
  }
  if (server) {
    int rc = server->terminate(std::chrono::seconds(10));
    if (rc != 0 && rc != 128 + SIGTERM) fmt::print(stderr, "llmbench demo: server exited with status {}\n", rc);
  }

  // The seed README's Results Summary, filled in.
  std::vector<Row> rows;
  nlohmann::json single = read_json(dir / "single.json");
  double single_tokens_per_s = std::numeric_limits<double>::quiet_NaN();
  if (single.is_object() && single.contains("llmbench") && single["llmbench"].contains("single")) {
    const auto& s = single["llmbench"]["single"];
    if (s.contains("tokens_per_s")) single_tokens_per_s = number_or_nan(s["tokens_per_s"], "mean");
  }
  rows.push_back({"llmbench serve (single)", number_or_nan(single, "mean_ttft_ms") / 1e3, single_tokens_per_s,
                  fmt::format("{} trials, {} tokens each, one request at a time", opt.num_trials, opt.output_len)});
  std::string extended =
      "| Concurrency | Req/s | Output tok/s | TTFT p50 (ms) | TTFT p99 (ms) | TPOT mean (ms) | ITL p99 (ms) | E2E p99 "
      "(ms) "
      "| Failed |\n|---|---|---|---|---|---|---|---|---|\n";
  for (int c : levels_run) {
    nlohmann::json r = read_json(dir / fmt::format("load_c{}.json", c));
    rows.push_back(
        {fmt::format("llmbench serve (c={})", c), number_or_nan(r, "median_ttft_ms") / 1e3,
         number_or_nan(r, "output_throughput"),
         fmt::format("{} req/s, p99 TTFT {} ms, mean TPOT {} ms", fmt_num(number_or_nan(r, "request_throughput"), 2),
                     fmt_num(number_or_nan(r, "p99_ttft_ms"), 1), fmt_num(number_or_nan(r, "mean_tpot_ms"), 2))});
    extended += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", c, fmt_num(number_or_nan(r, "request_throughput"), 2),
        fmt_num(number_or_nan(r, "output_throughput"), 1), fmt_num(number_or_nan(r, "median_ttft_ms"), 1),
        fmt_num(number_or_nan(r, "p99_ttft_ms"), 1), fmt_num(number_or_nan(r, "mean_tpot_ms"), 2),
        fmt_num(number_or_nan(r, "p99_itl_ms"), 2), fmt_num(number_or_nan(r, "p99_e2el_ms"), 1),
        r.is_object() && r.contains("failed") ? r["failed"].dump() : "n/a");
  }
  std::string table = "| Approach | TTFT (sec) | Tokens/sec | Notes |\n| --- | --- | --- | --- |\n";
  for (const Row& row : rows) {
    table += fmt::format("| {} | {} | {} | {} |\n", row.approach, fmt_num(row.ttft_s, 3), fmt_num(row.tokens_per_s, 2),
                         row.notes);
  }
  const double elapsed_s = ns_to_s(now_ns() - started_ns);
  std::string summary = fmt::format(
      "# llmbench results\n\nTarget: {} ({}, load format {}, dtype {}); prompts of {} tokens, {} output tokens "
      "(EOS ignored).\n\n## Results Summary\n\nTTFT is the mean for the single-request benchmark and the median "
      "under load; Tokens/sec is one request's output tokens per second (mean of the trials) for the single-request "
      "benchmark and the aggregate output tokens per second under load.\n\n{}\n## Concurrency sweep\n\n{}\n"
      "Finished in {:.0f} s. Files: single.json, load_c*.json (results, vllm bench serve field names), *.jsonl "
      "(every request's timeline).\n",
      base_url, opt.model, opt.load_format, opt.dtype, opt.input_len, opt.output_len, table, extended, elapsed_s);
  std::ofstream(dir / "summary.md") << summary;
  std::string report_note;
  try {
    auto runs = report::load_result_files({dir.string()});
    report::write_string_atomically((dir / "report.html").string(),
                                    report::render_html_report(runs, "llmbench demo: " + opt.model));
    report_note = fmt::format("Report: {} (open it in a browser; it works offline).\n", (dir / "report.html").string());
  } catch (const std::exception& e) {
    report_note = fmt::format("No HTML report: {}\n", e.what());
    ++failures;
  }
  fmt::print("\n## Results Summary\n\n{}\n{}\nWrote {} in {:.0f} s.\n{}", table, extended,
             (dir / "summary.md").string(), elapsed_s, report_note);
  return failures == 0 ? 0 : 1;
}

}  // namespace

CLI::App* add_demo_command(CLI::App& root) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* cmd = root.add_subcommand("demo", "Start the built-in engine and run both benchmarks (the default)");
  cmd->add_option("--model", opt->model, "Model folder, or a name with --load-format dummy")->capture_default_str();
  cmd->add_option("--load-format", opt->load_format, "auto (safetensors) or dummy")->capture_default_str();
  cmd->add_option("--dtype", opt->dtype, "Weight dtype of the built-in engine")->capture_default_str();
  cmd->add_option("--base-url", opt->base_url, "Benchmark this server instead of starting the built-in one");
  cmd->add_option("--results-dir", opt->results_dir, "Parent folder of results/<timestamp>/")->capture_default_str();
  cmd->add_option("--input-len", opt->input_len, "Prompt tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--output-len", opt->output_len, "Output tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--num-warmups", opt->num_warmups, "Warm-up requests of Benchmark 1")->capture_default_str();
  cmd->add_option("--num-trials", opt->num_trials, "Trials of Benchmark 1")->capture_default_str();
  cmd->add_option("--concurrency", opt->concurrency, "Concurrency levels of Benchmark 2")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--min-prompts", opt->min_prompts_per_level, "Requests per level, at least")->capture_default_str();
  cmd->add_option("--metrics-interval", opt->metrics_interval_s, "Seconds between readings of the server's /metrics")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  cmd->callback([opt] {
    int rc = run_demo(*opt);
    if (rc != 0) throw CliExit(rc);
  });
  return cmd;
}

}  // namespace llmbench::app

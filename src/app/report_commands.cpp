// `llmbench compare` and `llmbench report`: reading results, for people.
#include <fmt/core.h>
#include <unistd.h>

#include "app/command.h"
#include "app/report_commands.h"
#include "report/atomic_file.h"
#include "report/compare_table.h"
#include "report/html_report.h"

namespace llmbench::app {

CLI::App* add_compare_command(CLI::App& root) {
  struct Options {
    std::vector<std::string> inputs;
    std::string format = "auto";
    std::string output;
    bool no_deltas = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("compare", "Compare result files in one table (deltas against the first)");
  cmd->add_option("results", opt->inputs, "Result JSON files or folders of them")->required();
  cmd->add_option("--format", opt->format, "md, text, or auto (text on a terminal, else md)")
      ->check(CLI::IsMember({"auto", "md", "markdown", "text"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", opt->output, "Write the table to this file (Markdown unless --format text)");
  cmd->add_flag("--no-deltas", opt->no_deltas, "Leave out the change against the first run");
  cmd->callback([opt] {
    try {
      auto runs = report::load_result_files(opt->inputs);
      if (runs.empty()) {
        fmt::print(stderr, "llmbench compare: no result files found in the given paths\n");
        throw CliExit(2);
      }
      bool text = opt->format == "text" || (opt->format == "auto" && opt->output.empty() && isatty(STDOUT_FILENO));
      std::string table = report::render_compare_table(
          runs, text ? report::TableFormat::kText : report::TableFormat::kMarkdown, !opt->no_deltas);
      if (opt->output.empty()) {
        fmt::print("{}", table);
      } else {
        report::write_string_atomically(opt->output, table);
        fmt::print("wrote {}\n", opt->output);
      }
    } catch (const std::runtime_error& e) {
      fmt::print(stderr, "llmbench compare: {}\n", e.what());
      throw CliExit(2);
    }
  });
  return cmd;
}

CLI::App* add_report_command(CLI::App& root) {
  struct Options {
    std::vector<std::string> inputs;
    std::string output = "report.html";
    std::string title = "llmbench report";
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("report", "Write one self-contained HTML report from result files");
  cmd->add_option("results", opt->inputs, "Result folders or JSON files")->required();
  cmd->add_option("-o,--output", opt->output, "HTML file to write")->capture_default_str();
  cmd->add_option("--title", opt->title, "Page title")->capture_default_str();
  cmd->callback([opt] {
    try {
      auto runs = report::load_result_files(opt->inputs);
      if (runs.empty()) {
        fmt::print(stderr, "llmbench report: no result files found in the given paths\n");
        throw CliExit(2);
      }
      report::write_string_atomically(opt->output, report::render_html_report(runs, opt->title));
      fmt::print("wrote {} ({} runs)\n", opt->output, runs.size());
    } catch (const std::runtime_error& e) {
      fmt::print(stderr, "llmbench report: {}\n", e.what());
      throw CliExit(2);
    }
  });
  return cmd;
}

}  // namespace llmbench::app

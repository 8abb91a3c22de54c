// llmbench: which inference engine serves my model best, for one user and for many?
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "app/bench_commands.h"
#include "app/command.h"
#include "app/sweep_command.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"llmbench: benchmark LLM inference engines, for one user and for many"};
  app.set_version_flag("--version", std::string(llmbench::kVersion) + " (" + llmbench::kGitRevision + ")");
  app.require_subcommand(0, 1);
  llmbench::app::add_single_command(app);
  llmbench::app::add_load_command(app);
  llmbench::app::add_sweep_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const llmbench::app::CliExit& e) {
    return e.code;
  }
  if (app.get_subcommands().empty()) {
    fmt::print("{}", app.help());
  }
  return 0;
}

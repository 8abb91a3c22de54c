// llmbench: which inference engine serves my model best, for one user and for many?
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "app/bench_commands.h"
#include "app/command.h"
#include "app/demo_command.h"
#include "app/report_commands.h"
#include "app/secret_redaction.h"
#include "app/serve_command.h"
#include "app/sweep_command.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "llmbench: benchmark LLM inference engines, for one user and for many.\n"
      "With no arguments it runs `llmbench demo`: the built-in engine, both benchmarks."};
  app.name("llmbench");
  app.set_version_flag("--version", std::string(llmbench::kVersion) + " (" + llmbench::kGitRevision + ")");
  app.require_subcommand(0, 1);
  llmbench::app::add_demo_command(app);
  llmbench::app::add_single_command(app);
  llmbench::app::add_load_command(app);
  llmbench::app::add_sweep_command(app);
  llmbench::app::add_serve_command(app);
  llmbench::app::add_compare_command(app);
  llmbench::app::add_report_command(app);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) args.push_back("demo");
  const std::vector<std::string> secrets = llmbench::app::secrets_in(args, std::getenv("OPENAI_API_KEY"));
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // CLI11 echoes the arguments it rejects ("not expected: --api-key=..."): its messages go out
    // redacted. --help and --version exit 0; every usage error exits 2, as the bench commands'
    // own checks do.
    std::ostringstream out, err;
    const int code = app.exit(e, out, err);
    fmt::print("{}", llmbench::app::redact_secrets(out.str(), secrets));
    fmt::print(stderr, "{}", llmbench::app::redact_secrets(err.str(), secrets));
    return code == 0 ? 0 : 2;
  } catch (const llmbench::app::CliExit& e) {
    return e.code;
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmbench: {}\n", e.what());
    return 1;
  }
  return 0;
}

#pragma once
// How subcommands plug into the CLI: each *_command.cpp defines one add_*_command function that
// adds a CLI11 subcommand whose callback runs it. A failing command throws CliExit(code) so that
// main returns that code after CLI11 has printed nothing more.
#include <CLI/CLI.hpp>
#include <stdexcept>

namespace llmbench::app {

struct CliExit : std::runtime_error {
  explicit CliExit(int exit_code) : std::runtime_error("exit"), code(exit_code) {}
  int code;
};

}  // namespace llmbench::app

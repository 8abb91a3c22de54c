#pragma once
// `llmbench sweep`: load runs over concurrency levels / request rates, or an SLO search.
#include <CLI/CLI.hpp>

namespace llmbench::app {

void add_sweep_command(CLI::App& app);

}  // namespace llmbench::app

#pragma once
// `llmbench single` (Benchmark 1: sequential trials, one request at a time) and `llmbench load`
// (Benchmark 2: closed- or open-loop load). Flags: app/bench_options.h.
#include <CLI/CLI.hpp>

namespace llmbench::app {

void add_single_command(CLI::App& app);
void add_load_command(CLI::App& app);

}  // namespace llmbench::app

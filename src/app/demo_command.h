#pragma once
#include <CLI/CLI.hpp>

namespace llmbench::app {
// `llmbench demo` (also what `llmbench` with no arguments runs).
CLI::App* add_demo_command(CLI::App& root);
}  // namespace llmbench::app

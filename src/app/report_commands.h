#pragma once
#include <CLI/CLI.hpp>

namespace llmbench::app {
CLI::App* add_compare_command(CLI::App& root);  // llmbench compare A.json B.json ...
CLI::App* add_report_command(CLI::App& root);   // llmbench report DIR|FILES -o report.html
}  // namespace llmbench::app

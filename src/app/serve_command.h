#pragma once
#include <CLI/CLI.hpp>

namespace llmbench::app {
// `llmbench serve`: the reference engine behind an OpenAI-compatible (vLLM) and TGI HTTP server.
CLI::App* add_serve_command(CLI::App& root);
}  // namespace llmbench::app

#pragma once
// Runs the built llmbench binary as a user would: a child process with stdout and stderr in files
// under `dir`, waited for, its exit status and output returned. Shared by the CLI integration tests.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace llmbench::testing {

struct CliResult {
  int exit_code = -1;  // the exit status, or 128 + the signal that ended it
  double seconds = 0;  // wall time from fork to exit
  bool timed_out = false;
  std::string out, err;
};

struct CliRunOptions {
  int timeout_s = 0;  // > 0: SIGKILL the process after this long and set timed_out
  // Set: sends SIGINT once it returns true (polled every 10 ms, for at most 60 s).
  std::function<bool()> interrupt_when;
};

std::string slurp(const std::filesystem::path& path);

// Runs build/src/app/llmbench with `args`; its output goes to dir/stdout.txt and dir/stderr.txt.
CliResult run_llmbench(const std::vector<std::string>& args, const std::filesystem::path& dir,
                       const CliRunOptions& options = {});

}  // namespace llmbench::testing

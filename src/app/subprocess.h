#pragma once
// A child process of this program with its stdout piped back, for the demo (which drives
// `llmbench serve`, `single` and `load` as a user would) and the integration tests.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace llmbench::app {

class Subprocess {
 public:
  // Starts argv[0] with argv; stdout is captured (readable with read_line), stderr is inherited.
  // Throws std::runtime_error if the process cannot be started.
  explicit Subprocess(const std::vector<std::string>& argv, bool capture_stdout = true);
  ~Subprocess();  // terminates (SIGTERM, then SIGKILL after 5 s) if still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Next line of stdout (without '\n'), or nullopt on EOF or when timeout passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Sends SIGTERM, waits up to grace for exit, then SIGKILL. Returns the exit status (128+sig if killed).
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Waits for exit; returns the exit status (128+signal when killed by a signal).
  int wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> exit_status_;
};

// Absolute path of the running executable (/proc/self/exe).
std::string self_executable_path();

}  // namespace llmbench::app

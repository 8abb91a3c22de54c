#include "llmbench_cli.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace llmbench::testing {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_llmbench(const std::vector<std::string>& args, const std::filesystem::path& dir,
                       const CliRunOptions& options) {
  const std::string bin = std::string(LLMBENCH_BINARY_DIR) + "/src/app/llmbench";
  const std::filesystem::path out_path = dir / "stdout.txt", err_path = dir / "stderr.txt";
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    _exit(127);
  }
  CliResult r;
  int status = 0;
  bool interrupted = !options.interrupt_when;
  for (int poll = 0;; ++poll) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    if (!interrupted && (poll >= 6000 || options.interrupt_when())) {
      ::kill(pid, SIGINT);
      interrupted = true;
    }
    if (options.timeout_s > 0 && std::chrono::steady_clock::now() - t0 > std::chrono::seconds(options.timeout_s)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

}  // namespace llmbench::testing

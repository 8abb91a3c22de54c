#pragma once
// The exec backend (docs/adapter-protocol.md): an engine adapter process spoken to in JSON lines
// over its stdin/stdout, presented to the load generator as a Transport whose responses look like
// OpenAI completions SSE streams with continuous usage, so the usual decoders count tokens exactly.
//
// ExecEngine owns the process: start() spawns `/bin/sh -c CMD` and blocks (bounded) until the
// adapter's `ready` line; shutdown() sends `shutdown`, then SIGTERM, then SIGKILL. ExecTransport
// binds one started engine to one EventLoop. Every line is stamped with now_ns() when its bytes
// arrive, before it is parsed.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "net/http_client.h"
#include "net/transport.h"

namespace llmbench::net {

struct ExecEngineOptions {
  std::string command;                   // run with /bin/sh -c
  int64_t startup_timeout_ms = 600'000;  // spawn to `ready`
  int64_t shutdown_grace_ms = 3'000;     // after `shutdown` before SIGTERM, and after SIGTERM before SIGKILL
  std::string stderr_path;               // adapter stderr goes here (appended); empty: llmbench's stderr
};

// What the adapter's `ready` line said.
struct ExecEngineInfo {
  std::string engine, model, version, device, dtype;
  double startup_s = 0;      // the adapter's own load time
  double launch_s = 0;       // spawn to ready as llmbench saw it
  int64_t max_batch = 0;     // 0 if not given
  int64_t monotonic_ns = 0;  // adapter clock at ready
  int64_t ready_ns = 0;      // llmbench clock when the ready line arrived
};

class ExecEngineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ExecEngine {
 public:
  ExecEngine() = default;
  ~ExecEngine();  // shutdown()
  ExecEngine(const ExecEngine&) = delete;
  ExecEngine& operator=(const ExecEngine&) = delete;

  // Spawns the adapter and waits for `ready`. Throws ExecEngineError with a clear reason when it
  // exits, writes something else first, times out, or `should_abort` (polled every 100 ms) says so.
  void start(const ExecEngineOptions& options, const std::function<bool()>& should_abort = {});
  const ExecEngineInfo& info() const { return info_; }
  bool running() const { return pid_ > 0; }

  // Sends `shutdown` and closes stdin; SIGTERM after the grace period, SIGKILL after another.
  // Returns the exit description ("exited with status 0", ...). Idempotent.
  std::string shutdown();

  // For ExecTransport: the pipe ends and bytes read after the ready line.
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  std::string take_leftover() { return std::move(leftover_); }
  // Waits up to wait_ms for the process to exit; describes how it ended ("exited with status 7",
  // "killed by signal 9") or returns "closed its stdout" if it is still running.
  std::string describe_exit(int64_t wait_ms);

 private:
  bool reap(int64_t wait_ms);  // true once the process has been waited for
  ExecEngineOptions options_;
  ExecEngineInfo info_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1, stdout_fd_ = -1;
  int exit_status_ = 0;
  bool reaped_ = false;
  std::string leftover_;
};

struct ExecTransportOptions {
  int64_t read_timeout_ms = 60'000;  // longest silence from the adapter while requests are in flight
  // Called once (on the loop thread) when the adapter is gone or broken: exit, EOF, protocol error.
  std::function<void(const std::string& reason)> on_fatal;
};

class ExecTransport : public Transport {
 public:
  ExecTransport(EventLoop& loop, ExecEngine& engine, ExecTransportOptions options);
  ~ExecTransport() override;
  ExecTransport(const ExecTransport&) = delete;
  ExecTransport& operator=(const ExecTransport&) = delete;

  void prepare(const HttpRequest& request) override;
  uint64_t send(const HttpRequest& request, ResponseHandler* handler) override;
  void cancel(uint64_t request_id) override;
  void cancel_all() override;
  size_t open_connections() const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Pure helpers (unit-tested).
// The adapter `request` line for an OpenAI completions body, up to (not including) the id value:
// `{"type":"request",...,"id":"` — append the id and `"}\n`. Throws std::invalid_argument on a body
// that is not a JSON object.
std::string build_adapter_request_prefix(std::string_view completions_body);
// Appends one OpenAI completions SSE chunk with usage. `text_json` is a JSON string token (with
// quotes) or empty for "". `finish_reason` empty means null.
void append_completion_chunk(std::string* out, std::string_view text_json, int64_t prompt_tokens,
                             int64_t completion_tokens, std::string_view finish_reason);

}  // namespace llmbench::net

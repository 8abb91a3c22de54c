#pragma once
// The load generator: sends a workload at a target in closed loop (N users, each sending its next
// request when the previous one ends) or open loop (arrivals on an absolute schedule, optionally
// capped by max_concurrency), after optional warm-up requests, and records every request's timeline.
//
// One event loop per thread (the first on the thread that calls run()); a request's callbacks run on
// its loop's thread and only stamp times, append event stamps (reserved from max_tokens) and parse
// the completed SSE events. Records stay per thread and are merged after the run. Progress readers
// see only the atomics in LiveCounters.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/arrival_schedule.h"
#include "loadgen/request_record.h"
#include "loadgen/run_info.h"
#include "net/http_client.h"
#include "net/transport.h"
#include "workload/api_backend.h"
#include "workload/request_spec.h"

namespace llmbench::loadgen {

struct LoadOptions {
  LoadMode mode = LoadMode::kClosedLoop;
  int32_t concurrency = 1;      // closed loop: users
  ArrivalOptions arrival;       // open loop
  int32_t max_concurrency = 0;  // open loop: cap on in-flight requests (0 = none); waits show as lag
  int64_t num_prompts = 0;      // measured requests; 0 = until duration_s
  double duration_s = 0;        // stop sending after this long (0 = no limit)
  int32_t num_warmups = 0;      // sent first, recorded with warmup = true
  int32_t warmup_concurrency = 1;
  double drain_timeout_s = 10;  // after a stop: how long in-flight requests may still finish
  workload::ApiBackend backend = workload::ApiBackend::kOpenAiCompletions;
  net::ClientOptions client;
  bool keep_output_text = false;
  // Event-loop threads. Closed-loop users and open-loop arrivals are spread over them (user w and
  // arrival i on thread w % n / i % n, --max-concurrency split evenly); each keeps its own
  // connections and records, merged after the run. Capped at the users / slots available.
  int32_t num_threads = 1;
  // Makes each event loop's transport; empty: an HttpClient to the base URL with `client`. The
  // exec backend passes one that binds its started adapter (and runs with one thread).
  std::function<std::unique_ptr<net::Transport>(net::EventLoop&)> transport_factory;
};

// Live numbers for progress displays; written by the loop thread, read from anywhere.
struct LiveCounters {
  std::atomic<int64_t> sent{0};       // measured requests sent
  std::atomic<int64_t> completed{0};  // measured requests finished (ok or not)
  std::atomic<int64_t> failed{0};     // measured requests failed
  std::atomic<int64_t> output_tokens{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> measure_start_ns{0};  // 0 while warming up
};

struct RunOutcome {
  std::vector<RequestRecord> records;  // warm-ups first (warmup = true), then measured in send order
  int64_t start_ns = 0;                // measured phase start (schedule t = 0)
  int64_t end_ns = 0;
  int64_t wall_start_ns = 0;
  bool partial = false;
  std::string partial_reason;
  int64_t peak_in_flight = 0;  // most measured requests in flight at once
};

// Stable machine-readable name of a transport failure ("connection_refused", "read_timeout", ...).
const char* failure_kind_name(net::FailureKind kind);

class LoadRunner {
 public:
  // `specs` are used round-robin (request i gets specs[i % size]); must not be empty.
  // Throws std::invalid_argument on inconsistent options.
  LoadRunner(net::Url base_url, std::vector<workload::RequestSpec> specs, LoadOptions options);
  ~LoadRunner();
  LoadRunner(const LoadRunner&) = delete;
  LoadRunner& operator=(const LoadRunner&) = delete;

  // Runs to completion (or until stopped) on the calling thread.
  RunOutcome run();
  // Thread-safe, async-signal-unsafe: stop sending, let in-flight requests drain for
  // drain_timeout_s, cancel the rest; the outcome is marked partial with `reason`.
  void request_stop(std::string reason);
  const LiveCounters& counters() const;

  struct Impl;  // public only so the response handlers in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmbench::loadgen

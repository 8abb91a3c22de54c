#pragma once
// Scrapes the target server's /metrics and samples the GPUs (NVML) before, during and after a
// benchmark run, on a thread of its own with its own net::EventLoop and net::HttpClient, so that it
// never competes with the load generator's loops. A failing scrape is recorded and never affects
// the run.
//
//   TelemetryCollector telemetry(base_url, options);
//   telemetry.start();   // returns once the "before" reading is taken
//   ... run the benchmark ...
//   telemetry.stop();    // takes the "after" reading and joins the thread
//   TelemetryReport report = telemetry.report();
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "telemetry/telemetry_recorder.h"
#include "telemetry/telemetry_report.h"

namespace llmbench::telemetry {

struct TelemetryOptions {
  int64_t interval_ms = 1000;  // --metrics-interval

  bool scrape_server = true;
  std::string metrics_url;  // empty: <base URL's origin><metrics_path>
  std::string metrics_path = "/metrics";
  int64_t scrape_timeout_ms = 5000;  // one scrape, connect to end of body
  size_t max_body_bytes = 64u << 20;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string bearer_token;
  bool verify_tls = true;

  bool sample_gpu = true;
  std::string nvml_library = "libnvidia-ml.so.1";

  RecorderOptions recorder;
};

class TelemetryCollector {
 public:
  TelemetryCollector(std::string base_url, TelemetryOptions options = {});
  ~TelemetryCollector();  // stops if still running
  TelemetryCollector(const TelemetryCollector&) = delete;
  TelemetryCollector& operator=(const TelemetryCollector&) = delete;

  // Takes the "before" reading (bounded by scrape_timeout_ms), then samples every interval_ms.
  // run_start_ns (steady clock, llmbench::now_ns()) is time zero of every series; 0 means now.
  void start(int64_t run_start_ns = 0);
  // Takes the "after" reading and stops. Idempotent.
  void stop();
  // A snapshot; callable while running.
  TelemetryReport report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmbench::telemetry

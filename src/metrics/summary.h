#pragma once
// Summaries of a finished run: everything the reports print or save, computed once from the run's
// RequestRecords and its RunInfo. Definitions and their mapping to vLLM / AIPerf / GuideLLM names
// are in docs/metrics.md.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/request_record.h"
#include "loadgen/run_info.h"
#include "metrics/statistics.h"

namespace llmbench::metrics {

struct SummaryOptions {
  double steady_state_fraction = 0.9;             // "near the target" = at least this share of it
  int64_t time_series_bucket_ns = 1'000'000'000;  // width of the time-series buckets
  int cdf_points = 200;                           // points per CDF kept for plots (0 = none)
};

struct FailureCount {
  std::string kind;  // RequestRecord::failure_kind ("unknown" when empty)
  int64_t count = 0;
  std::string example;  // one error message of this kind
};

// The four latency families, in milliseconds, over one set of requests.
struct LatencyDistributions {
  Distribution ttft_ms;  // first token event - sent
  Distribution tpot_ms;  // (last token - first token) / (output tokens - 1), requests with > 1 token
  Distribution itl_ms;   // gaps between consecutive token-carrying events (vLLM's itl list)
  Distribution e2el_ms;  // end - sent
};

struct SteadyStateSummary {
  bool found = false;
  std::string rule;    // which rule applied, in words
  std::string reason;  // why there is no window (when !found)
  double start_s = 0;  // relative to Summary::origin_ns
  double end_s = 0;
  double duration_s = 0;
  double target_concurrency = 0;
  double mean_concurrency = 0;    // time-weighted mean in-flight inside the window
  int64_t requests = 0;           // completed requests sent and ended inside the window
  int64_t completions = 0;        // completed requests that ended inside the window
  int64_t output_tokens = 0;      // tokens whose events arrived inside the window
  double request_throughput = 0;  // completions / duration
  double output_throughput = 0;   // output_tokens / duration
  LatencyDistributions latency;   // over `requests`
};

// Per-bucket counts from Summary::origin_ns; all vectors have the same length.
struct TimeSeries {
  int64_t bucket_ns = 0;
  std::vector<double> output_tokens;     // tokens whose events arrived in the bucket
  std::vector<double> completed;         // completed requests that ended in the bucket
  std::vector<double> failed;            // failed requests that ended in the bucket
  std::vector<double> sent;              // requests sent in the bucket
  std::vector<double> mean_concurrency;  // time-weighted mean in-flight requests in the bucket
};

struct Cdfs {
  std::vector<CdfPoint> ttft_ms, tpot_ms, itl_ms, e2el_ms;
};

struct Summary {
  std::vector<double> user_percentiles;  // --metric-percentiles (vLLM's p{X}_*_ms keys), default {99}
  std::vector<double> percentiles;       // what every Distribution holds: {90,95,99,99.9} + user's
  int64_t origin_ns = 0;                 // run start: RunInfo::start_ns, else the first scheduled send

  // Counts (warm-ups excluded everywhere except warmup_requests).
  int64_t measured_requests = 0;  // records that are not warm-ups
  int64_t warmup_requests = 0;
  int64_t completed = 0;                         // status ok
  int64_t failed = 0;                            // status failed
  int64_t cancelled = 0;                         // status cancelled (Ctrl-C / deadline)
  std::vector<FailureCount> failures;            // failed requests by failure_kind, most frequent first
  std::array<int64_t, 3> token_source_counts{};  // completed requests per TokenCountSource

  // Totals over completed requests.
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;

  // Duration: first send to last end over measured requests.
  int64_t first_sent_ns = 0;
  int64_t last_end_ns = 0;
  double duration_s = 0;

  double request_throughput = 0;        // completed / duration
  double input_throughput = 0;          // total_input_tokens / duration
  double output_throughput = 0;         // total_output_tokens / duration
  double total_token_throughput = 0;    // (input + output) / duration
  double max_output_tokens_per_s = 0;   // busiest 1 s bucket (from the first send of a completed request)
  int64_t max_concurrent_requests = 0;  // peak in-flight completed requests (vLLM's sweep)

  // Goodput (--goodput): completed requests meeting every SLO, per second of duration.
  bool has_goodput = false;
  int64_t good_requests = 0;
  double request_goodput = 0;
  int64_t good_requests_scheduled = 0;  // same SLOs on latencies from the scheduled send
  double request_goodput_scheduled = 0;

  LatencyDistributions latency;    // from the actual send, completed requests
  Distribution itl_per_token_ms;   // each gap / tokens in the event, weighted by those tokens
  Distribution ttft_scheduled_ms;  // from the scheduled send (coordinated-omission corrected)
  Distribution e2el_scheduled_ms;
  Distribution scheduling_lag_ms;  // sent - scheduled, every sent measured request
  Distribution tokens_per_s;       // per request: output tokens / e2el
  Distribution input_tokens;       // per completed request
  Distribution output_tokens;      // per completed request
  Distribution tokens_per_event;   // tokens per token-carrying event (1 = one token per chunk)

  SteadyStateSummary steady_state;
  TimeSeries time_series;
  Cdfs cdfs;
  std::vector<std::string> warnings;  // e.g. unknown --goodput metric, chunk-counted tokens
};

// The run's time origin: RunInfo::start_ns when set, else the earliest scheduled (or sent) time of a
// measured request, else 0. Reports give times relative to it.
int64_t run_origin_ns(const std::vector<loadgen::RequestRecord>& records, const loadgen::RunInfo& info);

// Summarizes a run. Records may be in any order; warm-ups are excluded. Never throws on odd
// records (missing stamps just leave a request out of the metrics that need them).
Summary summarize(const std::vector<loadgen::RequestRecord>& records, const loadgen::RunInfo& info,
                  const SummaryOptions& options = {});

// The `single` scenario: each measured completed record is one trial.
struct SingleSummary {
  std::string label;
  int64_t trials = 0;        // completed trials
  int64_t failed = 0;        // trials that did not complete
  SampleStats ttft_s;        // seconds
  SampleStats latency_s;     // total latency (e2el), seconds
  SampleStats tokens;        // tokens generated
  SampleStats tokens_per_s;  // tokens generated / total latency
  // The trials' values, in record order (for --num-runs aggregation and plots).
  std::vector<double> ttft_values_s, latency_values_s, token_values, tokens_per_s_values;
};
SingleSummary summarize_single(const std::vector<loadgen::RequestRecord>& records, const loadgen::RunInfo& info,
                               double ci_level = 0.95);

const char* to_string(loadgen::TokenCountSource source);
const char* to_string(loadgen::RequestStatus status);

}  // namespace llmbench::metrics

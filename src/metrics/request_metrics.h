#pragma once
// Per-request latencies derived from one RequestRecord (definitions: docs/metrics.md).
#include <cstdint>

#include "loadgen/request_record.h"

namespace llmbench::metrics {

struct RequestMetrics {
  bool sent = false;             // the request reached the socket (sent_ns set)
  bool has_ttft = false;         // a token-carrying event arrived
  bool has_tpot = false;         // has_ttft and output_tokens > 1
  double ttft_ms = 0;            // first token event - sent
  double ttft_scheduled_ms = 0;  // first token event - scheduled (coordinated-omission corrected)
  double e2el_ms = 0;            // end - sent
  double e2el_scheduled_ms = 0;  // end - scheduled
  double lag_ms = 0;             // sent - scheduled (how late the load generator sent it)
  double tpot_ms = 0;            // (last token event - first token event) / (output_tokens - 1)
  double tokens_per_s = 0;       // output_tokens / e2el (the seed README's "Tokens/sec")
  int64_t scheduled_ns = 0;      // scheduled_ns, or sent_ns when the schedule is unknown
  int64_t last_token_ns = 0;     // arrival of the last token-carrying event (or end_ns)
  int32_t token_events = 0;      // events with tokens > 0
};

// Derives the metrics of one record; never throws; missing stamps leave the has_* flags false.
RequestMetrics request_metrics(const loadgen::RequestRecord& record);

// Calls fn(gap_ns, tokens) for each gap between consecutive token-carrying events (vLLM's `itl`
// list); `tokens` is what the later event carried. No allocation.
template <typename Fn>
void for_each_token_gap(const loadgen::RequestRecord& record, Fn&& fn) {
  int64_t previous_ns = 0;
  bool have_previous = false;
  for (const auto& e : record.events) {
    if (e.tokens <= 0) continue;
    if (have_previous) fn(e.arrived_ns - previous_ns, e.tokens);
    previous_ns = e.arrived_ns;
    have_previous = true;
  }
}

}  // namespace llmbench::metrics

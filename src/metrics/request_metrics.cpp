#include "metrics/request_metrics.h"

#include "core/clock.h"

namespace llmbench::metrics {

RequestMetrics request_metrics(const loadgen::RequestRecord& r) {
  RequestMetrics m;
  if (r.sent_ns == 0) return m;
  m.sent = true;
  m.scheduled_ns = r.scheduled_ns != 0 ? r.scheduled_ns : r.sent_ns;
  m.lag_ms = ns_to_ms(r.sent_ns - m.scheduled_ns);
  if (r.end_ns != 0) {
    m.e2el_ms = ns_to_ms(r.end_ns - r.sent_ns);
    m.e2el_scheduled_ms = ns_to_ms(r.end_ns - m.scheduled_ns);
    if (m.e2el_ms > 0) m.tokens_per_s = r.output_tokens / (m.e2el_ms / 1e3);
  }
  // First and last token-carrying events; first_token_ns is authoritative when set.
  int64_t first_ns = r.first_token_ns;
  int64_t last_ns = 0;
  for (const auto& e : r.events) {
    if (e.tokens <= 0) continue;
    if (first_ns == 0) first_ns = e.arrived_ns;
    last_ns = e.arrived_ns;
    ++m.token_events;
  }
  if (first_ns != 0) {
    m.has_ttft = true;
    m.ttft_ms = ns_to_ms(first_ns - r.sent_ns);
    m.ttft_scheduled_ms = ns_to_ms(first_ns - m.scheduled_ns);
    if (last_ns == 0 || last_ns < first_ns) last_ns = r.end_ns != 0 ? r.end_ns : first_ns;
    m.last_token_ns = last_ns;
    if (r.output_tokens > 1) {
      m.has_tpot = true;
      m.tpot_ms = ns_to_ms(last_ns - first_ns) / (r.output_tokens - 1);
    }
  } else {
    m.last_token_ns = r.end_ns;
  }
  return m;
}

}  // namespace llmbench::metrics

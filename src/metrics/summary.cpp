#include "metrics/summary.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/clock.h"
#include "metrics/request_metrics.h"
#include "metrics/steady_state.h"

namespace llmbench::metrics {
namespace {

using loadgen::RequestRecord;
using loadgen::RequestStatus;

// Raw samples for one LatencyDistributions; described (sorted) at the end.
struct LatencySamples {
  std::vector<double> ttft, tpot, itl, e2el;

  void add(const RequestRecord& r, const RequestMetrics& m) {
    if (m.has_ttft) ttft.push_back(m.ttft_ms);
    if (m.has_tpot) tpot.push_back(m.tpot_ms);
    e2el.push_back(m.e2el_ms);
    for_each_token_gap(r, [&](int64_t gap_ns, int32_t) { itl.push_back(ns_to_ms(gap_ns)); });
  }

  LatencyDistributions describe_all(std::span<const double> ps) {
    return {describe(ttft, ps), describe(tpot, ps), describe(itl, ps), describe(e2el, ps)};
  }
};

struct Slo {
  enum class Metric { kTtft, kTpot, kE2el, kItl } metric;
  double threshold_ms;
};

std::vector<Slo> parse_slos(const std::vector<loadgen::GoodputSlo>& given, std::vector<std::string>& warnings) {
  std::vector<Slo> out;
  for (const auto& g : given) {
    if (g.metric == "ttft") {
      out.push_back({Slo::Metric::kTtft, g.threshold_ms});
    } else if (g.metric == "tpot") {
      out.push_back({Slo::Metric::kTpot, g.threshold_ms});
    } else if (g.metric == "e2el") {
      out.push_back({Slo::Metric::kE2el, g.threshold_ms});
    } else if (g.metric == "itl") {
      out.push_back({Slo::Metric::kItl, g.threshold_ms});
    } else {
      warnings.push_back(fmt::format("goodput: unknown metric '{}' ignored (use ttft, tpot, e2el or itl)", g.metric));
    }
  }
  return out;
}

// vLLM's rule: a request is good when every SLO value >= the request's value. TPOT of a request with
// <= 1 output token counts as 0; a request without a token event uses e2el as its TTFT.
bool meets_slos(const std::vector<Slo>& slos, const RequestMetrics& m, double max_gap_ms, bool scheduled) {
  for (const auto& s : slos) {
    double value = 0;
    switch (s.metric) {
      case Slo::Metric::kTtft:
        value =
            m.has_ttft ? (scheduled ? m.ttft_scheduled_ms : m.ttft_ms) : (scheduled ? m.e2el_scheduled_ms : m.e2el_ms);
        break;
      case Slo::Metric::kTpot:
        value = m.has_tpot ? m.tpot_ms : 0.0;
        break;
      case Slo::Metric::kE2el:
        value = scheduled ? m.e2el_scheduled_ms : m.e2el_ms;
        break;
      case Slo::Metric::kItl:
        value = max_gap_ms;
        break;
    }
    if (!(s.threshold_ms >= value)) return false;
  }
  return true;
}

// Time-weighted mean in-flight count per bucket, in one sweep over sorted events.
std::vector<double> bucket_mean_concurrency(std::span<const ConcurrencyEvent> sorted, int64_t origin_ns,
                                            int64_t bucket_ns, size_t buckets) {
  std::vector<double> area(buckets, 0.0);
  if (buckets == 0) return area;
  const int64_t horizon = origin_ns + static_cast<int64_t>(buckets) * bucket_ns;
  int64_t inflight = 0;
  int64_t previous = origin_ns;
  auto add_span = [&](int64_t from, int64_t to) {
    // Spread inflight x [from, to) over the buckets it covers.
    while (from < to && inflight != 0) {
      const auto idx = static_cast<size_t>((from - origin_ns) / bucket_ns);
      const int64_t bucket_end = origin_ns + static_cast<int64_t>(idx + 1) * bucket_ns;
      const int64_t stop = std::min(to, bucket_end);
      area[idx] += static_cast<double>(inflight) * static_cast<double>(stop - from);
      from = stop;
    }
  };
  for (const auto& e : sorted) {
    const int64_t t = std::clamp(e.t_ns, origin_ns, horizon);
    if (t > previous) {
      add_span(previous, t);
      previous = t;
    }
    inflight += e.delta;
  }
  add_span(previous, horizon);
  for (double& a : area) a /= static_cast<double>(bucket_ns);
  return area;
}

// A sample of integers kept as counts per value (values in [0, 65536)) plus the rare others.
class IntegerCounts {
 public:
  void add(int64_t v) {
    if (v >= 0 && v < kDense) {
      if (static_cast<size_t>(v) >= counts_.size()) counts_.resize(static_cast<size_t>(v) + 1, 0);
      ++counts_[static_cast<size_t>(v)];
    } else {
      other_.push_back({static_cast<double>(v), 1});
    }
  }
  Distribution describe(std::span<const double> ps) {
    for (size_t k = 0; k < counts_.size(); ++k) {
      if (counts_[k] > 0) other_.push_back({static_cast<double>(k), counts_[k]});
    }
    counts_.clear();
    return describe_weighted(other_, ps);
  }

 private:
  static constexpr int64_t kDense = 1 << 16;
  std::vector<int64_t> counts_;
  std::vector<WeightedValue> other_;
};

std::vector<double> sized(std::vector<double> v, size_t n) {
  v.resize(n, 0.0);
  return v;
}

}  // namespace

const char* to_string(loadgen::TokenCountSource source) {
  switch (source) {
    case loadgen::TokenCountSource::kServerUsage:
      return "server_usage";
    case loadgen::TokenCountSource::kChunkCount:
      return "chunk_count";
    case loadgen::TokenCountSource::kTokenizer:
      return "tokenizer";
  }
  return "unknown";
}

const char* to_string(loadgen::RequestStatus status) {
  switch (status) {
    case RequestStatus::kOk:
      return "ok";
    case RequestStatus::kFailed:
      return "failed";
    case RequestStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

int64_t run_origin_ns(const std::vector<RequestRecord>& records, const loadgen::RunInfo& info) {
  if (info.start_ns != 0) return info.start_ns;
  int64_t origin = 0;
  for (const auto& r : records) {
    if (r.warmup) continue;
    const int64_t t = r.scheduled_ns != 0 ? r.scheduled_ns : r.sent_ns;
    if (t != 0 && (origin == 0 || t < origin)) origin = t;
  }
  return origin;
}

Summary summarize(const std::vector<RequestRecord>& records, const loadgen::RunInfo& info,
                  const SummaryOptions& options) {
  Summary s;
  for (double p : info.metric_percentiles) {
    if (p >= 0.0 && p <= 100.0) {
      s.user_percentiles.push_back(p);
    } else {
      s.warnings.push_back(fmt::format("percentile {} ignored (outside [0, 100])", p));
    }
  }
  if (s.user_percentiles.empty()) s.user_percentiles = {99.0};
  s.percentiles = merge_percentiles(s.user_percentiles);
  const std::vector<Slo> slos = parse_slos(info.goodput, s.warnings);
  s.has_goodput = !slos.empty();

  LatencySamples all;
  std::vector<WeightedValue> itl_per_token;
  std::vector<double> ttft_sched, e2el_sched, lag, tokens_per_s;
  // Token counts are small integers: count them instead of keeping (and sorting) one sample each.
  IntegerCounts input_tokens, output_tokens, tokens_per_event;
  std::vector<TimedWeight> token_events, completed_ends, failed_ends, sends;
  std::vector<ConcurrencyEvent> concurrency;            // every sent measured request
  std::vector<ConcurrencyEvent> completed_concurrency;  // completed only (vLLM's peak)
  std::vector<int64_t> arrivals;
  std::unordered_map<std::string, FailureCount> failures;
  int64_t first_completed_sent = std::numeric_limits<int64_t>::max();
  int64_t first_sent = std::numeric_limits<int64_t>::max();
  int64_t last_end = std::numeric_limits<int64_t>::min();

  // Reserve once: a million-request run has tens of millions of events.
  size_t total_events = 0;
  for (const auto& r : records) total_events += r.events.size();
  all.itl.reserve(total_events);
  itl_per_token.reserve(total_events);
  token_events.reserve(total_events);
  for (auto* v : {&ttft_sched, &e2el_sched, &lag, &tokens_per_s, &all.ttft, &all.tpot, &all.e2el}) {
    v->reserve(records.size());
  }

  for (const auto& r : records) {
    if (r.warmup) {
      ++s.warmup_requests;
      continue;
    }
    ++s.measured_requests;
    const RequestMetrics m = request_metrics(r);
    switch (r.status) {
      case RequestStatus::kOk:
        ++s.completed;
        break;
      case RequestStatus::kFailed: {
        ++s.failed;
        const std::string& kind = r.failure_kind.empty() ? std::string("unknown") : r.failure_kind;
        auto& f = failures[kind];
        if (f.count++ == 0) {
          f.kind = kind;
          f.example = r.error;
        }
        if (r.end_ns != 0) failed_ends.push_back({r.end_ns, 1.0});
        break;
      }
      case RequestStatus::kCancelled:
        ++s.cancelled;
        break;
    }
    if (!m.sent) continue;
    first_sent = std::min(first_sent, r.sent_ns);
    lag.push_back(m.lag_ms);
    sends.push_back({r.sent_ns, 1.0});
    arrivals.push_back(m.scheduled_ns);
    if (r.end_ns != 0) {
      last_end = std::max(last_end, r.end_ns);
      concurrency.push_back({r.sent_ns, +1});
      concurrency.push_back({std::max(r.end_ns, r.sent_ns), -1});
    }
    if (r.status != RequestStatus::kOk) continue;

    // Completed request.
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    const auto source = static_cast<size_t>(r.token_source);
    if (source < s.token_source_counts.size()) ++s.token_source_counts[source];
    input_tokens.add(r.prompt_tokens);
    output_tokens.add(r.output_tokens);
    all.add(r, m);
    if (m.has_ttft) ttft_sched.push_back(m.ttft_scheduled_ms);
    e2el_sched.push_back(m.e2el_scheduled_ms);
    tokens_per_s.push_back(m.tokens_per_s);
    first_completed_sent = std::min(first_completed_sent, r.sent_ns);
    if (r.end_ns != 0) {
      completed_ends.push_back({r.end_ns, 1.0});
      completed_concurrency.push_back({r.sent_ns, +1});
      completed_concurrency.push_back({std::max(r.end_ns, r.sent_ns), -1});
    }
    double max_gap_ms = 0;
    for_each_token_gap(r, [&](int64_t gap_ns, int32_t tokens) {
      itl_per_token.push_back({ns_to_ms(gap_ns) / tokens, tokens});
      max_gap_ms = std::max(max_gap_ms, ns_to_ms(gap_ns));
    });
    for (const auto& e : r.events) {
      if (e.tokens <= 0) continue;
      token_events.push_back({e.arrived_ns, static_cast<double>(e.tokens)});
      tokens_per_event.add(e.tokens);
    }
    if (m.token_events == 0 && r.output_tokens > 0 && r.end_ns != 0) {
      // Non-streaming response: all tokens arrive with the end of the response.
      token_events.push_back({r.end_ns, static_cast<double>(r.output_tokens)});
    }
    if (!slos.empty()) {
      if (meets_slos(slos, m, max_gap_ms, false)) ++s.good_requests;
      if (meets_slos(slos, m, max_gap_ms, true)) ++s.good_requests_scheduled;
    }
  }

  s.origin_ns = run_origin_ns(records, info);
  if (first_sent != std::numeric_limits<int64_t>::max() && last_end > first_sent) {
    s.first_sent_ns = first_sent;
    s.last_end_ns = last_end;
    s.duration_s = ns_to_s(last_end - first_sent);
  } else if (info.end_ns > info.start_ns && info.start_ns != 0) {
    s.duration_s = ns_to_s(info.end_ns - info.start_ns);
  }
  if (s.duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / s.duration_s;
    s.input_throughput = static_cast<double>(s.total_input_tokens) / s.duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / s.duration_s;
    s.total_token_throughput = static_cast<double>(s.total_input_tokens + s.total_output_tokens) / s.duration_s;
    s.request_goodput = static_cast<double>(s.good_requests) / s.duration_s;
    s.request_goodput_scheduled = static_cast<double>(s.good_requests_scheduled) / s.duration_s;
  }

  // Peak output tokens per second (1 s buckets from the first send of a completed request, as vLLM)
  // and peak concurrency of completed requests.
  if (first_completed_sent != std::numeric_limits<int64_t>::max()) {
    const auto per_second = bucket_sums(token_events, first_completed_sent, 1'000'000'000);
    if (!per_second.empty()) s.max_output_tokens_per_s = *std::max_element(per_second.begin(), per_second.end());
  }
  sort_concurrency_events(completed_concurrency);
  s.max_concurrent_requests = peak_concurrency(completed_concurrency);

  // Failures, most frequent first (then by name, so output is stable).
  for (auto& [kind, f] : failures) s.failures.push_back(std::move(f));
  std::sort(s.failures.begin(), s.failures.end(), [](const FailureCount& a, const FailureCount& b) {
    return a.count != b.count ? a.count > b.count : a.kind < b.kind;
  });

  const auto chunk_counted = s.token_source_counts[static_cast<size_t>(loadgen::TokenCountSource::kChunkCount)];
  if (chunk_counted > 0) {
    s.warnings.push_back(
        fmt::format("{} of {} completed requests counted output tokens as one per chunk (the server "
                    "sent no usage): token totals and TPOT are approximate",
                    chunk_counted, s.completed));
  }

  // Steady state.
  sort_concurrency_events(concurrency);
  const SteadyWindow window = find_steady_window(concurrency, arrivals, info, options.steady_state_fraction);
  auto& ss = s.steady_state;
  ss.rule = window.rule;
  ss.reason = window.reason;
  ss.target_concurrency = window.target_concurrency;
  if (window.found) {
    ss.found = true;
    ss.start_s = ns_to_s(window.start_ns - s.origin_ns);
    ss.end_s = ns_to_s(window.end_ns - s.origin_ns);
    ss.duration_s = ns_to_s(window.end_ns - window.start_ns);
    ss.mean_concurrency = mean_concurrency(concurrency, window.start_ns, window.end_ns);
    LatencySamples inside;
    for (const auto& r : records) {
      if (r.warmup || r.status != RequestStatus::kOk || r.sent_ns == 0 || r.end_ns == 0) continue;
      if (r.end_ns >= window.start_ns && r.end_ns <= window.end_ns) ++ss.completions;
      if (r.sent_ns < window.start_ns || r.end_ns > window.end_ns) continue;
      ++ss.requests;
      inside.add(r, request_metrics(r));
    }
    for (const auto& e : token_events) {
      if (e.t_ns >= window.start_ns && e.t_ns <= window.end_ns) ss.output_tokens += static_cast<int64_t>(e.weight);
    }
    if (ss.duration_s > 0) {
      ss.request_throughput = static_cast<double>(ss.completions) / ss.duration_s;
      ss.output_throughput = static_cast<double>(ss.output_tokens) / ss.duration_s;
    }
    ss.latency = inside.describe_all(s.percentiles);
    if (ss.requests == 0) {
      ss.found = false;
      ss.reason = fmt::format("the window ({:.3f} s) holds no request that started and ended inside it", ss.duration_s);
    }
  }

  // Time series from the run origin.
  auto& ts = s.time_series;
  ts.bucket_ns = options.time_series_bucket_ns;
  ts.output_tokens = bucket_sums(token_events, s.origin_ns, ts.bucket_ns);
  ts.completed = bucket_sums(completed_ends, s.origin_ns, ts.bucket_ns);
  ts.failed = bucket_sums(failed_ends, s.origin_ns, ts.bucket_ns);
  ts.sent = bucket_sums(sends, s.origin_ns, ts.bucket_ns);
  size_t buckets = std::max({ts.output_tokens.size(), ts.completed.size(), ts.failed.size(), ts.sent.size()});
  if (last_end > s.origin_ns) {
    buckets = std::max(buckets, static_cast<size_t>((last_end - s.origin_ns) / ts.bucket_ns) + 1);
  }
  ts.output_tokens = sized(std::move(ts.output_tokens), buckets);
  ts.completed = sized(std::move(ts.completed), buckets);
  ts.failed = sized(std::move(ts.failed), buckets);
  ts.sent = sized(std::move(ts.sent), buckets);
  ts.mean_concurrency = bucket_mean_concurrency(concurrency, s.origin_ns, ts.bucket_ns, buckets);

  // Distributions (describe() sorts, so CDF points come after).
  const std::span<const double> ps = s.percentiles;
  s.latency = all.describe_all(ps);
  s.itl_per_token_ms = describe_weighted(itl_per_token, ps);
  s.ttft_scheduled_ms = describe(ttft_sched, ps);
  s.e2el_scheduled_ms = describe(e2el_sched, ps);
  s.scheduling_lag_ms = describe(lag, ps);
  s.tokens_per_s = describe(tokens_per_s, ps);
  s.input_tokens = input_tokens.describe(ps);
  s.output_tokens = output_tokens.describe(ps);
  s.tokens_per_event = tokens_per_event.describe(ps);
  if (options.cdf_points > 0) {
    s.cdfs.ttft_ms = cdf_points_sorted(all.ttft, options.cdf_points);
    s.cdfs.tpot_ms = cdf_points_sorted(all.tpot, options.cdf_points);
    s.cdfs.itl_ms = cdf_points_sorted(all.itl, options.cdf_points);
    s.cdfs.e2el_ms = cdf_points_sorted(all.e2el, options.cdf_points);
  }
  return s;
}

SingleSummary summarize_single(const std::vector<RequestRecord>& records, const loadgen::RunInfo& info,
                               double ci_level) {
  SingleSummary out;
  out.label = !info.label.empty() ? info.label : (!info.backend.empty() ? info.backend : std::string("llmbench"));
  std::vector<double> ttft, latency, tokens, rate;
  for (const auto& r : records) {
    if (r.warmup) continue;
    if (r.status != RequestStatus::kOk) {
      ++out.failed;
      continue;
    }
    const RequestMetrics m = request_metrics(r);
    if (!m.sent || r.end_ns == 0) {
      ++out.failed;
      continue;
    }
    ++out.trials;
    // Without a token event the first token arrives with the whole response.
    ttft.push_back((m.has_ttft ? m.ttft_ms : m.e2el_ms) / 1e3);
    latency.push_back(m.e2el_ms / 1e3);
    tokens.push_back(r.output_tokens);
    rate.push_back(m.tokens_per_s);
  }
  out.ttft_s = sample_stats(ttft, ci_level);
  out.latency_s = sample_stats(latency, ci_level);
  out.tokens = sample_stats(tokens, ci_level);
  out.tokens_per_s = sample_stats(rate, ci_level);
  out.ttft_values_s = std::move(ttft);
  out.latency_values_s = std::move(latency);
  out.token_values = std::move(tokens);
  out.tokens_per_s_values = std::move(rate);
  return out;
}

}  // namespace llmbench::metrics

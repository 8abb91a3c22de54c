#include "telemetry/server_metrics.h"

#include <array>
#include <charconv>
#include <cmath>

namespace llmbench::telemetry {
namespace {

enum class Aggregation : uint8_t { kSum, kMean };

struct Mapping {
  ServerKind server;
  std::string_view normalized;
  Aggregation aggregation;
  // The server's sample names, most preferred first; the first one present is used.
  std::array<std::string_view, 2> sources;
};

// Sources, read from each project's code:
// - vLLM v1: vllm/v1/metrics/loggers.py (PrometheusStatLogger) and vllm/v1/spec_decode/metrics.py
//   (SpecDecodingProm); v0: vllm/engine/metrics.py. prometheus_client appends _total to counters.
//   vllm:gpu_cache_usage_perc is the pre-0.9 name of vllm:kv_cache_usage_perc (both 0..1).
// - SGLang: python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector, TokenizerMetrics-
//   Collector). Retracted requests are SGLang's preemptions.
// - TGI: router/src/infer/v3/scheduler.rs and router/src/server.rs (metrics crate). Token totals
//   come from the per-request histograms' _sum, so they advance when requests finish.
// - llama.cpp: tools/server/server.cpp (handle_metrics) and its README.
constexpr Mapping kMappings[] = {
    {ServerKind::kVllm,
     series::kKvCacheUsage,
     Aggregation::kMean,
     {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}},
    {ServerKind::kVllm, series::kRequestsRunning, Aggregation::kSum, {"vllm:num_requests_running"}},
    {ServerKind::kVllm, series::kRequestsWaiting, Aggregation::kSum, {"vllm:num_requests_waiting"}},
    {ServerKind::kVllm, series::kPreemptionsTotal, Aggregation::kSum, {"vllm:num_preemptions_total"}},
    {ServerKind::kVllm, series::kPromptTokensTotal, Aggregation::kSum, {"vllm:prompt_tokens_total"}},
    {ServerKind::kVllm, series::kGenerationTokensTotal, Aggregation::kSum, {"vllm:generation_tokens_total"}},
    {ServerKind::kVllm, series::kSpecDecodeDraftsTotal, Aggregation::kSum, {"vllm:spec_decode_num_drafts_total"}},
    {ServerKind::kVllm,
     series::kSpecDecodeDraftTokensTotal,
     Aggregation::kSum,
     {"vllm:spec_decode_num_draft_tokens_total"}},
    {ServerKind::kVllm,
     series::kSpecDecodeAcceptedTokensTotal,
     Aggregation::kSum,
     {"vllm:spec_decode_num_accepted_tokens_total"}},
    {ServerKind::kVllm, series::kSpecDecodeAcceptRate, Aggregation::kMean, {"vllm:spec_decode_draft_acceptance_rate"}},

    {ServerKind::kSglang, series::kKvCacheUsage, Aggregation::kMean, {"sglang:token_usage"}},
    {ServerKind::kSglang, series::kRequestsRunning, Aggregation::kSum, {"sglang:num_running_reqs"}},
    {ServerKind::kSglang, series::kRequestsWaiting, Aggregation::kSum, {"sglang:num_queue_reqs"}},
    {ServerKind::kSglang, series::kPreemptionsTotal, Aggregation::kSum, {"sglang:num_retracted_requests_total"}},
    {ServerKind::kSglang, series::kPromptTokensTotal, Aggregation::kSum, {"sglang:prompt_tokens_total"}},
    {ServerKind::kSglang, series::kGenerationTokensTotal, Aggregation::kSum, {"sglang:generation_tokens_total"}},
    {ServerKind::kSglang, series::kSpecDecodeAcceptLength, Aggregation::kMean, {"sglang:spec_accept_length"}},
    {ServerKind::kSglang, series::kSpecDecodeAcceptRate, Aggregation::kMean, {"sglang:spec_accept_rate"}},

    {ServerKind::kTgi, series::kRequestsRunning, Aggregation::kSum, {"tgi_batch_current_size"}},
    {ServerKind::kTgi, series::kRequestsWaiting, Aggregation::kSum, {"tgi_queue_size"}},
    {ServerKind::kTgi, series::kPromptTokensTotal, Aggregation::kSum, {"tgi_request_input_length_sum"}},
    {ServerKind::kTgi, series::kGenerationTokensTotal, Aggregation::kSum, {"tgi_request_generated_tokens_sum"}},

    {ServerKind::kLlamaCpp, series::kKvCacheUsage, Aggregation::kMean, {"llamacpp:kv_cache_usage_ratio"}},
    {ServerKind::kLlamaCpp, series::kRequestsRunning, Aggregation::kSum, {"llamacpp:requests_processing"}},
    {ServerKind::kLlamaCpp, series::kRequestsWaiting, Aggregation::kSum, {"llamacpp:requests_deferred"}},
    {ServerKind::kLlamaCpp, series::kPromptTokensTotal, Aggregation::kSum, {"llamacpp:prompt_tokens_total"}},
    {ServerKind::kLlamaCpp, series::kGenerationTokensTotal, Aggregation::kSum, {"llamacpp:tokens_predicted_total"}},
    {ServerKind::kLlamaCpp,
     series::kSpecDecodeDraftTokensTotal,
     Aggregation::kSum,
     {"llamacpp:tokens_drafted_total", "llamacpp:spec_decode_num_draft_tokens_total"}},
    {ServerKind::kLlamaCpp,
     series::kSpecDecodeAcceptedTokensTotal,
     Aggregation::kSum,
     {"llamacpp:tokens_drafted_accepted_total", "llamacpp:spec_decode_num_accepted_tokens_total"}},
};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

}  // namespace

const char* to_string(ServerKind kind) {
  switch (kind) {
    case ServerKind::kVllm:
      return "vllm";
    case ServerKind::kSglang:
      return "sglang";
    case ServerKind::kTgi:
      return "tgi";
    case ServerKind::kLlamaCpp:
      return "llama.cpp";
    case ServerKind::kUnknown:
      break;
  }
  return "unknown";
}

const char* to_string(SeriesKind kind) {
  return kind == SeriesKind::kCounter ? "counter" : "gauge";
}

const std::vector<NormalizedSeriesInfo>& normalized_series_catalog() {
  static const std::vector<NormalizedSeriesInfo> catalog = {
      {series::kKvCacheUsage, SeriesKind::kGauge, "ratio", "KV cache blocks or tokens in use, 0..1"},
      {series::kRequestsRunning, SeriesKind::kGauge, "requests", "requests in the running batch"},
      {series::kRequestsWaiting, SeriesKind::kGauge, "requests", "requests queued, not yet scheduled"},
      {series::kPreemptionsTotal, SeriesKind::kCounter, "preemptions", "requests preempted (SGLang: retracted)"},
      {series::kPromptTokensTotal, SeriesKind::kCounter, "tokens", "prompt (prefill) tokens processed"},
      {series::kGenerationTokensTotal, SeriesKind::kCounter, "tokens", "tokens generated"},
      {series::kSpecDecodeDraftsTotal, SeriesKind::kCounter, "drafts", "speculative drafts proposed"},
      {series::kSpecDecodeDraftTokensTotal, SeriesKind::kCounter, "tokens", "speculative draft tokens proposed"},
      {series::kSpecDecodeAcceptedTokensTotal, SeriesKind::kCounter, "tokens", "speculative draft tokens accepted"},
      {series::kSpecDecodeAcceptLength, SeriesKind::kGauge, "tokens", "server-reported mean acceptance length"},
      {series::kSpecDecodeAcceptRate, SeriesKind::kGauge, "ratio", "server-reported draft acceptance rate"},
  };
  return catalog;
}

const NormalizedSeriesInfo* normalized_series_info(std::string_view name) {
  for (const auto& info : normalized_series_catalog()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

ServerKind detect_server(const Exposition& exposition) {
  size_t vllm = 0, sglang = 0, tgi = 0, llamacpp = 0;
  for (const Sample& s : exposition.samples) {
    if (starts_with(s.name, "vllm:")) {
      ++vllm;
    } else if (starts_with(s.name, "sglang:")) {
      ++sglang;
    } else if (starts_with(s.name, "tgi_")) {
      ++tgi;
    } else if (starts_with(s.name, "llamacpp:")) {
      ++llamacpp;
    }
  }
  size_t best = 0;
  ServerKind kind = ServerKind::kUnknown;
  auto consider = [&](size_t n, ServerKind k) {
    if (n > best) {
      best = n;
      kind = k;
    }
  };
  consider(vllm, ServerKind::kVllm);
  consider(sglang, ServerKind::kSglang);
  consider(llamacpp, ServerKind::kLlamaCpp);
  consider(tgi, ServerKind::kTgi);
  return kind;
}

std::vector<NormalizedValue> normalize(const Exposition& exposition, ServerKind server) {
  std::vector<NormalizedValue> out;
  for (const Mapping& m : kMappings) {
    if (m.server != server) continue;
    for (std::string_view source : m.sources) {
      if (source.empty()) continue;
      double sum = 0.0;
      size_t n = 0;
      for (const Sample& s : exposition.samples) {
        if (s.name != source || std::isnan(s.value)) continue;
        sum += s.value;
        ++n;
      }
      if (n == 0) continue;
      const NormalizedSeriesInfo* info = normalized_series_info(m.normalized);
      double value = m.aggregation == Aggregation::kMean ? sum / static_cast<double>(n) : sum;
      out.push_back(NormalizedValue{std::string(m.normalized), info->kind, value, std::string(source)});
      break;
    }
  }
  return out;
}

std::map<int, double> spec_decode_accepted_per_position(const Exposition& exposition) {
  std::map<int, double> out;
  for (const Sample& s : exposition.samples) {
    if (s.name != "vllm:spec_decode_num_accepted_tokens_per_pos_total" || !std::isfinite(s.value)) continue;
    const std::string* pos = s.label("position");
    if (pos == nullptr) continue;
    int position = 0;
    auto [ptr, ec] = std::from_chars(pos->data(), pos->data() + pos->size(), position);
    if (ec != std::errc() || ptr != pos->data() + pos->size() || position < 0 || position > 1024) continue;
    out[position] += s.value;
  }
  return out;
}

SpecDecodeSummary spec_decode_from_deltas(std::optional<double> drafts, std::optional<double> draft_tokens,
                                          std::optional<double> accepted_tokens,
                                          const std::map<int, double>& accepted_per_position) {
  SpecDecodeSummary out;
  out.present = drafts.has_value() || draft_tokens.has_value() || accepted_tokens.has_value();
  if (!out.present) return out;
  out.source = "counters";
  out.drafts = drafts;
  out.draft_tokens = draft_tokens;
  out.accepted_tokens = accepted_tokens;
  if (accepted_tokens && draft_tokens && *draft_tokens > 0) out.acceptance_rate = *accepted_tokens / *draft_tokens;
  if (accepted_tokens && drafts && *drafts > 0) {
    out.mean_acceptance_length = 1.0 + *accepted_tokens / *drafts;
    if (!accepted_per_position.empty()) {
      int last = accepted_per_position.rbegin()->first;
      out.per_position_acceptance_rate.assign(static_cast<size_t>(last) + 1, 0.0);
      for (const auto& [pos, accepted] : accepted_per_position) {
        out.per_position_acceptance_rate[static_cast<size_t>(pos)] = accepted / *drafts;
      }
    }
  }
  return out;
}

}  // namespace llmbench::telemetry

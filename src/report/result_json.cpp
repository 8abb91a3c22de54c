#include "report/result_json.h"

#include <time.h>

#include <fmt/core.h>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/version.h"
#include "metrics/request_metrics.h"
#include "report/atomic_file.h"

namespace llmbench::report {
namespace {

using nlohmann::json;

json distribution_json(const metrics::Distribution& d) {
  json j = {{"count", d.count}, {"mean", d.mean}, {"median", d.median},
            {"std", d.stdev},   {"min", d.min},   {"max", d.max}};
  for (const auto& pv : d.percentiles) j["p" + percentile_word(pv.p)] = pv.value;
  return j;
}

json sample_stats_json(const metrics::SampleStats& s) {
  return {{"count", s.count}, {"mean", s.mean},     {"median", s.median},   {"std", s.stdev},        {"min", s.min},
          {"max", s.max},     {"ci_low", s.ci_low}, {"ci_high", s.ci_high}, {"ci_level", s.ci_level}};
}

json latency_json(const metrics::LatencyDistributions& l) {
  return {{"ttft", distribution_json(l.ttft_ms)},
          {"tpot", distribution_json(l.tpot_ms)},
          {"itl", distribution_json(l.itl_ms)},
          {"e2el", distribution_json(l.e2el_ms)}};
}

json cdf_json(const std::vector<metrics::CdfPoint>& points) {
  json a = json::array();
  for (const auto& p : points) a.push_back({p.value, p.fraction});
  return a;
}

// vLLM writes the local date of the run as YYYYMMDD-HHMMSS.
std::string vllm_date(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

json rate_json(double rate) {
  if (!std::isfinite(rate) || rate <= 0) return "inf";
  return rate;
}

json null_if_empty(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

// The vLLM metric block for one family: mean_X_ms, median_X_ms, std_X_ms, p{P}_X_ms.
void add_vllm_metric(json& out, const std::string& name, const metrics::Distribution& d,
                     const std::vector<double>& user_percentiles) {
  out["mean_" + name + "_ms"] = d.mean;
  out["median_" + name + "_ms"] = d.median;
  out["std_" + name + "_ms"] = d.stdev;
  for (double p : user_percentiles) out["p" + percentile_word(p) + "_" + name + "_ms"] = d.at(p);
}

json steady_state_json(const metrics::SteadyStateSummary& ss) {
  json j = {{"found", ss.found}, {"rule", ss.rule}, {"target_concurrency", ss.target_concurrency}};
  if (!ss.found) {
    j["reason"] = ss.reason;
    return j;
  }
  j["start_s"] = ss.start_s;
  j["end_s"] = ss.end_s;
  j["duration_s"] = ss.duration_s;
  j["mean_concurrency"] = ss.mean_concurrency;
  j["requests"] = ss.requests;
  j["completions"] = ss.completions;
  j["output_tokens"] = ss.output_tokens;
  j["request_throughput"] = ss.request_throughput;
  j["output_throughput"] = ss.output_throughput;
  j["latency_ms"] = latency_json(ss.latency);
  return j;
}

json time_series_json(const metrics::TimeSeries& ts) {
  return {{"bucket_s", ns_to_s(ts.bucket_ns)},
          {"output_tokens", ts.output_tokens},
          {"completed", ts.completed},
          {"failed", ts.failed},
          {"sent", ts.sent},
          {"mean_concurrency", ts.mean_concurrency}};
}

json llmbench_json(const metrics::Summary& s, const loadgen::RunInfo& info) {
  json j = run_metadata_json(info);
  j["units"] = {{"latency", "ms"},
                {"times", "s since the run start (first scheduled send of a measured request)"},
                {"throughput", "per second of duration"}};
  j["requests"] = {{"measured", s.measured_requests},
                   {"completed", s.completed},
                   {"failed", s.failed},
                   {"cancelled", s.cancelled},
                   {"warmup", s.warmup_requests}};
  json by_reason = json::object();
  json examples = json::object();
  for (const auto& f : s.failures) {
    by_reason[f.kind] = f.count;
    examples[f.kind] = f.example;
  }
  j["failures_by_reason"] = by_reason;
  j["failure_examples"] = examples;
  json sources = json::object();
  for (size_t i = 0; i < s.token_source_counts.size(); ++i) {
    sources[metrics::to_string(static_cast<loadgen::TokenCountSource>(i))] = s.token_source_counts[i];
  }
  j["token_count_source"] = sources;
  j["token_counts_exact"] = s.token_source_counts[static_cast<size_t>(loadgen::TokenCountSource::kChunkCount)] == 0;
  j["duration"] = {{"definition", "first send to last end of the measured (non-warm-up) requests"},
                   {"duration_s", s.duration_s},
                   {"first_send_s", s.first_sent_ns != 0 ? ns_to_s(s.first_sent_ns - s.origin_ns) : 0.0},
                   {"last_end_s", s.last_end_ns != 0 ? ns_to_s(s.last_end_ns - s.origin_ns) : 0.0},
                   {"run_s", info.end_ns > info.start_ns ? ns_to_s(info.end_ns - info.start_ns) : s.duration_s}};
  j["input_throughput"] = s.input_throughput;
  if (s.has_goodput) {
    json slos = json::object();
    for (const auto& g : info.goodput) slos[g.metric] = g.threshold_ms;
    j["goodput"] = {{"slos_ms", slos},
                    {"good_requests", s.good_requests},
                    {"request_goodput", s.request_goodput},
                    {"good_requests_scheduled", s.good_requests_scheduled},
                    {"request_goodput_scheduled", s.request_goodput_scheduled}};
  } else {
    j["goodput"] = nullptr;
  }
  j["percentiles"] = s.percentiles;
  json latency = latency_json(s.latency);
  latency["itl_per_token"] = distribution_json(s.itl_per_token_ms);
  j["latency_ms"] = latency;
  j["scheduled_latency_ms"] = {{"ttft", distribution_json(s.ttft_scheduled_ms)},
                               {"e2el", distribution_json(s.e2el_scheduled_ms)}};
  j["scheduling_lag_ms"] = distribution_json(s.scheduling_lag_ms);
  j["per_request"] = {{"tokens_per_s", distribution_json(s.tokens_per_s)},
                      {"input_tokens", distribution_json(s.input_tokens)},
                      {"output_tokens", distribution_json(s.output_tokens)},
                      {"tokens_per_event", distribution_json(s.tokens_per_event)}};
  j["steady_state"] = steady_state_json(s.steady_state);
  j["time_series"] = time_series_json(s.time_series);
  j["cdf"] = {{"ttft_ms", cdf_json(s.cdfs.ttft_ms)},
              {"tpot_ms", cdf_json(s.cdfs.tpot_ms)},
              {"itl_ms", cdf_json(s.cdfs.itl_ms)},
              {"e2el_ms", cdf_json(s.cdfs.e2el_ms)}};
  j["warnings"] = s.warnings;
  return j;
}

void add_vllm_header(json& out, const loadgen::RunInfo& info) {
  out["date"] = vllm_date(info.wall_start_ns != 0 ? info.wall_start_ns : wall_now_ns());
  out["endpoint_type"] = info.backend;
  out["backend"] = info.backend;
  out["label"] = null_if_empty(info.label);
  out["model_id"] = info.model;
  out["tokenizer_id"] = null_if_empty(info.tokenizer);
  out["num_prompts"] = info.num_prompts;
  for (const auto& [k, v] : info.metadata) out[k] = v;
  if (info.mode == loadgen::LoadMode::kClosedLoop) {
    // A closed loop of N users is vLLM's --request-rate inf --max-concurrency N.
    out["request_rate"] = "inf";
    out["max_concurrency"] = info.concurrency > 0 ? json(info.concurrency) : json(nullptr);
  } else {
    out["request_rate"] = rate_json(info.request_rate);
    out["max_concurrency"] = info.max_concurrency > 0 ? json(info.max_concurrency) : json(nullptr);
  }
  out["burstiness"] = info.burstiness;
  if (info.ramp_up != loadgen::RampUp::kNone) {
    out["ramp_up_strategy"] = loadgen::to_string(info.ramp_up);
    out["ramp_up_start_rps"] = info.ramp_up_start_rps;
    out["ramp_up_end_rps"] = info.ramp_up_end_rps;
  }
}

}  // namespace

std::string percentile_word(double p) {
  if (std::floor(p) == p && std::fabs(p) < 1e15) return fmt::format("{}", static_cast<int64_t>(p));
  return fmt::format("{}", p);
}

std::string iso8601_utc(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const auto millis = static_cast<int>((wall_ns / 1'000'000) % 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, millis);
}

json run_metadata_json(const loadgen::RunInfo& info) {
  json metadata = json::object();
  for (const auto& [k, v] : info.metadata) metadata[k] = v;
  return {
      {"version", info.llmbench_version.empty() ? std::string(kVersion) : info.llmbench_version},
      {"git_revision", kGitRevision},
      {"command_line", info.command_line},
      {"host", info.host},
      {"start_time", iso8601_utc(info.wall_start_ns != 0 ? info.wall_start_ns : wall_now_ns())},
      {"scenario", info.scenario},
      {"mode", loadgen::to_string(info.mode)},
      {"label", info.label},
      {"metadata", metadata},
      {"partial", info.partial},
      {"partial_reason", info.partial_reason},
      {"target", {{"base_url", info.base_url}, {"endpoint", info.endpoint}, {"backend", info.backend}}},
      {"model", info.model},
      {"tokenizer", info.tokenizer},
      {"load",
       {{"concurrency", info.concurrency},
        {"request_rate", rate_json(info.request_rate)},
        {"arrival", loadgen::to_string(info.arrival)},
        {"burstiness", info.burstiness},
        {"max_concurrency", info.max_concurrency},
        {"ramp_up", loadgen::to_string(info.ramp_up)},
        {"ramp_up_duration_s", info.ramp_up_duration_s},
        {"ramp_up_start_rps", info.ramp_up_start_rps},
        {"ramp_up_end_rps", info.ramp_up_end_rps},
        {"num_prompts", info.num_prompts},
        {"duration_limit_s", info.duration_limit_s},
        {"num_warmups", info.num_warmups}}},
      {"dataset",
       {{"name", info.dataset_name},
        {"input_len", info.input_len},
        {"output_len", info.output_len},
        {"ignore_eos", info.ignore_eos},
        {"temperature", info.temperature},
        {"seed", info.seed}}},
  };
}

json result_json(const metrics::Summary& s, const std::vector<loadgen::RequestRecord>& records,
                 const loadgen::RunInfo& info, bool detailed) {
  json out = json::object();
  add_vllm_header(out, info);
  out["duration"] = s.duration_s;
  out["completed"] = s.completed;
  out["failed"] = s.failed;
  out["total_input_tokens"] = s.total_input_tokens;
  out["total_output_tokens"] = s.total_output_tokens;
  out["request_throughput"] = s.request_throughput;
  out["request_goodput"] = s.has_goodput ? json(s.request_goodput) : json(nullptr);
  out["output_throughput"] = s.output_throughput;
  out["total_token_throughput"] = s.total_token_throughput;
  out["max_output_tokens_per_s"] = s.max_output_tokens_per_s;
  out["max_concurrent_requests"] = s.max_concurrent_requests;
  add_vllm_metric(out, "ttft", s.latency.ttft_ms, s.user_percentiles);
  add_vllm_metric(out, "tpot", s.latency.tpot_ms, s.user_percentiles);
  add_vllm_metric(out, "itl", s.latency.itl_ms, s.user_percentiles);
  add_vllm_metric(out, "e2el", s.latency.e2el_ms, s.user_percentiles);

  if (detailed) {
    json input_lens = json::array(), output_lens = json::array(), ttfts = json::array(), itls = json::array(),
         latencies = json::array(), start_times = json::array(), texts = json::array(), errors = json::array();
    for (const auto& r : records) {
      if (r.warmup) continue;
      const bool ok = r.status == loadgen::RequestStatus::kOk;
      const metrics::RequestMetrics m = metrics::request_metrics(r);
      input_lens.push_back(r.prompt_tokens);
      output_lens.push_back(ok ? r.output_tokens : 0);
      ttfts.push_back(m.has_ttft ? m.ttft_ms / 1e3 : 0.0);
      json gaps = json::array();
      metrics::for_each_token_gap(r, [&](int64_t gap_ns, int32_t) { gaps.push_back(ns_to_s(gap_ns)); });
      itls.push_back(std::move(gaps));
      latencies.push_back(m.e2el_ms / 1e3);
      start_times.push_back(m.sent ? ns_to_s(r.sent_ns - s.origin_ns) : 0.0);
      texts.push_back(r.output_text);
      errors.push_back(ok ? std::string() : (r.error.empty() ? r.failure_kind : r.error));
    }
    out["input_lens"] = std::move(input_lens);
    out["output_lens"] = std::move(output_lens);
    out["ttfts"] = std::move(ttfts);
    out["itls"] = std::move(itls);
    out["latencies"] = std::move(latencies);
    out["start_times"] = std::move(start_times);
    out["generated_texts"] = std::move(texts);
    out["errors"] = std::move(errors);
  }
  out["llmbench"] = llmbench_json(s, info);
  return out;
}

json single_result_json(const metrics::SingleSummary& single, const loadgen::RunInfo& info) {
  json out = json::object();
  add_vllm_header(out, info);
  json j = run_metadata_json(info);
  j["single"] = {{"label", single.label},
                 {"trials", single.trials},
                 {"failed", single.failed},
                 {"ttft_s", sample_stats_json(single.ttft_s)},
                 {"latency_s", sample_stats_json(single.latency_s)},
                 {"tokens", sample_stats_json(single.tokens)},
                 {"tokens_per_s", sample_stats_json(single.tokens_per_s)}};
  j["single"]["trials_detail"] = {{"ttft_s", single.ttft_values_s},
                                  {"latency_s", single.latency_values_s},
                                  {"tokens", single.token_values},
                                  {"tokens_per_s", single.tokens_per_s_values}};
  out["completed"] = single.trials;
  out["failed"] = single.failed;
  out["mean_ttft_ms"] = single.ttft_s.mean * 1e3;
  out["median_ttft_ms"] = single.ttft_s.median * 1e3;
  out["mean_e2el_ms"] = single.latency_s.mean * 1e3;
  out["median_e2el_ms"] = single.latency_s.median * 1e3;
  out["llmbench"] = std::move(j);
  return out;
}

void write_json_file(const std::string& path, const json& document) {
  // Generated text may hold invalid UTF-8 (a server cut mid-character): replace, never throw.
  const std::string text = document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  write_string_atomically(path, text);
}

void write_result_json(const std::string& path, const metrics::Summary& summary,
                       const std::vector<loadgen::RequestRecord>& records, const loadgen::RunInfo& info,
                       bool detailed) {
  write_json_file(path, result_json(summary, records, info, detailed));
}

}  // namespace llmbench::report

#pragma once
// What a benchmark run was: how it was configured and how it went, as the load generator fills it
// in. Metrics and reports read it together with the run's RequestRecords (request_record.h).
// All *_ns fields on the steady clock (llmbench::now_ns()) unless named wall_*; 0 means "not set".
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace llmbench::loadgen {

enum class LoadMode : uint8_t {
  kClosedLoop = 0,  // N users; each sends its next request when its previous one ends
  kOpenLoop,        // requests arrive on a schedule independent of responses
};
inline const char* to_string(LoadMode mode) {
  return mode == LoadMode::kClosedLoop ? "closed" : "open";
}

enum class ArrivalDistribution : uint8_t {
  kPoisson = 0,  // exponential inter-arrival times (gamma with shape 1)
  kConstant,     // fixed interval 1/rate
  kGamma,        // gamma inter-arrival times with shape = burstiness (vLLM's --burstiness)
};
inline const char* to_string(ArrivalDistribution d) {
  switch (d) {
    case ArrivalDistribution::kPoisson:
      return "poisson";
    case ArrivalDistribution::kConstant:
      return "constant";
    case ArrivalDistribution::kGamma:
      return "gamma";
  }
  return "poisson";
}

enum class RampUp : uint8_t {
  kNone = 0,
  kLinear,       // rate grows linearly from ramp_up_start_rps to ramp_up_end_rps
  kExponential,  // rate grows geometrically from ramp_up_start_rps to ramp_up_end_rps
};
inline const char* to_string(RampUp r) {
  switch (r) {
    case RampUp::kNone:
      return "none";
    case RampUp::kLinear:
      return "linear";
    case RampUp::kExponential:
      return "exponential";
  }
  return "none";
}

// One --goodput constraint as given: "ttft:500" -> {"ttft", 500.0} (milliseconds).
struct GoodputSlo {
  std::string metric;  // "ttft", "tpot", "e2el" (vLLM's names; "itl" also accepted)
  double threshold_ms = 0;
};

struct RunInfo {
  // What kind of run.
  std::string scenario;  // "single" or "load"
  LoadMode mode = LoadMode::kClosedLoop;
  int32_t concurrency = 0;  // closed loop: number of users (single: 1)
  double request_rate = 0;  // open loop: requests/s; +infinity = all at once; 0 when closed loop
  double burstiness = 1.0;  // gamma shape for arrivals (1 = Poisson)
  ArrivalDistribution arrival = ArrivalDistribution::kPoisson;
  int32_t max_concurrency = 0;  // cap on in-flight requests (0 = none)
  RampUp ramp_up = RampUp::kNone;
  double ramp_up_duration_s = 0;
  double ramp_up_start_rps = 0;
  double ramp_up_end_rps = 0;
  int64_t num_prompts = 0;      // requested number of measured requests (single: trials)
  double duration_limit_s = 0;  // --duration (0 = none)
  int32_t num_warmups = 0;      // warm-up requests sent before measuring (excluded from metrics)

  // How it went.
  int64_t start_ns = 0;        // steady clock: first measured request scheduled (benchmark t = 0)
  int64_t end_ns = 0;          // steady clock: last measured request ended (or the run was stopped)
  int64_t wall_start_ns = 0;   // Unix epoch ns at start_ns, for metadata ("date" in results)
  bool partial = false;        // stopped early (Ctrl-C, --duration with requests cancelled, ...)
  std::string partial_reason;  // "interrupted (SIGINT)", "duration limit reached", ...

  // Target.
  std::string base_url;   // "http://127.0.0.1:8000"
  std::string endpoint;   // "/v1/completions"
  std::string backend;    // dialect: "openai", "openai-chat", "tgi"
  std::string model;      // model id as sent (and as "model_id" in results)
  std::string tokenizer;  // tokenizer name/path if any, else empty

  // Workload description (synthetic prompts for now).
  std::string dataset_name;  // "random" or "fixed"
  int32_t input_len = 0;     // requested prompt length in tokens
  int32_t output_len = 0;    // requested max_tokens
  bool ignore_eos = false;
  double temperature = 0;
  uint64_t seed = 0;

  // Labels.
  std::string label;
  std::vector<std::pair<std::string, std::string>> metadata;  // --metadata K=V in given order
  std::string command_line;                                   // the full command line, shell-quoted
  std::string host;                                           // hostname of the machine running llmbench
  std::string llmbench_version;

  // What to report.
  std::vector<GoodputSlo> goodput;              // --goodput as given
  std::vector<std::string> percentile_metrics;  // e.g. {"ttft","tpot","itl"} (vLLM's default)
  std::vector<double> metric_percentiles;       // e.g. {99}
};

}  // namespace llmbench::loadgen

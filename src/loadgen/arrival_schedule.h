#pragma once
// Open-loop arrival times: offsets from the run's start at which request i must be sent. The load
// generator posts each send at start + offset on the absolute clock (never a chain of sleeps), so
// a slow client shows up as scheduling lag instead of silently lowering the offered load.
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "loadgen/run_info.h"

namespace llmbench::loadgen {

struct ArrivalOptions {
  double request_rate = std::numeric_limits<double>::infinity();  // req/s; inf = all at t = 0
  ArrivalDistribution distribution = ArrivalDistribution::kPoisson;
  double burstiness = 1.0;  // gamma shape (kGamma); kPoisson forces 1
  RampUp ramp_up = RampUp::kNone;
  double ramp_up_duration_s = 0;  // > 0: the rate ramps over this time; 0: over ramp_up_requests requests
  double ramp_up_start_rps = 0;
  double ramp_up_end_rps = 0;    // 0 = request_rate
  int64_t ramp_up_requests = 0;  // index-based ramp (vLLM's --ramp-up-strategy): the run's num_prompts
  uint64_t seed = 0;
  // Trace replay: request i at offsets_ns[i] (non-decreasing) instead of rate-based arrivals;
  // requests past the end reuse the last offset.
  std::vector<int64_t> offsets_ns;
};

// Throws std::invalid_argument on inconsistent options (rate <= 0, burstiness <= 0, ramp without rates).
void validate(const ArrivalOptions& options);

// Generates offsets lazily, so a --duration run needs no request count up front.
class ArrivalSchedule {
 public:
  explicit ArrivalSchedule(ArrivalOptions options);
  // Offset in ns from the start of request `index()` and advances; non-decreasing.
  int64_t next_offset_ns();
  int64_t index() const { return index_; }
  // The instantaneous target rate at offset t_ns for request i (for tests and reports).
  double rate_at(int64_t t_ns, int64_t i) const;

 private:
  ArrivalOptions options_;
  std::mt19937_64 rng_;
  int64_t index_ = 0;
  double t_s_ = 0;
};

// The first `count` offsets of a schedule.
std::vector<int64_t> arrival_offsets_ns(const ArrivalOptions& options, int64_t count);

}  // namespace llmbench::loadgen

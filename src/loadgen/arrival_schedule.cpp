#include "loadgen/arrival_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace llmbench::loadgen {

void validate(const ArrivalOptions& o) {
  if (!(o.request_rate > 0)) throw std::invalid_argument("request rate must be > 0 (or inf)");
  if (o.distribution == ArrivalDistribution::kGamma && !(o.burstiness > 0 && std::isfinite(o.burstiness))) {
    throw std::invalid_argument("burstiness must be a finite number > 0");
  }
  if (o.ramp_up != RampUp::kNone) {
    const double end = o.ramp_up_end_rps > 0 ? o.ramp_up_end_rps : o.request_rate;
    if (!std::isfinite(end))
      throw std::invalid_argument("ramp-up needs a finite end rate (--request-rate or --ramp-up-end-rps)");
    if (o.ramp_up_start_rps < 0) throw std::invalid_argument("ramp-up start rate must be >= 0");
    if (o.ramp_up == RampUp::kExponential && !(o.ramp_up_start_rps > 0)) {
      throw std::invalid_argument("exponential ramp-up needs --ramp-up-start-rps > 0");
    }
    if (o.ramp_up_duration_s <= 0 && o.ramp_up_requests <= 0) {
      throw std::invalid_argument("ramp-up needs --ramp-up-duration or --num-prompts");
    }
  }
}

ArrivalSchedule::ArrivalSchedule(ArrivalOptions options) : options_(options), rng_(options.seed) {
  validate(options_);
}

double ArrivalSchedule::rate_at(int64_t t_ns, int64_t i) const {
  const auto& o = options_;
  if (o.ramp_up == RampUp::kNone) return o.request_rate;
  const double end = o.ramp_up_end_rps > 0 ? o.ramp_up_end_rps : o.request_rate;
  const double start = o.ramp_up_start_rps;
  double progress;
  if (o.ramp_up_duration_s > 0) {
    progress = std::clamp(static_cast<double>(t_ns) / 1e9 / o.ramp_up_duration_s, 0.0, 1.0);
  } else {
    progress = o.ramp_up_requests > 1
                   ? std::clamp(static_cast<double>(i) / static_cast<double>(o.ramp_up_requests - 1), 0.0, 1.0)
                   : 1.0;
  }
  if (o.ramp_up == RampUp::kLinear) return start + (end - start) * progress;
  return start * std::pow(end / start, progress);
}

int64_t ArrivalSchedule::next_offset_ns() {
  const int64_t i = index_++;
  if (!options_.offsets_ns.empty()) {
    return options_.offsets_ns[static_cast<size_t>(std::min<int64_t>(i, std::ssize(options_.offsets_ns) - 1))];
  }
  if (i == 0) return 0;  // the first request goes at t = 0, as vLLM's schedule does
  double rate = rate_at(static_cast<int64_t>(t_s_ * 1e9), i);
  if (!std::isfinite(rate)) return static_cast<int64_t>(t_s_ * 1e9);
  // A linear ramp from 0 would never send: use a floor of one request per ramp duration.
  if (rate <= 0) rate = options_.ramp_up_duration_s > 0 ? 1.0 / options_.ramp_up_duration_s : 1e-3;
  double interval_s = 0;
  switch (options_.distribution) {
    case ArrivalDistribution::kConstant:
      interval_s = 1.0 / rate;
      break;
    case ArrivalDistribution::kPoisson:
      interval_s = std::exponential_distribution<double>(rate)(rng_);
      break;
    case ArrivalDistribution::kGamma: {
      // Shape k = burstiness, scale = 1 / (rate * k): mean interval 1/rate, CV 1/sqrt(k) (as vLLM).
      const double k = options_.burstiness;
      interval_s = std::gamma_distribution<double>(k, 1.0 / (rate * k))(rng_);
      break;
    }
  }
  t_s_ += interval_s;
  return static_cast<int64_t>(t_s_ * 1e9);
}

std::vector<int64_t> arrival_offsets_ns(const ArrivalOptions& options, int64_t count) {
  ArrivalSchedule schedule(options);
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (auto& t : out) t = schedule.next_offset_ns();
  return out;
}

}  // namespace llmbench::loadgen

#include "metrics/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

namespace llmbench::metrics {
namespace {

// numpy's _lerp: a + (b - a) * t, computed from the nearer end for t >= 0.5 (as numpy does) so that
// results match numpy to the last bit in most cases.
double lerp(double a, double b, double t) {
  const double diff = b - a;
  if (t >= 0.5) {
    return b - diff * (1.0 - t);
  }
  return a + diff * t;
}

double clamp_percentile(double p) {
  if (!(p >= 0.0) || p > 100.0) {
    throw std::invalid_argument("percentile must be in [0, 100]");
  }
  return p;
}

std::vector<double> unique_sorted(std::span<const double> ps) {
  std::vector<double> out(ps.begin(), ps.end());
  for (double p : out) {
    clamp_percentile(p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Regularized incomplete beta I_x(a, b) by Lentz's continued fraction.
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < kEps) break;
  }
  return h;
}

double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return front * beta_continued_fraction(a, b, x) / a;
  }
  return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

// Order-preserving map of a double to an unsigned key (negative values reversed, sign flipped).
uint64_t sort_key(double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(bits));
  return (bits & (uint64_t{1} << 63)) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

// LSD radix sort on 16-bit digits of a 64-bit key; digits shared by every element are skipped, so
// typical latency samples need 2-3 passes. Stable. One scratch array, keys recomputed on the fly
// (allocation and first touch of memory is what costs most on a VM). For large samples only.
template <typename T, typename KeyFn>
void radix_sort(std::vector<T>& v, KeyFn key) {
  constexpr int kBits = 16;
  constexpr int kDigits = 64 / kBits;
  constexpr size_t kBuckets = size_t{1} << kBits;
  const size_t n = v.size();
  std::vector<size_t> counts(kBuckets * kDigits, 0);
  for (const T& x : v) {
    const uint64_t k = key(x);
    for (int d = 0; d < kDigits; ++d)
      ++counts[static_cast<size_t>(d) * kBuckets + ((k >> (d * kBits)) & (kBuckets - 1))];
  }
  std::unique_ptr<T[]> scratch(new T[n]);
  T* src = v.data();
  T* dst = scratch.get();
  for (int d = 0; d < kDigits; ++d) {
    size_t* c = counts.data() + static_cast<size_t>(d) * kBuckets;
    const int shift = d * kBits;
    if (c[(key(src[0]) >> shift) & (kBuckets - 1)] == n) continue;  // every element shares this digit
    size_t total = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      const size_t count = c[b];
      c[b] = total;
      total += count;
    }
    for (size_t i = 0; i < n; ++i) dst[c[(key(src[i]) >> shift) & (kBuckets - 1)]++] = src[i];
    std::swap(src, dst);
  }
  if (src != v.data()) std::copy(src, src + n, v.data());
}

constexpr size_t kRadixThreshold = 1 << 16;

}  // namespace

void sort_values(std::vector<double>& values) {
  if (values.size() < kRadixThreshold) {
    std::sort(values.begin(), values.end());
  } else {
    radix_sort(values, [](double v) { return sort_key(v); });
  }
}

void sort_keys(std::vector<uint64_t>& keys) {
  if (keys.size() < kRadixThreshold) {
    std::sort(keys.begin(), keys.end());
  } else {
    radix_sort(keys, [](uint64_t k) { return k; });
  }
}

void sort_values(std::vector<WeightedValue>& values) {
  if (values.size() < kRadixThreshold) {
    std::sort(values.begin(), values.end(),
              [](const WeightedValue& a, const WeightedValue& b) { return a.value < b.value; });
  } else {
    radix_sort(values, [](const WeightedValue& v) { return sort_key(v.value); });
  }
}

double percentile_sorted(std::span<const double> sorted, double p) {
  clamp_percentile(p);
  if (sorted.empty()) return 0.0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return lerp(sorted[lo], sorted[hi], rank - static_cast<double>(lo));
}

double weighted_percentile_sorted(std::span<const WeightedValue> sorted, double p) {
  clamp_percentile(p);
  int64_t total = 0;
  for (const auto& v : sorted) {
    if (v.weight > 0) total += v.weight;
  }
  if (total == 0) return 0.0;
  const double rank = p / 100.0 * static_cast<double>(total - 1);
  const auto lo = static_cast<int64_t>(std::floor(rank));
  const int64_t hi = std::min<int64_t>(lo + 1, total - 1);
  // Value at expanded position `pos`: walk the cumulative weights (one pass finds both).
  double lo_value = 0;
  double hi_value = 0;
  int64_t cumulative = 0;
  bool have_lo = false;
  for (const auto& v : sorted) {
    if (v.weight <= 0) continue;
    cumulative += v.weight;
    if (!have_lo && lo < cumulative) {
      lo_value = v.value;
      have_lo = true;
    }
    if (hi < cumulative) {
      hi_value = v.value;
      break;
    }
  }
  return lerp(lo_value, hi_value, rank - static_cast<double>(lo));
}

double Distribution::at(double p) const {
  for (const auto& pv : percentiles) {
    if (pv.p == p) return pv.value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

Distribution describe(std::vector<double>& values, std::span<const double> percentiles) {
  Distribution d;
  const auto ps = unique_sorted(percentiles);
  d.percentiles.reserve(ps.size());
  if (values.empty()) {
    for (double p : ps) d.percentiles.push_back({p, 0.0});
    return d;
  }
  sort_values(values);
  d.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - d.mean) * (v - d.mean);
  d.stdev = std::sqrt(sq / static_cast<double>(values.size()));
  d.min = values.front();
  d.max = values.back();
  d.median = percentile_sorted(values, 50.0);
  for (double p : ps) d.percentiles.push_back({p, percentile_sorted(values, p)});
  return d;
}

Distribution describe_weighted(std::vector<WeightedValue>& values, std::span<const double> percentiles) {
  Distribution d;
  const auto ps = unique_sorted(percentiles);
  std::erase_if(values, [](const WeightedValue& v) { return v.weight <= 0; });
  if (values.empty()) {
    for (double p : ps) d.percentiles.push_back({p, 0.0});
    return d;
  }
  sort_values(values);
  int64_t total = 0;
  double sum = 0;
  for (const auto& v : values) {
    total += v.weight;
    sum += v.value * static_cast<double>(v.weight);
  }
  d.count = total;
  d.mean = sum / static_cast<double>(total);
  double sq = 0;
  for (const auto& v : values) sq += static_cast<double>(v.weight) * (v.value - d.mean) * (v.value - d.mean);
  d.stdev = std::sqrt(sq / static_cast<double>(total));
  d.min = values.front().value;
  d.max = values.back().value;
  d.median = weighted_percentile_sorted(values, 50.0);
  for (double p : ps) d.percentiles.push_back({p, weighted_percentile_sorted(values, p)});
  return d;
}

double student_t_cdf(double t, double df) {
  if (!(df > 0)) throw std::invalid_argument("degrees of freedom must be positive");
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  const double x = df / (df + t * t);
  const double tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, x);
  return t > 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double probability, double df) {
  if (!(probability > 0.0 && probability < 1.0)) throw std::invalid_argument("probability must be in (0, 1)");
  if (!(df > 0)) throw std::invalid_argument("degrees of freedom must be positive");
  if (probability == 0.5) return 0.0;
  if (probability < 0.5) return -student_t_quantile(1.0 - probability, df);
  // Bracket then bisect: the CDF is monotone; 200 halvings reach double precision.
  double lo = 0.0;
  double hi = 1.0;
  while (student_t_cdf(hi, df) < probability) {
    hi *= 2.0;
    if (hi > 1e300) return std::numeric_limits<double>::infinity();
  }
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (student_t_cdf(mid, df) < probability) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

SampleStats sample_stats(std::span<const double> values, double ci_level) {
  if (!(ci_level > 0.0 && ci_level < 1.0)) throw std::invalid_argument("confidence level must be in (0, 1)");
  SampleStats s;
  s.ci_level = ci_level;
  s.count = static_cast<int64_t>(values.size());
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  s.ci_low = kNaN;
  s.ci_high = kNaN;
  if (values.empty()) {
    s.mean = s.median = s.min = s.max = kNaN;
    return s;
  }
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  s.mean = sum / static_cast<double>(sorted.size());
  s.median = percentile_sorted(sorted, 50.0);
  s.min = sorted.front();
  s.max = sorted.back();
  if (sorted.size() >= 2) {
    double sq = 0;
    for (double v : sorted) sq += (v - s.mean) * (v - s.mean);
    const double n = static_cast<double>(sorted.size());
    s.stdev = std::sqrt(sq / (n - 1.0));
    const double t = student_t_quantile(0.5 + ci_level / 2.0, n - 1.0);
    const double half = t * s.stdev / std::sqrt(n);
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
  }
  return s;
}

Histogram histogram_sorted(std::span<const double> sorted, int bins) {
  Histogram h;
  if (sorted.empty() || bins <= 0) return h;
  const double lo = sorted.front();
  const double hi = sorted.back();
  h.edges.resize(static_cast<size_t>(bins) + 1);
  h.counts.assign(static_cast<size_t>(bins), 0);
  const double width = (hi - lo) / bins;
  for (int i = 0; i <= bins; ++i) h.edges[static_cast<size_t>(i)] = lo + width * i;
  h.edges.back() = hi;
  for (double v : sorted) {
    // numpy.histogram convention: bins are half-open except the last, which includes hi.
    auto idx = width > 0 ? static_cast<int64_t>((v - lo) / width) : 0;
    idx = std::clamp<int64_t>(idx, 0, bins - 1);
    ++h.counts[static_cast<size_t>(idx)];
  }
  return h;
}

std::vector<CdfPoint> cdf_points_sorted(std::span<const double> sorted, int max_points) {
  std::vector<CdfPoint> out;
  if (sorted.empty() || max_points <= 0) return out;
  const size_t n = sorted.size();
  const size_t points = std::min<size_t>(n, static_cast<size_t>(std::max(max_points, 2)));
  out.reserve(points);
  for (size_t k = 0; k < points; ++k) {
    // Evenly spaced ranks from the first to the last element.
    const size_t idx = points == 1 ? n - 1 : (k * (n - 1)) / (points - 1);
    // Fraction <= value counts ties: move to the last equal element.
    size_t last = idx;
    while (last + 1 < n && sorted[last + 1] == sorted[idx]) ++last;
    const CdfPoint p{sorted[idx], static_cast<double>(last + 1) / static_cast<double>(n)};
    if (!out.empty() && out.back().value == p.value) continue;
    out.push_back(p);
  }
  return out;
}

std::vector<double> bucket_sums(std::span<const TimedWeight> events, int64_t origin_ns, int64_t bucket_ns) {
  if (bucket_ns <= 0) throw std::invalid_argument("bucket width must be positive");
  std::vector<double> out;
  for (const auto& e : events) {
    if (e.t_ns < origin_ns) continue;
    const auto idx = static_cast<size_t>((e.t_ns - origin_ns) / bucket_ns);
    if (idx >= out.size()) out.resize(idx + 1, 0.0);
    out[idx] += e.weight;
  }
  return out;
}

std::vector<double> merge_percentiles(std::span<const double> user_percentiles) {
  std::vector<double> all{90.0, 95.0, 99.0, 99.9};
  all.insert(all.end(), user_percentiles.begin(), user_percentiles.end());
  return unique_sorted(all);
}

}  // namespace llmbench::metrics

#pragma once
// Statistics used by every summary: numpy-compatible percentiles, distributions, Student-t
// confidence intervals, histograms, CDF points and time bucketing. Pure functions, no I/O.
#include <cstdint>
#include <span>
#include <vector>

namespace llmbench::metrics {

// numpy.percentile(values, p) with the default "linear" method, on values sorted ascending.
// p in [0, 100]. Empty input gives 0 (as vLLM's `np.percentile(x or 0, p)`).
double percentile_sorted(std::span<const double> sorted, double p);

// A value with an integer weight; a weighted sample behaves like the value repeated weight times.
struct WeightedValue {
  double value = 0;
  int64_t weight = 0;
};
// numpy.percentile(np.repeat(values, weights), p) without expanding: `sorted` ascending by value,
// weights > 0 (zero weights are skipped). Empty or zero total weight gives 0.
double weighted_percentile_sorted(std::span<const WeightedValue> sorted, double p);

// Ascending sort; radix sort for large samples (NaN sorts after +inf, -NaN before -inf).
void sort_values(std::vector<double>& values);
void sort_values(std::vector<WeightedValue>& values);  // by value
void sort_keys(std::vector<uint64_t>& keys);

struct PercentileValue {
  double p = 0;  // in [0, 100]
  double value = 0;
};

// Summary of one sample. Means and standard deviations follow numpy (np.mean, np.std with ddof=0)
// so that values match `vllm bench serve`; an empty sample is all zeros with count 0, as vLLM's.
struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double stdev = 0;  // population standard deviation (numpy std, ddof = 0)
  double min = 0;
  double max = 0;
  double median = 0;
  std::vector<PercentileValue> percentiles;  // ascending p, as requested

  // The percentile computed for p (exact match), or NaN when p was not requested.
  double at(double p) const;
};

// Sorts `values` in place and describes them; `percentiles` in [0, 100] (duplicates dropped).
Distribution describe(std::vector<double>& values, std::span<const double> percentiles);
// Weighted version (each value counts weight times); sorts `values` in place by value.
Distribution describe_weighted(std::vector<WeightedValue>& values, std::span<const double> percentiles);

// Sample statistics for a small number of repeated measurements (single-request trials,
// --num-runs): sample standard deviation (ddof = 1) and a Student-t confidence interval of the mean.
struct SampleStats {
  int64_t count = 0;
  double mean = 0;
  double median = 0;
  double stdev = 0;     // sample standard deviation (ddof = 1); 0 when count < 2
  double ci_low = 0;    // mean - t * stdev / sqrt(n); NaN when count < 2
  double ci_high = 0;   // mean + t * stdev / sqrt(n); NaN when count < 2
  double ci_level = 0;  // e.g. 0.95
  double min = 0;
  double max = 0;
};
SampleStats sample_stats(std::span<const double> values, double ci_level = 0.95);

// Student's t distribution: CDF and quantile (inverse CDF) for `df` > 0 degrees of freedom.
double student_t_cdf(double t, double df);
double student_t_quantile(double probability, double df);

// Equal-width histogram of sorted values over [min, max]: bins + 1 edges, bins counts.
struct Histogram {
  std::vector<double> edges;
  std::vector<int64_t> counts;
};
Histogram histogram_sorted(std::span<const double> sorted, int bins);

// Points (value, cumulative fraction) of the empirical CDF of sorted values, at most max_points of
// them, always including the minimum and maximum; for plotting.
struct CdfPoint {
  double value = 0;
  double fraction = 0;  // fraction of the sample <= value
};
std::vector<CdfPoint> cdf_points_sorted(std::span<const double> sorted, int max_points);

// Sums `weight` of each (time, weight) event into buckets of bucket_ns starting at origin_ns.
// Events before origin_ns are dropped; the result has enough buckets for the last event.
struct TimedWeight {
  int64_t t_ns = 0;
  double weight = 0;
};
std::vector<double> bucket_sums(std::span<const TimedWeight> events, int64_t origin_ns, int64_t bucket_ns);

// The percentiles every summary reports ({90, 95, 99, 99.9}) merged with user ones, sorted, unique.
std::vector<double> merge_percentiles(std::span<const double> user_percentiles);

}  // namespace llmbench::metrics

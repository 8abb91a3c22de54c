#pragma once
// Parser for the Prometheus text exposition format 0.0.4 (what every inference server's /metrics
// answers), also accepting OpenMetrics 1.0's `# EOF`, exemplars and float-second timestamps.
//
// Pure and allocation-light: one pass over the text, no regular expressions. A malformed line is
// reported (1-based line number + reason) and skipped; the parser never throws on bad input.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::telemetry {

enum class MetricType : uint8_t { kUntyped, kCounter, kGauge, kHistogram, kSummary };
const char* to_string(MetricType type);

struct Label {
  std::string name;
  std::string value;  // unescaped
  bool operator==(const Label&) const = default;
};

struct Sample {
  std::string name;           // the sample's own name, e.g. "vllm:e2e_request_latency_seconds_bucket"
  std::vector<Label> labels;  // in exposition order
  double value = 0.0;
  std::optional<int64_t> timestamp_ms;
  size_t line = 0;  // 1-based

  // The value of label `name`, or nullptr.
  const std::string* label(std::string_view label_name) const;
};

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;  // unescaped
  bool has_type = false;
  bool has_help = false;
};

struct ParseIssue {
  size_t line = 0;  // 1-based
  std::string reason;
};

struct ParseOptions {
  size_t max_issues = 64;  // issues beyond this are counted in issues_dropped, not kept
};

struct Exposition {
  std::vector<Sample> samples;
  std::vector<MetricFamily> families;  // from # TYPE / # HELP lines, in order of appearance
  std::vector<ParseIssue> issues;
  size_t issues_dropped = 0;
  size_t lines = 0;
  bool saw_eof = false;                                     // OpenMetrics "# EOF"
  std::map<std::string, size_t, std::less<>> family_index;  // name -> index into families

  size_t issue_count() const { return issues.size() + issues_dropped; }
  // The family a sample belongs to: exact name first, then the name without a histogram/summary
  // (_bucket, _sum, _count) or counter (_total, _created) suffix. nullptr when undeclared.
  const MetricFamily* family_of(std::string_view sample_name) const;
  const MetricFamily* family(std::string_view family_name) const;
};

Exposition parse_prometheus_text(std::string_view text, const ParseOptions& options = {});

// Canonical series key: name{a="x",b="y"} with labels sorted by name and values re-escaped, so that
// the same series scraped twice gets the same key whatever the label order was.
std::string series_key(std::string_view name, const std::vector<Label>& labels);

// Metric and label name grammar of the format.
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

}  // namespace llmbench::telemetry

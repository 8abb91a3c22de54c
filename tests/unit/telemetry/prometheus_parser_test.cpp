#include "telemetry/prometheus_parser.h"

#include <gtest/gtest.h>

#include <cctype>

#include <cmath>

#include "test_data.h"

namespace llmbench::telemetry {
namespace {

using testing::read_sample;

const Sample* find(const Exposition& e, const std::string& name, const std::string& label = "",
                   const std::string& value = "") {
  for (const Sample& s : e.samples) {
    if (s.name != name) continue;
    if (label.empty()) return &s;
    const std::string* v = s.label(label);
    if (v != nullptr && *v == value) return &s;
  }
  return nullptr;
}

std::string issues_text(const Exposition& e) {
  std::string out;
  for (const ParseIssue& i : e.issues) out += std::to_string(i.line) + ": " + i.reason + "\n";
  return out;
}

TEST(PrometheusParser, HelpTypeAndSamples) {
  Exposition e = parse_prometheus_text(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# A normal comment.\n"
      "metric_without_timestamp_and_labels 12.47\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  ASSERT_EQ(e.samples.size(), 3u);
  EXPECT_EQ(e.samples[0].name, "http_requests_total");
  ASSERT_EQ(e.samples[0].labels.size(), 2u);
  EXPECT_EQ(e.samples[0].labels[0], (Label{"method", "post"}));
  EXPECT_EQ(e.samples[0].labels[1], (Label{"code", "200"}));
  EXPECT_EQ(e.samples[0].value, 1027);
  EXPECT_EQ(e.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(e.samples[0].line, 3u);
  EXPECT_EQ(e.samples[1].value, 3);
  EXPECT_FALSE(e.samples[2].timestamp_ms.has_value());
  EXPECT_DOUBLE_EQ(e.samples[2].value, 12.47);
  const MetricFamily* f = e.family("http_requests_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kCounter);
  EXPECT_EQ(f->help, "The total number of HTTP requests.");
  EXPECT_EQ(e.lines, 7u);
}

TEST(PrometheusParser, NamesWithColonsAndEscapedLabelValues) {
  Exposition e = parse_prometheus_text(
      "# HELP vllm:x Help with \\\\ backslash and \\n newline.\n"
      "vllm:x{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  ASSERT_EQ(e.samples.size(), 1u);
  EXPECT_EQ(e.samples[0].name, "vllm:x");
  EXPECT_EQ(*e.samples[0].label("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(*e.samples[0].label("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_DOUBLE_EQ(e.samples[0].value, 1.458255915e9);
  EXPECT_EQ(e.family("vllm:x")->help, "Help with \\ backslash and \n newline.");
}

TEST(PrometheusParser, SpecialValuesAndExponents) {
  Exposition e =
      parse_prometheus_text("a NaN\nb +Inf\nc -Inf\nd 1e3\ne -1.5E-3\nf Inf\ng nan\nh +12\ni .5\nj 0\nk -0\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  ASSERT_EQ(e.samples.size(), 11u);
  EXPECT_TRUE(std::isnan(e.samples[0].value));
  EXPECT_TRUE(std::isinf(e.samples[1].value) && e.samples[1].value > 0);
  EXPECT_TRUE(std::isinf(e.samples[2].value) && e.samples[2].value < 0);
  EXPECT_EQ(e.samples[3].value, 1000.0);
  EXPECT_DOUBLE_EQ(e.samples[4].value, -0.0015);
  EXPECT_TRUE(std::isinf(e.samples[5].value));
  EXPECT_TRUE(std::isnan(e.samples[6].value));
  EXPECT_EQ(e.samples[7].value, 12.0);
  EXPECT_EQ(e.samples[8].value, 0.5);
}

TEST(PrometheusParser, TimestampsIntegerMillisecondsOrOpenMetricsSeconds) {
  Exposition e = parse_prometheus_text("a 1 -1000\nb 2 1700000000.5\nc 3 1.7e9\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  ASSERT_EQ(e.samples.size(), 3u);
  EXPECT_EQ(e.samples[0].timestamp_ms, -1000);
  EXPECT_EQ(e.samples[1].timestamp_ms, 1700000000500);
  EXPECT_EQ(e.samples[2].timestamp_ms, 1700000000000);
}

TEST(PrometheusParser, HistogramAndSummaryFamilies) {
  Exposition e = parse_prometheus_text(
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
      "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n"
      "# TYPE lat histogram\n"
      "lat_bucket{le=\"0.05\"} 24054\n"
      "lat_bucket{le=\"+Inf\"} 144320\n"
      "lat_sum 53423\n"
      "lat_count 144320\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  EXPECT_EQ(e.samples.size(), 8u);
  ASSERT_NE(e.family_of("lat_bucket"), nullptr);
  EXPECT_EQ(e.family_of("lat_bucket")->type, MetricType::kHistogram);
  EXPECT_EQ(e.family_of("lat_count")->name, "lat");
  EXPECT_EQ(e.family_of("rpc_duration_seconds")->type, MetricType::kSummary);
  EXPECT_EQ(e.family_of("unknown_metric"), nullptr);
  EXPECT_EQ(*find(e, "lat_bucket", "le", "+Inf")->label("le"), "+Inf");
}

TEST(PrometheusParser, BucketWithoutLeAndQuantileMissingAreReported) {
  Exposition e = parse_prometheus_text(
      "# TYPE lat histogram\nlat_bucket 3\nlat_bucket{le=\"x\"} 3\nlat_sum 1\n"
      "# TYPE s summary\ns 4\n");
  ASSERT_EQ(e.issues.size(), 3u) << issues_text(e);
  EXPECT_EQ(e.issues[0].line, 2u);
  EXPECT_EQ(e.issues[1].line, 3u);
  EXPECT_EQ(e.issues[2].line, 6u);
  ASSERT_EQ(e.samples.size(), 1u);
  EXPECT_EQ(e.samples[0].name, "lat_sum");
}

TEST(PrometheusParser, BlankLinesCrlfLeadingBlanksAndTrailingComma) {
  Exposition e = parse_prometheus_text("\r\n  # TYPE g gauge\r\n\t g{a=\"1\",} 5\r\n\r\ng {b = \"2\" } 6\r\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  ASSERT_EQ(e.samples.size(), 2u);
  EXPECT_EQ(e.samples[0].value, 5);
  EXPECT_EQ(*e.samples[0].label("a"), "1");
  EXPECT_EQ(*e.samples[1].label("b"), "2");
  EXPECT_EQ(e.family("g")->type, MetricType::kGauge);
}

TEST(PrometheusParser, MalformedLinesAreReportedWithLineNumbersAndSkipped) {
  const char* text =
      "good_one 1\n"                     // 1
      "missing_value\n"                  // 2
      "bad{a=\"x} 1\n"                   // 3 unterminated value
      "bad{a=x} 1\n"                     // 4 unquoted
      "bad{a=\"1\",a=\"2\"} 1\n"         // 5 duplicate label
      "bad{a=\"\\q\"} 1\n"               // 6 invalid escape
      "bad 1 2 3\n"                      // 7 trailing text
      "bad 1.2.3\n"                      // 8 invalid value
      "bad 1e999\n"                      // 9 out of range
      "9bad 1\n"                         // 10 invalid name
      "# TYPE t bogus\n"                 // 11 unknown type
      "bad-name 1\n"                     // 12 invalid character
      "bad{1a=\"x\"} 1\n"                // 13 invalid label name
      "bad 1 notatime\n"                 // 14 invalid timestamp
      "bad{a=\"1\" b=\"2\"} 1\n"         // 15 missing comma
      "<html><body>502</body></html>\n"  // 16 not an exposition
      "good_two{x=\"y\"} 2\n";           // 17
  Exposition e = parse_prometheus_text(text);
  ASSERT_EQ(e.samples.size(), 2u);
  EXPECT_EQ(e.samples[0].name, "good_one");
  EXPECT_EQ(e.samples[1].name, "good_two");
  std::vector<size_t> lines;
  for (const ParseIssue& i : e.issues) {
    lines.push_back(i.line);
    EXPECT_FALSE(i.reason.empty());
  }
  EXPECT_EQ(lines, (std::vector<size_t>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})) << issues_text(e);
  EXPECT_NE(e.issues[3].reason.find("duplicate"), std::string::npos);
  EXPECT_NE(e.issues[7].reason.find("range"), std::string::npos);
}

TEST(PrometheusParser, SecondTypeOrHelpIsReportedAndFirstKept) {
  Exposition e = parse_prometheus_text("# TYPE a gauge\n# TYPE a counter\n# HELP a one\n# HELP a two\na 1\n");
  EXPECT_EQ(e.issues.size(), 2u);
  EXPECT_EQ(e.family("a")->type, MetricType::kGauge);
  EXPECT_EQ(e.family("a")->help, "one");
}

TEST(PrometheusParser, OpenMetricsEofAndExemplars) {
  Exposition e = parse_prometheus_text(
      "# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n# EOF\n");
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  EXPECT_TRUE(e.saw_eof);
  ASSERT_EQ(e.samples.size(), 1u);
  EXPECT_EQ(e.samples[0].timestamp_ms, 1520879607789);
  EXPECT_EQ(e.family_of("foo_total")->type, MetricType::kCounter);

  Exposition after = parse_prometheus_text("a 1\n# EOF\nb 2\n");
  EXPECT_TRUE(after.saw_eof);
  ASSERT_EQ(after.samples.size(), 1u);
  ASSERT_EQ(after.issues.size(), 1u);
  EXPECT_EQ(after.issues[0].line, 3u);
}

TEST(PrometheusParser, EmptyAndCommentOnlyInput) {
  EXPECT_TRUE(parse_prometheus_text("").samples.empty());
  Exposition e = parse_prometheus_text("# just a comment\n#\n# HELP\n");
  EXPECT_TRUE(e.samples.empty());
  EXPECT_EQ(e.issues.size(), 1u);  // "# HELP" without a name
}

TEST(PrometheusParser, IssueListIsCappedButCounted) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "garbage line\n";
  Exposition e = parse_prometheus_text(text, ParseOptions{10});
  EXPECT_EQ(e.issues.size(), 10u);
  EXPECT_EQ(e.issue_count(), 500u);
}

TEST(PrometheusParser, SeriesKeyIsCanonical) {
  std::vector<Label> a = {{"b", "2"}, {"a", "x\"y"}};
  std::vector<Label> b = {{"a", "x\"y"}, {"b", "2"}};
  EXPECT_EQ(series_key("m", a), "m{a=\"x\\\"y\",b=\"2\"}");
  EXPECT_EQ(series_key("m", a), series_key("m", b));
  EXPECT_EQ(series_key("m", {}), "m");
  EXPECT_TRUE(is_valid_metric_name("vllm:kv_cache_usage_perc"));
  EXPECT_FALSE(is_valid_metric_name("9x"));
  EXPECT_TRUE(is_valid_label_name("_le"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
}

struct SampleFile {
  const char* file;
  size_t min_samples;
};

class SampleExpositions : public ::testing::TestWithParam<SampleFile> {};

TEST_P(SampleExpositions, ParseCleanly) {
  std::string text = read_sample(GetParam().file);
  Exposition e = parse_prometheus_text(text);
  EXPECT_TRUE(e.issues.empty()) << issues_text(e);
  EXPECT_GE(e.samples.size(), GetParam().min_samples);
  for (const Sample& s : e.samples) EXPECT_TRUE(is_valid_metric_name(s.name)) << s.name;
  // Every sample of these servers belongs to a declared family, except TGI's (TYPE only) which
  // still declares each family.
  for (const Sample& s : e.samples) EXPECT_NE(e.family_of(s.name), nullptr) << s.name;
  // CRLF line ends change nothing.
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  Exposition e2 = parse_prometheus_text(crlf);
  EXPECT_TRUE(e2.issues.empty()) << issues_text(e2);
  ASSERT_EQ(e2.samples.size(), e.samples.size());
  for (size_t i = 0; i < e.samples.size(); ++i) {
    EXPECT_EQ(e2.samples[i].labels, e.samples[i].labels);
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, SampleExpositions,
                         ::testing::Values(SampleFile{"vllm_v1.txt", 35}, SampleFile{"vllm_v0.txt", 12},
                                           SampleFile{"sglang.txt", 15}, SampleFile{"tgi.txt", 30},
                                           SampleFile{"llamacpp.txt", 12}),
                         // Stable test names (ctest discovers them at build time and runs them by name).
                         [](const ::testing::TestParamInfo<SampleFile>& info) {
                           std::string name = info.param.file;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(PrometheusParser, VllmSampleDetails) {
  Exposition e = parse_prometheus_text(read_sample("vllm_v1.txt"));
  const Sample* kv = find(e, "vllm:kv_cache_usage_perc");
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ(kv->value, 0.4375);
  EXPECT_EQ(*kv->label("model_name"), "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(*kv->label("engine"), "0");
  EXPECT_EQ(e.family_of("vllm:prompt_tokens_created")->type, MetricType::kGauge);
  EXPECT_EQ(e.family_of("vllm:time_to_first_token_seconds_bucket")->type, MetricType::kHistogram);
  const Sample* inf = find(e, "vllm:time_to_first_token_seconds_bucket", "le", "+Inf");
  ASSERT_NE(inf, nullptr);
  EXPECT_EQ(inf->value, 40.0);
}

}  // namespace
}  // namespace llmbench::telemetry

#include "telemetry/prometheus_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace llmbench::telemetry {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// A cursor over one line (no '\n', '\r' already removed).
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return s[i]; }
  void skip_blanks() {
    while (i < s.size() && is_blank(s[i])) ++i;
  }
  std::string_view token() {  // up to the next blank or end
    size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    return s.substr(start, i - start);
  }
  std::string_view metric_name() {
    size_t start = i;
    if (i < s.size() && (is_name_start(s[i]) || s[i] == ':')) {
      ++i;
      while (i < s.size() && (is_name_char(s[i]) || s[i] == ':')) ++i;
    }
    return s.substr(start, i - start);
  }
  std::string_view label_name() {
    size_t start = i;
    if (i < s.size() && is_name_start(s[i])) {
      ++i;
      while (i < s.size() && is_name_char(s[i])) ++i;
    }
    return s.substr(start, i - start);
  }
};

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Go's strconv.ParseFloat semantics as Prometheus uses them: decimal or exponent notation, an
// optional sign, and Inf/+Inf/-Inf/NaN in any case. Out-of-range values are errors.
bool parse_value(std::string_view token, double* out, const char** why) {
  if (token.empty()) {
    *why = "missing value";
    return false;
  }
  bool negative = false;
  std::string_view body = token;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (equals_ignore_case(body, "inf") || equals_ignore_case(body, "infinity")) {
    *out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (equals_ignore_case(body, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') {
    *why = "invalid value";
    return false;
  }
  // from_chars would accept "nan(...)" and "inf" spellings we handled above; reject anything that
  // is not a plain number from here on.
  for (char c : body) {
    bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    if (!ok) {
      *why = "invalid value";
      return false;
    }
  }
  double v = 0.0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    *why = "value out of range";
    return false;
  }
  if (ec != std::errc() || ptr != body.data() + body.size()) {
    *why = "invalid value";
    return false;
  }
  *out = negative ? -v : v;
  return true;
}

// 0.0.4: integer milliseconds. OpenMetrics: float seconds (recognized by a '.' or exponent).
bool parse_timestamp(std::string_view token, int64_t* out_ms, const char** why) {
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), ms);
  if (ec == std::errc() && ptr == token.data() + token.size()) {
    *out_ms = ms;
    return true;
  }
  double seconds = 0.0;
  const char* value_why = nullptr;
  if (token.find_first_of(".eE") != std::string_view::npos && parse_value(token, &seconds, &value_why) &&
      std::isfinite(seconds) && std::fabs(seconds) < 9.2e15) {
    *out_ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
    return true;
  }
  *why = "invalid timestamp";
  return false;
}

// HELP text escapes: "\\" and "\n"; any other backslash is kept as is.
std::string unescape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '\\' || text[i + 1] == 'n')) {
      out.push_back(text[i + 1] == 'n' ? '\n' : '\\');
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool parse_type_name(std::string_view text, MetricType* type) {
  if (text == "counter") {
    *type = MetricType::kCounter;
  } else if (text == "gauge") {
    *type = MetricType::kGauge;
  } else if (text == "histogram" || text == "gaugehistogram") {
    *type = MetricType::kHistogram;
  } else if (text == "summary") {
    *type = MetricType::kSummary;
  } else if (text == "untyped" || text == "unknown" || text == "info" || text == "stateset") {
    *type = MetricType::kUntyped;  // OpenMetrics' info/stateset are gauge-like series of 0/1
  } else {
    return false;
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

class Parser {
 public:
  Parser(const ParseOptions& options, Exposition* out) : options_(options), out_(out) {}

  void issue(size_t line, std::string reason) {
    if (out_->issues.size() < options_.max_issues) {
      out_->issues.push_back(ParseIssue{line, std::move(reason)});
    } else {
      ++out_->issues_dropped;
    }
  }

  MetricFamily& family_for(std::string_view name) {
    auto it = out_->family_index.find(name);
    if (it != out_->family_index.end()) return out_->families[it->second];
    out_->family_index.emplace(std::string(name), out_->families.size());
    out_->families.push_back(MetricFamily{std::string(name)});
    return out_->families.back();
  }

  void comment_line(std::string_view line, size_t number) {
    Cursor c{line, 1};  // past '#'
    c.skip_blanks();
    std::string_view keyword = c.token();
    if (keyword == "EOF" && (c.skip_blanks(), c.done())) {
      out_->saw_eof = true;
      return;
    }
    if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
    c.skip_blanks();
    std::string_view name = c.metric_name();
    if (name.empty() || (!c.done() && !is_blank(c.peek()))) {
      issue(number, std::string("invalid metric name in # ") + std::string(keyword));
      return;
    }
    c.skip_blanks();
    std::string_view rest = c.s.substr(c.i);
    MetricFamily& family = family_for(name);
    if (keyword == "HELP") {
      if (family.has_help) {
        issue(number, "second # HELP for " + std::string(name));
        return;
      }
      family.help = unescape_help(rest);
      family.has_help = true;
      return;
    }
    while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);
    MetricType type{};
    if (!parse_type_name(rest, &type)) {
      issue(number, "unknown metric type '" + std::string(rest.substr(0, 32)) + "'");
      return;
    }
    if (family.has_type) {
      issue(number, "second # TYPE for " + std::string(name));
      return;
    }
    family.type = type;
    family.has_type = true;
  }

  // Reads `"value"` starting at the opening quote, unescaping \\ \" \n.
  bool label_value(Cursor& c, std::string* value, size_t number) {
    ++c.i;  // opening quote
    while (!c.done()) {
      // Copy the run up to the next quote or backslash in one go.
      size_t run_end = c.s.find_first_of("\"\\", c.i);
      if (run_end == std::string_view::npos) run_end = c.s.size();
      value->append(c.s.data() + c.i, run_end - c.i);
      c.i = run_end;
      if (c.done()) break;
      char ch = c.s[c.i++];
      if (ch == '"') return true;
      if (ch == '\\') {
        if (c.done()) break;
        char esc = c.s[c.i++];
        if (esc == '\\' || esc == '"') {
          value->push_back(esc);
        } else if (esc == 'n') {
          value->push_back('\n');
        } else {
          issue(number, std::string("invalid escape sequence '\\") + esc + "' in label value");
          return false;
        }
      } else {
        value->push_back(ch);
      }
    }
    issue(number, "unterminated label value");
    return false;
  }

  bool labels(Cursor& c, std::vector<Label>* labels, size_t number) {
    ++c.i;  // '{'
    while (true) {
      c.skip_blanks();
      if (c.done()) {
        issue(number, "unterminated label set");
        return false;
      }
      if (c.peek() == '}') {
        ++c.i;
        return true;
      }
      std::string_view name = c.label_name();
      if (name.empty()) {
        issue(number, "invalid label name");
        return false;
      }
      for (const Label& existing : *labels) {
        if (existing.name == name) {
          issue(number, "duplicate label '" + std::string(name) + "'");
          return false;
        }
      }
      c.skip_blanks();
      if (c.done() || c.peek() != '=') {
        issue(number, "expected '=' after label name '" + std::string(name) + "'");
        return false;
      }
      ++c.i;
      c.skip_blanks();
      if (c.done() || c.peek() != '"') {
        issue(number, "expected '\"' to open the value of label '" + std::string(name) + "'");
        return false;
      }
      Label label{std::string(name), {}};
      if (!label_value(c, &label.value, number)) return false;
      labels->push_back(std::move(label));
      c.skip_blanks();
      if (c.done()) {
        issue(number, "unterminated label set");
        return false;
      }
      if (c.peek() == ',') {
        ++c.i;
      } else if (c.peek() != '}') {
        issue(number, "expected ',' or '}' after a label");
        return false;
      }
    }
  }

  void sample_line(std::string_view line, size_t number) {
    Cursor c{line, 0};
    std::string_view name = c.metric_name();
    if (name.empty()) {
      issue(number, "invalid metric name");
      return;
    }
    Sample sample;
    sample.name = std::string(name);
    sample.labels.reserve(4);
    sample.line = number;
    size_t after_name = c.i;
    c.skip_blanks();
    if (!c.done() && c.peek() == '{') {
      if (!labels(c, &sample.labels, number)) return;
      c.skip_blanks();  // like Prometheus' own parser, "name{...}1" needs no blank before the value
    } else if (c.i == after_name && !c.done()) {
      issue(number, "invalid character after metric name");
      return;
    }
    if (c.done()) {
      issue(number, "missing value");
      return;
    }
    const char* why = nullptr;
    if (!parse_value(c.token(), &sample.value, &why)) {
      issue(number, why);
      return;
    }
    c.skip_blanks();
    if (!c.done() && c.peek() != '#') {
      int64_t ts = 0;
      if (!parse_timestamp(c.token(), &ts, &why)) {
        issue(number, why);
        return;
      }
      sample.timestamp_ms = ts;
      c.skip_blanks();
    }
    // What may follow is an OpenMetrics exemplar (" # {...} value [ts]"), which we ignore.
    if (!c.done() && c.peek() != '#') {
      issue(number, "unexpected text after the sample");
      return;
    }
    if (!check_histogram_labels(sample, number)) return;
    out_->samples.push_back(std::move(sample));
  }

  bool check_histogram_labels(const Sample& sample, size_t number) {
    const MetricFamily* family = out_->family_of(sample.name);
    if (family == nullptr) return true;
    const char* needed = nullptr;
    if (family->type == MetricType::kHistogram && ends_with(sample.name, "_bucket") &&
        sample.name.size() == family->name.size() + 7) {
      needed = "le";
    } else if (family->type == MetricType::kSummary && sample.name == family->name) {
      needed = "quantile";
    }
    if (needed == nullptr) return true;
    const std::string* bound = sample.label(needed);
    double ignored = 0.0;
    const char* why = nullptr;
    if (bound == nullptr) {
      issue(number, std::string("missing '") + needed + "' label");
      return false;
    }
    if (!parse_value(*bound, &ignored, &why)) {
      issue(number, std::string("invalid '") + needed + "' label value");
      return false;
    }
    return true;
  }

  void run(std::string_view text) {
    size_t number = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (out_->saw_eof) {
        bool blank = std::all_of(line.begin(), line.end(), is_blank);
        if (!blank) {
          issue(number, "content after # EOF");
          break;
        }
        continue;
      }
      size_t first = 0;
      while (first < line.size() && is_blank(line[first])) ++first;
      line.remove_prefix(first);
      if (line.empty()) continue;
      if (line[0] == '#') {
        comment_line(line, number);
      } else {
        sample_line(line, number);
      }
    }
    out_->lines = number;
  }

 private:
  const ParseOptions& options_;
  Exposition* out_;
};

}  // namespace

const char* to_string(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kUntyped:
      break;
  }
  return "untyped";
}

const std::string* Sample::label(std::string_view label_name) const {
  for (const Label& l : labels) {
    if (l.name == label_name) return &l.value;
  }
  return nullptr;
}

const MetricFamily* Exposition::family(std::string_view family_name) const {
  auto it = family_index.find(family_name);
  return it == family_index.end() ? nullptr : &families[it->second];
}

const MetricFamily* Exposition::family_of(std::string_view sample_name) const {
  if (const MetricFamily* exact = family(sample_name)) return exact;
  for (std::string_view suffix : {"_bucket", "_sum", "_count", "_total", "_created", "_gsum", "_gcount"}) {
    if (ends_with(sample_name, suffix)) {
      if (const MetricFamily* f = family(sample_name.substr(0, sample_name.size() - suffix.size()))) return f;
    }
  }
  return nullptr;
}

Exposition parse_prometheus_text(std::string_view text, const ParseOptions& options) {
  Exposition out;
  out.samples.reserve(text.size() / 64);  // a typical sample line is longer than 64 bytes
  Parser parser(options, &out);
  parser.run(text);
  return out;
}

std::string series_key(std::string_view name, const std::vector<Label>& labels) {
  std::string key(name);
  if (labels.empty()) return key;
  std::vector<const Label*> sorted;
  sorted.reserve(labels.size());
  for (const Label& l : labels) sorted.push_back(&l);
  std::sort(sorted.begin(), sorted.end(), [](const Label* a, const Label* b) { return a->name < b->name; });
  key.push_back('{');
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) key.push_back(',');
    key += sorted[i]->name;
    key += "=\"";
    for (char ch : sorted[i]->value) {
      if (ch == '\\' || ch == '"') {
        key.push_back('\\');
        key.push_back(ch);
      } else if (ch == '\n') {
        key += "\\n";
      } else {
        key.push_back(ch);
      }
    }
    key.push_back('"');
  }
  key.push_back('}');
  return key;
}

bool is_valid_metric_name(std::string_view name) {
  Cursor c{name, 0};
  return !name.empty() && c.metric_name().size() == name.size();
}

bool is_valid_label_name(std::string_view name) {
  Cursor c{name, 0};
  return !name.empty() && c.label_name().size() == name.size();
}

}  // namespace llmbench::telemetry

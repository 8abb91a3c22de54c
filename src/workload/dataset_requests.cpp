#include "workload/dataset_requests.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace llmbench::workload {
namespace {

std::string join_messages(const std::vector<net::ChatMessage>& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += '\n';
    out += m.content;
  }
  return out;
}

struct LenStats {
  double mean = 0;
  int64_t min = 0;
  int64_t max = 0;
};

template <typename F>
LenStats len_stats(const std::vector<WorkloadItem>& items, F get) {
  LenStats s;
  if (items.empty()) return s;
  s.min = std::numeric_limits<int64_t>::max();
  s.max = std::numeric_limits<int64_t>::min();
  double sum = 0;
  for (const auto& it : items) {
    const int64_t v = get(it);
    sum += static_cast<double>(v);
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  s.mean = sum / static_cast<double>(items.size());
  return s;
}

}  // namespace

std::vector<RequestSpec> build_dataset_requests(const Dataset& dataset, ApiBackend backend, const std::string& endpoint,
                                                const BodyOptions& base, const tokenizer::Tokenizer& tokenizer) {
  const net::ApiDialect dialect = to_dialect(backend);
  const std::string target = endpoint.empty() ? default_endpoint(backend) : endpoint;
  std::vector<RequestSpec> specs;
  specs.reserve(dataset.items.size());
  for (const auto& item : dataset.items) {
    net::GenerationRequest request;
    request.model = base.model;
    request.max_tokens = item.max_tokens > 0 ? item.max_tokens : base.max_tokens;
    request.ignore_eos = base.ignore_eos;
    request.temperature = base.temperature;
    request.seed = base.seed;
    request.stream = true;
    request.continuous_usage = base.stream_usage;
    request.extra_body_json = base.extra_body_json;
    bool exact_count = false;
    if (backend == ApiBackend::kOpenAiChat) {
      if (!item.messages.empty()) {
        request.messages = item.messages;
      } else {
        request.prompt = item.token_ids.empty() ? item.text : tokenizer.decode(item.token_ids);
      }
    } else if (!item.token_ids.empty() && accepts_token_id_prompt(backend)) {
      request.prompt_token_ids = item.token_ids;
      exact_count = true;
    } else if (!item.token_ids.empty()) {
      request.prompt = tokenizer.decode(item.token_ids);
    } else if (!item.messages.empty()) {
      request.prompt = join_messages(item.messages);
    } else {
      request.prompt = item.text;
      exact_count = true;  // counted with the tokenizer (the server's may add BOS)
    }
    net::HttpRequest http;
    std::string error;
    if (!net::build_request(dialect, request, &http, &error)) throw std::invalid_argument("--extra-body: " + error);
    RequestSpec spec;
    spec.body = std::move(http.body);
    spec.target = target;
    spec.max_tokens = request.max_tokens;
    spec.prompt_tokens_sent = exact_count ? item.prompt_len : 0;
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<int64_t> trace_offsets_ns(const Dataset& dataset) {
  std::vector<int64_t> out;
  if (dataset.items.empty() || !dataset.items.front().timestamp_s) return out;
  const double t0 = *dataset.items.front().timestamp_s;
  out.reserve(dataset.items.size());
  int64_t last = 0;
  for (const auto& item : dataset.items) {
    if (!item.timestamp_s) return {};
    last = std::max(last, static_cast<int64_t>((*item.timestamp_s - t0) * 1e9));
    out.push_back(last);
  }
  return out;
}

nlohmann::json describe_dataset(const Dataset& ds, const DatasetOptions& o, const std::string& tokenizer_name) {
  const auto in = len_stats(ds.items, [](const WorkloadItem& it) { return it.prompt_len; });
  const auto out = len_stats(ds.items, [](const WorkloadItem& it) { return it.max_tokens; });
  nlohmann::json j = {{"dataset_name", to_string(ds.kind)}, {"num_items", ds.items.size()},
                      {"tokenizer", tokenizer_name},        {"input_len_counted_by", ds.length_source},
                      {"achieved_input_len_mean", in.mean}, {"achieved_input_len_min", in.min},
                      {"achieved_input_len_max", in.max},   {"output_len_mean", out.mean},
                      {"output_len_min", out.min},          {"output_len_max", out.max},
                      {"skipped_lines", ds.skipped},        {"filtered", ds.filtered},
                      {"oversampled", ds.oversampled},      {"seed", o.seed}};
  if (!o.path.empty() && (o.kind == DatasetKind::kJsonl || o.kind == DatasetKind::kShareGpt)) {
    j["dataset_path"] = o.path;
  }
  const bool requested = std::any_of(ds.items.begin(), ds.items.end(),
                                     [](const WorkloadItem& it) { return it.requested_prompt_len >= 0; });
  if (requested) {
    const auto req = len_stats(ds.items, [](const WorkloadItem& it) { return it.requested_prompt_len; });
    int64_t exact = 0;
    for (const auto& it : ds.items) exact += it.prompt_len == it.requested_prompt_len;
    j["requested_input_len"] =
        o.kind == DatasetKind::kRandom ? o.random_prefix_len + o.input_len : o.prefix_len + o.suffix_len;
    j["requested_input_len_mean"] = req.mean;
    j["requested_input_len_min"] = req.min;
    j["requested_input_len_max"] = req.max;
    j["exact_input_len_fraction"] = ds.items.empty() ? 0.0 : static_cast<double>(exact) / ds.items.size();
    j["prompt_kind"] =
        ds.items.front().token_ids.empty() ? (ds.items.front().messages.empty() ? "text" : "messages") : "token_ids";
  }
  if (o.kind == DatasetKind::kRandom) {
    j["random_input_len"] = o.input_len;
    j["random_output_len"] = o.output_len;
    j["random_range_ratio"] = o.range_ratio;
    j["random_prefix_len"] = o.random_prefix_len;
  } else if (o.kind == DatasetKind::kPrefix) {
    j["prefix_len"] = o.prefix_len;
    j["suffix_len"] = o.suffix_len;
    j["num_prefixes"] = o.num_prefixes;
    j["num_turns"] = o.num_turns;
  }
  nlohmann::json bad = nlohmann::json::array();
  for (const auto& b : ds.bad_lines) bad.push_back({{"line", b.line}, {"error", b.message}});
  j["bad_lines"] = std::move(bad);
  return j;
}

std::string dataset_summary_line(const Dataset& ds, const DatasetOptions& o) {
  const auto in = len_stats(ds.items, [](const WorkloadItem& it) { return it.prompt_len; });
  const auto out = len_stats(ds.items, [](const WorkloadItem& it) { return it.max_tokens; });
  std::string line = fmt::format("Dataset: {}, {} prompts", to_string(ds.kind), ds.items.size());
  const bool requested = !ds.items.empty() && ds.items.front().requested_prompt_len >= 0;
  if (requested && o.kind == DatasetKind::kRandom) {
    const auto range = length_range(o.input_len, o.range_ratio, 0);
    const int32_t lo = o.random_prefix_len + range.low, hi = o.random_prefix_len + range.high;
    line += lo == hi ? fmt::format(", input {} tokens requested", lo)
                     : fmt::format(", input {}..{} tokens requested", lo, hi);
  }
  line += fmt::format(", input {:.1f} tokens achieved (min {}, max {}; counted by {}), output {:.1f} (min {}, max {})",
                      in.mean, in.min, in.max, ds.length_source == "server" ? "the server" : ds.length_source, out.mean,
                      out.min, out.max);
  if (ds.skipped) line += fmt::format("; {} malformed lines skipped", ds.skipped);
  if (ds.filtered) line += fmt::format("; {} entries filtered by length", ds.filtered);
  if (ds.oversampled) line += fmt::format("; {} oversampled", ds.oversampled);
  return line;
}

}  // namespace llmbench::workload

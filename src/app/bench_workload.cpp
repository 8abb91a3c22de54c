#include "app/bench_workload.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "metrics/summary.h"
#include "net/tokenize_api.h"
#include "report/result_json.h"
#include "workload/dataset.h"
#include "workload/dataset_requests.h"
#include "workload/request_body.h"
#include "workload/server_realign.h"
#include "workload/synthetic_prompts.h"

namespace llmbench::app {

std::shared_ptr<const tokenizer::Tokenizer> load_bench_tokenizer(const std::string& path) {
  if (path.empty()) return tokenizer::Tokenizer::gpt2();
  namespace fs = std::filesystem;
  std::error_code ec;
  try {
    if (fs::is_directory(path, ec)) return tokenizer::Tokenizer::from_model_dir(path);
    if (fs::is_regular_file(path, ec)) return tokenizer::Tokenizer::from_tokenizer_json(path);
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("--tokenizer: cannot load '{}': {}", path, e.what()));
  }
  // A hub name (as vLLM takes) cannot be fetched: say so and count with GPT-2's vocabulary.
  fmt::print(stderr,
             "llmbench: warning: --tokenizer '{}' is not a local folder or tokenizer.json (llmbench never downloads); "
             "prompt lengths are counted with GPT-2's built-in vocabulary\n",
             path);
  return tokenizer::Tokenizer::gpt2();
}

namespace {

// --tokenize-via-server: finds the server's tokenize format, then realigns every text prompt to
// the server's own count. Returns llmbench.workload.tokenize_via_server. Throws UsageError when
// the server cannot count (no endpoint, unreachable, errors) and, with --on-bad-line error, when a
// prompt could not be made exact.
nlohmann::json realign_through_server(const BenchPlan& plan, workload::Dataset& ds, const tokenizer::Tokenizer& tok) {
  using net::TokenizeFormat;
  net::TokenizeClientOptions to;
  to.base_url = plan.base_url;
  to.client = plan.load.client;
  to.model = plan.synthetic.model;
  to.chat = plan.synthetic.backend == workload::ApiBackend::kOpenAiChat;
  std::vector<TokenizeFormat> order;
  if (plan.tokenize_format) {
    order = {*plan.tokenize_format};
  } else if (to.chat) {
    order = {TokenizeFormat::kVllm};  // the only format with a chat form
  } else if (plan.synthetic.backend == workload::ApiBackend::kTgi) {
    order = {TokenizeFormat::kTgi, TokenizeFormat::kVllm, TokenizeFormat::kLlamaCpp};
  } else {
    order = {TokenizeFormat::kVllm, TokenizeFormat::kLlamaCpp, TokenizeFormat::kTgi};
  }
  const std::string where = net::TokenizeClient(to, order.front()).url();
  const auto probe = net::TokenizeClient::probe(to, order);
  if (!probe.format) {
    if (probe.unreachable) {
      throw UsageError(fmt::format("--tokenize-via-server: cannot reach {}: {}", where, probe.summary()));
    }
    if (probe.unauthorized) {
      throw UsageError(fmt::format(
          "--tokenize-via-server: the server refused POST {} (tried {}); check --api-key / $OPENAI_API_KEY and "
          "--header; no load was sent",
          where, probe.summary()));
    }
    throw UsageError(fmt::format(
        "--tokenize-via-server: the server has no tokenize endpoint llmbench can use at POST {} (tried {}); no load "
        "was sent. Drop the flag, or give --tokenizer with the server's tokenizer files",
        where, probe.summary()));
  }
  net::TokenizeClient client(to, *probe.format);
  const auto probe_requests = static_cast<int64_t>(probe.attempts.size()) + 1;
  fmt::print("Realigning {} prompts to the server's token counts: POST {} ({} format)\n", ds.items.size(), client.url(),
             net::to_string(*probe.format));
  std::fflush(stdout);
  const int64_t start_ns = now_ns();
  workload::ExactTextGenerator words(tok);
  workload::RealignOptions ro;
  ro.seed = plan.dataset.seed;
  workload::RealignReport report;
  try {
    report = workload::realign_with_server(
        ds, words, [&](const std::vector<std::string>& texts) { return client.count(texts); }, ro);
  } catch (const net::TokenizeError& e) {
    throw UsageError(fmt::format("--tokenize-via-server: {}", e.what()));
  }
  const double seconds = ns_to_s(now_ns() - start_ns);
  fmt::print("Server token counts: {}/{} prompts exact ({} rounds, {} tokenize requests, {:.2f} s)\n", report.exact,
             report.prompts, report.rounds, client.requests_sent() + probe_requests, seconds);
  if (report.inexact > 0) {
    std::string examples;
    for (const auto& e : report.inexact_examples) examples += (examples.empty() ? "" : "; ") + e;
    const std::string message = fmt::format(
        "{} of {} prompts could not be made exactly the requested length as the server counts them (after {} "
        "counts each): {}",
        report.inexact, report.prompts, ro.max_rounds, examples);
    if (plan.dataset.on_bad_line == workload::BadLinePolicy::kError) {
      throw UsageError("--tokenize-via-server: " + message + " (--on-bad-line error)");
    }
    fmt::print(stderr, "llmbench: warning: {}; the closest text is sent for each (--on-bad-line error refuses)\n",
               message);
  }
  nlohmann::json examples = report.inexact_examples;
  return {{"format", net::to_string(*probe.format)},
          {"url", client.url()},
          {"chat", to.chat},
          {"prompts", report.prompts},
          {"exact", report.exact},
          {"inexact", report.inexact},
          {"inexact_examples", std::move(examples)},
          {"prefixes", report.prefixes},
          {"prefixes_inexact", report.prefixes_inexact},
          {"rounds", report.rounds},
          {"max_counts_per_prompt", report.max_rounds_per_prompt},
          {"tokenize_requests", client.requests_sent() + probe_requests},
          {"seconds", seconds},
          {"count_rule", to.chat ? "chat template applied, as /v1/chat/completions counts"
                                 : "special tokens (BOS) included, as a completion request counts"}};
}

}  // namespace

PreparedWorkload prepare_bench_workload(BenchPlan& plan) {
  PreparedWorkload out;
  if (!plan.use_dataset) {
    out.specs = workload::build_synthetic_requests(plan.synthetic);
    return out;
  }
  const auto tok = load_bench_tokenizer(plan.info.tokenizer);
  workload::Dataset ds;
  try {
    ds = workload::load_dataset(plan.dataset, *tok);
  } catch (const workload::DatasetError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  nlohmann::json realigned;
  std::string dry_run_note;
  if (plan.tokenize_via_server && plan.dry_run) {
    dry_run_note = "; --tokenize-via-server skipped in a dry run (nothing is sent)";
  } else if (plan.tokenize_via_server) {
    realigned = realign_through_server(plan, ds, *tok);
  }
  const auto& syn = plan.synthetic;
  const workload::BodyOptions base{syn.model,       syn.output_len,      syn.ignore_eos,  syn.temperature,
                                   syn.sample_seed, syn.extra_body_json, syn.stream_usage};
  try {
    out.specs = workload::build_dataset_requests(ds, syn.backend, syn.endpoint, base, *tok);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  out.description = workload::describe_dataset(ds, plan.dataset,
                                               plan.info.tokenizer.empty() ? "gpt2 (built-in)" : plan.info.tokenizer);
  if (!realigned.is_null()) out.description["tokenize_via_server"] = std::move(realigned);
  out.summary_line = workload::dataset_summary_line(ds, plan.dataset) + dry_run_note;
  if (plan.trace_replay) {
    auto offsets = workload::trace_offsets_ns(ds);
    if (offsets.empty()) throw UsageError("--trace-replay: the dataset has no timestamps");
    auto& lo = plan.load;
    lo.mode = loadgen::LoadMode::kOpenLoop;
    lo.num_prompts = static_cast<int64_t>(offsets.size());
    lo.arrival = loadgen::ArrivalOptions{};
    lo.arrival.offsets_ns = std::move(offsets);
    lo.warmup_concurrency = lo.max_concurrency > 0 ? lo.max_concurrency : 1;
    plan.info.mode = lo.mode;
    plan.info.concurrency = 0;
    plan.info.request_rate = std::numeric_limits<double>::infinity();
    plan.info.num_prompts = lo.num_prompts;
    const double span_s = static_cast<double>(lo.arrival.offsets_ns.back()) / 1e9;
    out.description["trace_replay"] = true;
    out.description["trace_span_s"] = span_s;
    out.summary_line += fmt::format("; trace replay of {} requests over {:.3f} s", lo.num_prompts, span_s);
  }
  if (plan.dataset.kind != workload::DatasetKind::kRandom && !ds.items.empty()) {
    double sum = 0;
    for (const auto& it : ds.items) sum += it.prompt_len;
    plan.info.input_len = static_cast<int32_t>(std::lround(sum / static_cast<double>(ds.items.size())));
  }
  return out;
}

nlohmann::json bench_result_document(const BenchPlan& plan, const std::vector<loadgen::RequestRecord>& records,
                                     const loadgen::RunInfo& info) {
  if (plan.scenario == BenchScenario::kSingle) {
    return report::single_result_json(metrics::summarize_single(records, info), info);
  }
  return report::result_json(metrics::summarize(records, info), records, info, plan.save_detailed);
}

void add_to_result_file(const std::string& path, const std::string& key, const nlohmann::json& value) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot reopen result file '" + path + "'");
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw std::runtime_error("result file '" + path + "' is not a JSON object");
  doc["llmbench"][key] = value;
  report::write_json_file(path, doc);
}

std::string bench_result_path(const BenchPlan& plan, const loadgen::RunInfo& info) {
  if (!plan.save_result) return {};
  const std::string name = plan.result_filename.empty() ? default_result_filename(info) : plan.result_filename;
  return plan.result_dir.empty() ? name : plan.result_dir + "/" + name;
}

}  // namespace llmbench::app

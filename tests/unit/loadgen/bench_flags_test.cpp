#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "app/bench_options.h"

namespace llmbench::app {
namespace {

// Parses `args` as the flags of a command and resolves them; returns the plan or the usage error.
struct Parsed {
  std::optional<BenchPlan> plan;
  std::string error;
  std::vector<std::string> extras;
};

Parsed parse(BenchScenario scenario, std::vector<std::string> args) {
  CLI::App app;
  BenchFlags flags;
  add_bench_flags(app, flags, scenario);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  Parsed out;
  out.extras = app.remaining();
  try {
    out.plan = resolve_bench_plan(flags, scenario, "llmbench test", nullptr);
  } catch (const UsageError& e) {
    out.error = e.what();
  }
  return out;
}

TEST(BenchFlags, LoadDefaultsFollowVllm) {
  auto p = parse(BenchScenario::kLoad, {"--model", "facebook/opt-125m"});
  ASSERT_TRUE(p.plan) << p.error;
  const auto& plan = *p.plan;
  EXPECT_EQ(plan.info.mode, loadgen::LoadMode::kOpenLoop);
  EXPECT_TRUE(std::isinf(plan.info.request_rate));
  EXPECT_EQ(plan.info.num_prompts, 1000);
  EXPECT_EQ(plan.info.endpoint, "/v1/completions");
  EXPECT_EQ(plan.info.base_url, "http://127.0.0.1:8000");
  EXPECT_EQ(plan.synthetic.input_len, 1024);
  EXPECT_EQ(plan.synthetic.output_len, 128);
  EXPECT_EQ(plan.info.percentile_metrics, (std::vector<std::string>{"ttft", "tpot", "itl"}));
  EXPECT_EQ(plan.info.metric_percentiles, (std::vector<double>{99}));
}

TEST(BenchFlags, ClosedLoopAndOpenLoopShapes) {
  auto c = parse(BenchScenario::kLoad, {"--concurrency", "8", "--num-prompts", "50", "--num-warmups", "4"});
  ASSERT_TRUE(c.plan) << c.error;
  EXPECT_EQ(c.plan->load.mode, loadgen::LoadMode::kClosedLoop);
  EXPECT_EQ(c.plan->load.concurrency, 8);
  EXPECT_EQ(c.plan->load.num_prompts, 50);
  EXPECT_EQ(c.plan->load.num_warmups, 4);

  auto o = parse(BenchScenario::kLoad, {"--request-rate", "12.5", "--burstiness", "0.5", "--max-concurrency", "4",
                                        "--duration", "30", "--seed", "9"});
  ASSERT_TRUE(o.plan) << o.error;
  EXPECT_EQ(o.plan->load.mode, loadgen::LoadMode::kOpenLoop);
  EXPECT_DOUBLE_EQ(o.plan->load.arrival.request_rate, 12.5);
  EXPECT_EQ(o.plan->load.arrival.distribution, loadgen::ArrivalDistribution::kGamma);  // burstiness != 1
  EXPECT_EQ(o.plan->load.max_concurrency, 4);
  EXPECT_EQ(o.plan->load.num_prompts, 0);  // unlimited: --duration bounds it
  EXPECT_DOUBLE_EQ(o.plan->load.duration_s, 30);
  EXPECT_EQ(o.plan->load.arrival.seed, 9u);
}

TEST(BenchFlags, RampUpBothSpellings) {
  auto ours = parse(BenchScenario::kLoad, {"--request-rate", "20", "--ramp-up", "linear", "--ramp-up-duration", "10"});
  ASSERT_TRUE(ours.plan) << ours.error;
  EXPECT_EQ(ours.plan->load.arrival.ramp_up, loadgen::RampUp::kLinear);
  EXPECT_DOUBLE_EQ(ours.plan->load.arrival.ramp_up_duration_s, 10);
  auto vllm = parse(BenchScenario::kLoad, {"--ramp-up-strategy", "exponential", "--ramp-up-start-rps", "2",
                                           "--ramp-up-end-rps", "40", "--num-prompts", "100"});
  ASSERT_TRUE(vllm.plan) << vllm.error;
  EXPECT_EQ(vllm.plan->load.arrival.ramp_up, loadgen::RampUp::kExponential);
  EXPECT_EQ(vllm.plan->load.arrival.ramp_up_requests, 100);
  EXPECT_DOUBLE_EQ(vllm.plan->load.arrival.ramp_up_end_rps, 40);
}

TEST(BenchFlags, TargetHeadersKeysAndSlos) {
  auto p = parse(BenchScenario::kLoad,
                 {"--base-url", "http://10.0.0.1:9000/prefix", "--backend", "openai-chat", "--header", "X-A=1",
                  "--header", "X-B=two=2", "--api-key", "sk-1", "--goodput", "ttft:500", "tpot:50", "--metadata",
                  "gpu=H100", "--metric-percentiles", "50,90,99.9", "--connect-timeout", "2.5"});
  ASSERT_TRUE(p.plan) << p.error;
  EXPECT_EQ(p.plan->info.endpoint, "/prefix/v1/chat/completions");
  EXPECT_EQ(p.plan->load.client.headers.size(), 2u);
  EXPECT_EQ(p.plan->load.client.headers[1].second, "two=2");
  EXPECT_EQ(p.plan->load.client.bearer_token, "sk-1");
  EXPECT_EQ(p.plan->load.client.connect_timeout_ms, 2500);
  ASSERT_EQ(p.plan->info.goodput.size(), 2u);
  EXPECT_EQ(p.plan->info.goodput[1].metric, "tpot");
  EXPECT_DOUBLE_EQ(p.plan->info.goodput[1].threshold_ms, 50);
  EXPECT_EQ(p.plan->info.metadata[0].second, "H100");
  EXPECT_EQ(p.plan->info.metric_percentiles, (std::vector<double>{50, 90, 99.9}));
}

TEST(BenchFlags, SingleDefaults) {
  auto p = parse(BenchScenario::kSingle, {"--prompt", "Hello there", "--max-tokens", "64"});
  ASSERT_TRUE(p.plan) << p.error;
  EXPECT_EQ(p.plan->num_trials, 5);
  EXPECT_EQ(p.plan->load.num_prompts, 5);
  EXPECT_EQ(p.plan->load.concurrency, 1);
  EXPECT_EQ(p.plan->load.num_warmups, 1);
  EXPECT_EQ(p.plan->synthetic.output_len, 64);
  EXPECT_EQ(p.plan->info.scenario, "single");
}

TEST(BenchFlags, UnknownFlagIsLeftForTheCommandToReject) {
  auto p = parse(BenchScenario::kLoad, {"--concurency", "4"});
  EXPECT_FALSE(p.extras.empty());
}

struct BadCase {
  std::vector<std::string> args;
  std::string expect_in_message;
};

TEST(BenchFlags, BadValuesGiveOneClearMessage) {
  const std::vector<BadCase> cases = {
      {{"--concurrency", "abc"}, "--concurrency: expected an integer, got 'abc'"},
      {{"--concurrency", "0"}, "--concurrency: must be >= 1"},
      {{"--request-rate", "-3"}, "--request-rate: must be > 0"},
      {{"--request-rate", "fast"}, "--request-rate: expected a number or 'inf'"},
      {{"--concurrency", "2", "--request-rate", "3"}, "exclude each other"},
      {{"--base-url", "ftp://x"}, "--base-url: invalid URL"},
      {{"--port", "70000"}, "--port: must be <= 65535"},
      {{"--backend", "bogus"}, "--backend: unknown backend 'bogus'"},
      {{"--arrival", "weibull"}, "--arrival: expected poisson, constant or gamma"},
      {{"--burstiness", "0"}, "--burstiness: must be > 0"},
      {{"--goodput", "ttft=5"}, "--goodput: expected METRIC:MS"},
      {{"--goodput", "foo:5"}, "--goodput: unknown metric 'foo'"},
      {{"--header", "novalue"}, "--header: expected NAME=VALUE"},
      {{"--extra-body", "[1]"}, "--extra-body: extra body is not a JSON object"},
      {{"--extra-body", "{bad"}, "--extra-body: extra body is not a JSON object"},
      {{"--duration", "-1"}, "--duration: must be > 0 seconds"},
      {{"--read-timeout", "0"}, "--read-timeout: must be > 0 seconds"},
      {{"--percentile-metrics", "ttft,foo"}, "--percentile-metrics: unknown metric 'foo'"},
      {{"--metric-percentiles", "150"}, "--metric-percentiles: must be in (0, 100)"},
      {{"--ramp-up", "linear"}, "--ramp-up needs --ramp-up-end-rps or a finite --request-rate"},
      {{"--ramp-up-duration", "5"}, "need --ramp-up"},
      {{"--max-tokens", "0"}, "--max-tokens: must be >= 1"},
      {{"--max-tokens", "5", "--random-output-len", "5"}, "give one"},
      {{"--result-dir", "/nonexistent/dir", "--save-result"}, "--result-dir: '/nonexistent/dir' is not a writable"},
      {{"--save-requests", "/nonexistent/dir/r.jsonl"}, "--save-requests: directory '/nonexistent/dir' does not exist"},
      {{"--result-filename", "/nonexistent/r.json"}, "--result-filename: directory '/nonexistent' does not exist"},
  };
  for (const auto& c : cases) {
    auto p = parse(BenchScenario::kLoad, c.args);
    EXPECT_FALSE(p.plan.has_value()) << c.args[0];
    EXPECT_NE(p.error.find(c.expect_in_message), std::string::npos)
        << "args " << c.args[0] << ": message '" << p.error << "' lacks '" << c.expect_in_message << "'";
  }
}

TEST(BenchFlags, DefaultResultFilenameAsVllm) {
  loadgen::RunInfo info;
  info.scenario = "load";
  info.backend = "openai";
  info.model = "facebook/opt-125m";
  info.mode = loadgen::LoadMode::kOpenLoop;
  info.request_rate = 10;
  info.max_concurrency = 4;
  info.wall_start_ns = 0;
  const std::string name = default_result_filename(info);
  EXPECT_EQ(name.rfind("openai-10.0qps-concurrency4-opt-125m-", 0), 0u) << name;
  EXPECT_EQ(name.substr(name.size() - 5), ".json");
}

}  // namespace
}  // namespace llmbench::app

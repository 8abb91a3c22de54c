// The engine with a real model backend against Hugging Face: greedy continuations of the fixture
// models (tests/fixtures/models, 24 tokens, EOS suppressed as HF's min_new_tokens does) must equal
// HF's, alone and in a batch, with chunked prefill and under preemption; on the CPU backend, and on
// the CUDA backend where this build has it and a GPU is visible (skipped otherwise).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>

#include "../../unit/engine/output_collector.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::engine {
namespace {

using testing::OutputCollector;

struct Fixture {
  std::string dir;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> greedy;
  int new_tokens = 0;
};

Fixture load_fixture(const std::string& name) {
  Fixture f;
  f.dir = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/models/" + name;
  std::ifstream in(f.dir + "/expected.json");
  const auto j = nlohmann::json::parse(in);
  f.prompts = j.at("prompts").get<std::vector<std::vector<int32_t>>>();
  f.greedy = j.at("greedy").get<std::vector<std::vector<int32_t>>>();
  f.new_tokens = j.at("greedy_new_tokens").get<int>();
  return f;
}

SamplingParams hf_greedy(int new_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = new_tokens;
  p.min_tokens = new_tokens;  // HF's min_new_tokens: EOS can never be picked
  return p;
}

struct Result {
  std::vector<std::vector<int32_t>> tokens;
  EngineStats stats;
};

// Submits `copies` of every prompt at once and waits for all of them.
Result run(const Fixture& f, EngineOptions options, int copies, const std::string& device) {
  options.load.model = f.dir;
  options.load.device = device;
  options.load.num_threads = 2;
  auto engine = Engine::create(options, tokenizer::Tokenizer::gpt2());
  OutputCollector collector;
  size_t index = 0;
  for (int c = 0; c < copies; ++c) {
    for (const auto& prompt : f.prompts) {
      GenerationRequest r;
      r.prompt_tokens = prompt;
      r.params = hf_greedy(f.new_tokens);
      r.on_output = collector.callback(index++);
      EXPECT_TRUE(engine->submit(std::move(r)).has_value());
    }
  }
  EXPECT_TRUE(collector.wait_all(std::chrono::seconds(300)));
  Result result;
  for (size_t i = 0; i < index; ++i) {
    const auto log = collector.log(i);
    EXPECT_EQ(log.finals, 1);
    EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kLength);
    result.tokens.push_back(log.tokens);
  }
  // Stats are published after each loop iteration: wait for the idle snapshot.
  for (int i = 0; i < 1000; ++i) {
    result.stats = engine->stats();
    if (result.stats.running == 0 && result.stats.waiting == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return result;
}

void expect_hf(const Fixture& f, const Result& r, int copies) {
  ASSERT_EQ(r.tokens.size(), f.prompts.size() * static_cast<size_t>(copies));
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    EXPECT_EQ(r.tokens[i], f.greedy[i % f.prompts.size()]) << f.dir << " request " << i;
  }
}

// (fixture model, device).
class EngineFixture : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    if (device() == "cuda" && default_device() != "cuda") GTEST_SKIP() << "no CUDA backend in this build, or no GPU";
  }
  const std::string& model() const { return std::get<0>(GetParam()); }
  const std::string& device() const { return std::get<1>(GetParam()); }
};

TEST_P(EngineFixture, GreedyEqualsHuggingFaceAlone) {
  const Fixture f = load_fixture(model());
  for (size_t i = 0; i < f.prompts.size(); ++i) {
    Fixture one = f;
    one.prompts = {f.prompts[i]};
    one.greedy = {f.greedy[i]};
    expect_hf(one, run(one, {.max_num_seqs = 4, .block_size = 16}, 1, device()), 1);
  }
}

TEST_P(EngineFixture, BatchEqualsHuggingFace) {
  const Fixture f = load_fixture(model());
  expect_hf(f, run(f, {.max_num_seqs = 16, .block_size = 16}, 2, device()), 2);
}

TEST_P(EngineFixture, ChunkedPrefillEqualsHuggingFace) {
  const Fixture f = load_fixture(model());
  expect_hf(f, run(f, {.max_num_seqs = 16, .max_num_batched_tokens = 8, .block_size = 4}, 2, device()), 2);
}

TEST_P(EngineFixture, PreemptionEqualsHuggingFace) {
  const Fixture f = load_fixture(model());
  // 32 blocks of 4 tokens hold one 128-token sequence; three copies of the four prompts need ~150.
  const Result r =
      run(f, {.max_num_seqs = 16, .max_num_batched_tokens = 64, .block_size = 4, .num_kv_blocks = 32}, 3, device());
  expect_hf(f, r, 3);
  EXPECT_GT(r.stats.preemptions_total, 0u);
  EXPECT_EQ(r.stats.kv_cache_usage, 0.0);
  EXPECT_EQ(r.stats.num_blocks, 32);
}

INSTANTIATE_TEST_SUITE_P(Models, EngineFixture,
                         ::testing::Combine(::testing::Values("opt_tiny", "gpt2_tiny", "opt_tiny_postln_proj",
                                                              "opt_tiny_bf16_sharded", "gpt2_tiny_fp16"),
                                            ::testing::Values("cpu", "cuda")),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

TEST(EngineDummy, Opt125mRuns) {
  EngineOptions options;
  options.load.model = "opt-125m";
  options.load.load_format = "dummy";
  options.load.num_threads = 2;
  options.load.device = "cpu";
  options.max_model_len = 256;
  auto engine = Engine::create(options, nullptr);
  EXPECT_EQ(engine->max_model_len(), 256);
  EXPECT_EQ(engine->model_config().vocab_size, 50272);
  OutputCollector collector;
  const auto prompt = engine->tokenizer()->encode("Hello, my name is");
  for (size_t i = 0; i < 2; ++i) {
    GenerationRequest r;
    r.prompt_tokens = prompt;
    r.params.temperature = i == 0 ? 0.0f : 0.8f;
    r.params.seed = 1;
    r.params.max_tokens = 8;
    r.params.ignore_eos = true;
    r.on_output = collector.callback(i);
    ASSERT_TRUE(engine->submit(std::move(r)).has_value());
  }
  ASSERT_TRUE(collector.wait_all(std::chrono::seconds(300)));
  for (size_t i = 0; i < 2; ++i) {
    const auto log = collector.log(i);
    EXPECT_EQ(log.tokens.size(), 8u);
    EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kLength);
    EXPECT_EQ(log.outputs.back().prompt_tokens, static_cast<int>(prompt.size()));
  }
  EXPECT_GT(engine->stats().num_blocks, 0);
}

}  // namespace
}  // namespace llmbench::engine

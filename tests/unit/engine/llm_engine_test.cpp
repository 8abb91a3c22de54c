// The engine loop end to end with a fake model whose KV cache holds the tokens themselves.
#include "engine/llm_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "fake_model.h"
#include "output_collector.h"

namespace llmbench::engine {
namespace {

using testing::ByteTokenizer;
using testing::FakeModelRunner;
using testing::NextTokenFn;
using testing::OutputCollector;

constexpr int kMaxPosition = 256;

struct Harness {
  explicit Harness(EngineOptions options, NextTokenFn next = testing::hash_rule(32, 127)) {
    auto model_owned =
        std::make_unique<FakeModelRunner>(ByteTokenizer::kVocab, kMaxPosition, ByteTokenizer::kEos, next);
    model = model_owned.get();
    rule = std::move(next);
    engine = std::make_unique<LlmEngine>(options, std::move(model_owned), std::make_shared<ByteTokenizer>());
  }
  uint64_t submit(std::vector<int32_t> prompt, SamplingParams params, size_t index) {
    GenerationRequest r;
    r.prompt_tokens = std::move(prompt);
    r.params = std::move(params);
    r.on_output = collector.callback(index);
    auto id = engine->submit(std::move(r));
    EXPECT_TRUE(id.has_value());
    return id.value_or(0);
  }
  // Waits until the engine has published an idle state (stats are refreshed after each iteration).
  EngineStats wait_idle() {
    EngineStats s;
    for (int i = 0; i < 6000; ++i) {
      s = engine->stats();
      if (s.running == 0 && s.waiting == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return s;
  }

  FakeModelRunner* model = nullptr;
  NextTokenFn rule;
  OutputCollector collector;
  std::unique_ptr<LlmEngine> engine;
};

std::vector<int32_t> random_prompt(std::mt19937& rng, int len) {
  std::uniform_int_distribution<int> dist(32, 126);
  std::vector<int32_t> p;
  for (int i = 0; i < len; ++i) p.push_back(dist(rng));
  return p;
}

SamplingParams greedy(int max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

TEST(LlmEngine, GreedySingleRequestStreamsTheModelsTokens) {
  Harness h({.max_num_seqs = 4, .max_num_batched_tokens = 64, .block_size = 4});
  const std::vector<int32_t> prompt = {72, 105, 33};
  h.submit(prompt, greedy(20), 0);
  ASSERT_TRUE(h.collector.wait_all());
  const auto log = h.collector.log(0);
  const auto expected = testing::reference_tokens(prompt, 20, h.rule);
  EXPECT_EQ(log.tokens, expected);
  EXPECT_EQ(log.text, std::string(expected.begin(), expected.end()));
  EXPECT_EQ(log.finals, 1);
  ASSERT_EQ(log.outputs.size(), 20u);  // one output per step, one token per decode step
  const auto& last = log.outputs.back();
  EXPECT_EQ(last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(last.completion_tokens, 20);
  EXPECT_EQ(last.prompt_tokens, 3);
  EXPECT_GT(last.first_scheduled_ns, 0);
  EXPECT_GE(last.first_token_ns, last.first_scheduled_ns);
  const auto stats = h.wait_idle();
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.requests_finished_total, 1u);
  EXPECT_EQ(stats.generation_tokens_total, 20u);
  EXPECT_EQ(stats.prompt_tokens_total, 3u);
  EXPECT_EQ(stats.steps_total, 20u);
}

// Many mixed-length requests at once, a tiny KV cache and a small token budget: chunked prefill and
// preemption happen, and every request still gets exactly the tokens it gets alone.
void run_mixed_batch(EngineOptions options, bool expect_preemption) {
  Harness h(options);
  std::mt19937 rng(2024);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int> max_tokens;
  for (int i = 0; i < 24; ++i) {
    prompts.push_back(random_prompt(rng, 1 + static_cast<int>(rng() % 90)));
    max_tokens.push_back(1 + static_cast<int>(rng() % 40));
    h.submit(prompts.back(), greedy(max_tokens.back()), static_cast<size_t>(i));
  }
  ASSERT_TRUE(h.collector.wait_all());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto log = h.collector.log(i);
    EXPECT_EQ(log.tokens, testing::reference_tokens(prompts[i], max_tokens[i], h.rule)) << "request " << i;
    EXPECT_EQ(log.finals, 1) << "request " << i;
    EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kLength);
    EXPECT_EQ(log.outputs.back().completion_tokens, max_tokens[i]);
  }
  const auto stats = h.wait_idle();
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.requests_finished_total, prompts.size());
  if (expect_preemption) {
    EXPECT_GT(stats.preemptions_total, 0u);
  }
  for (const auto& step : h.model->steps()) {
    EXPECT_LE(step.num_tokens,
              std::max(options.max_num_batched_tokens, options.enable_chunked_prefill ? 0 : h.engine->max_model_len()));
    EXPECT_LE(step.num_slices, options.max_num_seqs);
  }
}

TEST(LlmEngine, MixedBatchMatchesAloneWithRoomyCache) {
  run_mixed_batch({.max_num_seqs = 32, .max_num_batched_tokens = 512, .block_size = 16}, false);
}

TEST(LlmEngine, MixedBatchMatchesAloneWithChunkedPrefill) {
  run_mixed_batch({.max_num_seqs = 8, .max_num_batched_tokens = 16, .block_size = 4}, false);
}

TEST(LlmEngine, MixedBatchMatchesAloneUnderPreemption) {
  // 34 blocks of 4 tokens: one max_model_len (136) sequence fits, the whole batch does not.
  run_mixed_batch(
      {.max_num_seqs = 16, .max_num_batched_tokens = 32, .max_model_len = 136, .block_size = 4, .num_kv_blocks = 34},
      true);
}

TEST(LlmEngine, MixedBatchMatchesAloneWithoutChunkedPrefill) {
  run_mixed_batch({.max_num_seqs = 16,
                   .max_num_batched_tokens = 16,
                   .max_model_len = 136,
                   .block_size = 4,
                   .enable_chunked_prefill = false,
                   .num_kv_blocks = 40},
                  true);
}

TEST(LlmEngine, AbortFreesBlocksAndSendsAFinalAbort) {
  Harness h({.max_num_seqs = 4, .max_num_batched_tokens = 64, .block_size = 4});
  h.model->close_gate();
  const uint64_t id = h.submit({65, 66, 67}, greedy(200), 0);
  h.model->wait_for_forward_calls(1);  // the engine is inside its first step
  h.engine->abort(id);                 // takes effect at the next step boundary
  h.model->open_gate();
  ASSERT_TRUE(h.collector.wait_all());
  const auto log = h.collector.log(0);
  EXPECT_EQ(log.finals, 1);
  ASSERT_EQ(log.outputs.size(), 2u);  // the first step's token, then the abort
  EXPECT_EQ(log.outputs[0].new_token_ids.size(), 1u);
  EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kAbort);
  EXPECT_TRUE(log.outputs.back().new_token_ids.empty());
  EXPECT_EQ(log.outputs.back().completion_tokens, 1);
  const auto stats = h.wait_idle();
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.running, 0);
  h.engine->abort(id);  // unknown by now: ignored
  h.engine->abort(999999);
}

TEST(LlmEngine, AbortOfAWaitingRequest) {
  Harness h({.max_num_seqs = 1, .max_num_batched_tokens = 64, .block_size = 4});
  h.model->close_gate();
  h.submit({65}, greedy(50), 0);
  h.model->wait_for_forward_calls(1);
  const uint64_t waiting = h.submit({66}, greedy(50), 1);
  h.engine->abort(waiting);
  h.model->open_gate();
  ASSERT_TRUE(h.collector.wait_all());
  EXPECT_EQ(h.collector.log(1).outputs.size(), 1u);
  EXPECT_EQ(h.collector.log(1).outputs.back().finish_reason, FinishReason::kAbort);
  EXPECT_EQ(h.collector.log(0).outputs.back().finish_reason, FinishReason::kLength);
}

TEST(LlmEngine, DestructorAbortsPendingRequests) {
  auto h = std::make_unique<Harness>(EngineOptions{.max_num_seqs = 2, .max_num_batched_tokens = 64, .block_size = 4});
  h->model->close_gate();
  for (size_t i = 0; i < 5; ++i) h->submit({65, 66}, greedy(100), i);
  h->model->wait_for_forward_calls(1);
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    h->model->open_gate();
  });
  h->engine.reset();  // joins the engine thread after the gate opens
  opener.join();
  for (size_t i = 0; i < 5; ++i) {
    const auto log = h->collector.log(i);
    EXPECT_EQ(log.finals, 1) << i;
    EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kAbort) << i;
  }
}

TEST(LlmEngine, MaxWaitingRefusesSubmissions) {
  Harness h({.max_num_seqs = 1, .max_num_batched_tokens = 64, .block_size = 4, .max_waiting = 2});
  h.model->close_gate();
  h.submit({65}, greedy(3), 0);
  h.model->wait_for_forward_calls(1);
  h.submit({66}, greedy(3), 1);
  h.submit({67}, greedy(3), 2);
  GenerationRequest extra;
  extra.prompt_tokens = {68};
  extra.params = greedy(3);
  EXPECT_FALSE(h.engine->submit(std::move(extra)).has_value());
  EXPECT_EQ(h.engine->stats().waiting, 2);
  h.model->open_gate();
  ASSERT_TRUE(h.collector.wait_all());
}

TEST(LlmEngine, InvalidRequestsAreRejected) {
  Harness h({.max_num_seqs = 4, .max_num_batched_tokens = 64, .max_model_len = 32, .block_size = 4});
  EXPECT_EQ(h.engine->max_model_len(), 32);
  auto make = [](std::vector<int32_t> prompt, SamplingParams p) {
    GenerationRequest r;
    r.prompt_tokens = std::move(prompt);
    r.params = p;
    return r;
  };
  EXPECT_THROW(h.engine->submit(make({}, greedy(4))), std::invalid_argument);
  EXPECT_THROW(h.engine->submit(make({1, 2000}, greedy(4))), std::invalid_argument);
  EXPECT_THROW(h.engine->submit(make({1, -1}, greedy(4))), std::invalid_argument);
  EXPECT_THROW(h.engine->submit(make(std::vector<int32_t>(30, 65), greedy(3))), std::invalid_argument);
  EXPECT_THROW(h.engine->submit(make({65}, greedy(0))), std::invalid_argument);
  SamplingParams p = greedy(4);
  p.min_tokens = 5;
  EXPECT_THROW(h.engine->submit(make({65}, p)), std::invalid_argument);
  p = greedy(4);
  p.top_p = 0.0f;
  EXPECT_THROW(h.engine->submit(make({65}, p)), std::invalid_argument);
  p = greedy(4);
  p.temperature = -1.0f;
  EXPECT_THROW(h.engine->submit(make({65}, p)), std::invalid_argument);
  EXPECT_TRUE(h.engine->submit(make(std::vector<int32_t>(29, 65), greedy(3))).has_value());  // exactly fits
}

TEST(LlmEngine, KvCacheSizing) {
  ModelConfig config;
  config.max_position = 100;
  EngineOptions o;
  o.block_size = 16;
  o.max_num_seqs = 2;
  auto plan = plan_kv_cache(o, config, 1000);
  EXPECT_EQ(plan.max_model_len, 100);
  EXPECT_EQ(plan.num_blocks, 14);  // 2 sequences of 7 blocks
  o.max_model_len = 500;           // clamped to the model
  EXPECT_EQ(plan_kv_cache(o, config, 1000).max_model_len, 100);
  o.max_model_len = 0;
  o.kv_cache_memory_bytes = 10000;  // 10 blocks
  EXPECT_EQ(plan_kv_cache(o, config, 1000).num_blocks, 10);
  o.kv_cache_memory_bytes = 6999;  // 6 blocks < 7 for one sequence
  EXPECT_THROW(plan_kv_cache(o, config, 1000), std::invalid_argument);
  o.kv_cache_memory_bytes = 0;
  o.max_num_seqs = 1000;  // 64 sequences of 7 blocks, capped at 1 GiB
  EXPECT_EQ(plan_kv_cache(o, config, 1000).num_blocks, 64 * 7);
  EXPECT_EQ(plan_kv_cache(o, config, size_t{1} << 28).num_blocks, 7);  // the cap, but one sequence at least
}

TEST(LlmEngine, ModelFailureAbortsTheStepsRequestsWithAnError) {
  Harness h({.max_num_seqs = 4, .max_num_batched_tokens = 64, .block_size = 4});
  h.model->set_fail(true);
  h.submit({65}, greedy(4), 0);
  ASSERT_TRUE(h.collector.wait_all());
  const auto log = h.collector.log(0);
  EXPECT_EQ(log.outputs.back().finish_reason, FinishReason::kAbort);
  EXPECT_NE(log.outputs.back().error.find("fake model failure"), std::string::npos);
  h.model->set_fail(false);
  h.submit({65}, greedy(4), 1);  // the engine keeps serving
  ASSERT_TRUE(h.collector.wait_all());
  EXPECT_EQ(h.collector.log(1).outputs.back().finish_reason, FinishReason::kLength);
}

}  // namespace
}  // namespace llmbench::engine

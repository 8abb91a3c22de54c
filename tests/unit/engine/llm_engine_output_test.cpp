// Output processing through the engine: stop strings, stop tokens, EOS, min_tokens, UTF-8 streaming
// and seeded sampling, with a fake model that "says" a scripted byte string.
#include <gtest/gtest.h>

#include <string>

#include "engine/llm_engine.h"
#include "fake_model.h"
#include "output_collector.h"

namespace llmbench::engine {
namespace {

using testing::ByteTokenizer;
using testing::FakeModelRunner;
using testing::OutputCollector;

// The model continues a prompt of `prompt_len` tokens with `script` (token ids), then 'x' forever.
testing::NextTokenFn script_rule(size_t prompt_len, std::vector<int32_t> script) {
  return [prompt_len, script](std::span<const int32_t> history) {
    const size_t i = history.size() - prompt_len;
    return i < script.size() ? script[i] : int32_t{'x'};
  };
}

std::vector<int32_t> bytes(const std::string& s) {
  std::vector<int32_t> ids;
  for (char c : s) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

struct Run {
  testing::RequestLog log;
  RequestOutput last;
};

Run generate(const std::vector<int32_t>& script, SamplingParams params, EngineOptions options = {}) {
  const std::vector<int32_t> prompt = {62, 62};
  if (options.block_size == 16 && options.max_num_seqs == 256) options = {.max_num_seqs = 4, .block_size = 4};
  auto model = std::make_unique<FakeModelRunner>(ByteTokenizer::kVocab, 256, ByteTokenizer::kEos,
                                                 script_rule(prompt.size(), script));
  OutputCollector collector;
  LlmEngine engine(options, std::move(model), std::make_shared<ByteTokenizer>());
  GenerationRequest r;
  r.prompt_tokens = prompt;
  r.params = std::move(params);
  r.on_output = collector.callback(0);
  EXPECT_TRUE(engine.submit(std::move(r)).has_value());
  EXPECT_TRUE(collector.wait_all());
  Run run{collector.log(0), {}};
  run.last = run.log.outputs.back();
  return run;
}

SamplingParams greedy(int max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  return p;
}

TEST(EngineOutput, StopStringAcrossTokensIsCutAndHeldBack) {
  SamplingParams p = greedy(50);
  p.stop = {"world"};
  const auto run = generate(bytes("Hello, world! Bye"), p);
  EXPECT_EQ(run.log.text, "Hello, ");
  EXPECT_EQ(run.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(run.last.stop_reason, "world");
  EXPECT_EQ(run.log.tokens, bytes("Hello, world"));  // tokens up to the one completing the stop
  EXPECT_EQ(run.last.completion_tokens, 12);
  // "w", "o", "r", "l" were held back: their steps released no text.
  for (size_t i = 7; i < run.log.outputs.size(); ++i) EXPECT_EQ(run.log.outputs[i].text_delta, "") << i;
}

TEST(EngineOutput, HeldTextIsReleasedWhenTheStopDoesNotMatch) {
  SamplingParams p = greedy(17);
  p.stop = {"wox", "zzz"};
  const auto run = generate(bytes("Hello, world! Bye"), p);
  EXPECT_EQ(run.log.text, "Hello, world! Bye");
  EXPECT_EQ(run.last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(run.log.outputs[7].text_delta, "");     // "w" held: it could start "wox"
  EXPECT_EQ(run.log.outputs[8].text_delta, "");     // "wo" still could
  EXPECT_EQ(run.log.outputs[9].text_delta, "wor");  // "wor" cannot
}

TEST(EngineOutput, StopTokenIdsFinishWithoutTheirText) {
  SamplingParams p = greedy(50);
  p.stop_token_ids = {'!'};
  const auto run = generate(bytes("Hello, world! Bye"), p);
  EXPECT_EQ(run.log.text, "Hello, world");
  EXPECT_EQ(run.log.tokens, bytes("Hello, world!"));
  EXPECT_EQ(run.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(run.last.stop_reason, "33");
}

TEST(EngineOutput, EosStopsUnlessIgnored) {
  std::vector<int32_t> script = bytes("abc");
  script.push_back(ByteTokenizer::kEos);
  auto more = bytes("def");
  script.insert(script.end(), more.begin(), more.end());

  auto run = generate(script, greedy(6));
  EXPECT_EQ(run.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(run.last.stop_reason, "");
  EXPECT_EQ(run.log.text, "abc");
  EXPECT_EQ(run.last.completion_tokens, 4);  // EOS counts as a completion token, as in vLLM
  EXPECT_EQ(run.log.tokens.back(), ByteTokenizer::kEos);

  SamplingParams p = greedy(7);
  p.ignore_eos = true;
  run = generate(script, p);
  EXPECT_EQ(run.last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(run.log.text, "abcdef");  // EOS is special: skipped in the text
  EXPECT_EQ(run.last.completion_tokens, 7);

  p.skip_special_tokens = false;
  run = generate(script, p);
  EXPECT_EQ(run.log.text, "abc<eos>def");
}

TEST(EngineOutput, MinTokensSuppressesEosAndStops) {
  // The model wants EOS first; with min_tokens = 3 the sampler takes the next best for 3 tokens.
  std::vector<int32_t> script(10, ByteTokenizer::kEos);
  SamplingParams p = greedy(10);
  p.min_tokens = 3;
  auto run = generate(script, p);
  ASSERT_EQ(run.log.tokens.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_NE(run.log.tokens[static_cast<size_t>(i)], ByteTokenizer::kEos);
  EXPECT_EQ(run.log.tokens[3], ByteTokenizer::kEos);
  EXPECT_EQ(run.last.finish_reason, FinishReason::kStop);

  // Stop strings too are only looked for once min_tokens is reached.
  p = greedy(20);
  p.min_tokens = 4;
  p.stop = {"a"};
  run = generate(bytes("xaxxaxxx"), p);
  EXPECT_EQ(run.log.text, "xaxx");
  EXPECT_EQ(run.last.stop_reason, "a");
}

TEST(EngineOutput, Utf8IsNeverSplitAcrossOutputs) {
  const std::string text = "caf\xC3\xA9 \xF0\x9F\x98\x80!";  // "café 😀!"
  const auto run = generate(bytes(text), greedy(static_cast<int>(text.size())));
  EXPECT_EQ(run.log.text, text);
  EXPECT_EQ(run.log.outputs[3].text_delta, "");  // first byte of é held
  EXPECT_EQ(run.log.outputs[4].text_delta, "\xC3\xA9");
  EXPECT_EQ(run.log.outputs[8].text_delta, "");
  EXPECT_EQ(run.log.outputs[9].text_delta, "\xF0\x9F\x98\x80");
}

TEST(EngineOutput, TruncatedUtf8AtTheEndIsFlushedAsReplacement) {
  const std::string text = "ab\xE2\x82";
  const auto run = generate(bytes(text), greedy(4));
  EXPECT_EQ(run.log.text, "ab\xEF\xBF\xBD");
}

TEST(EngineOutput, SeededSamplingIsReproducibleRegardlessOfBatching) {
  auto model_rule = testing::hash_rule(32, 127);
  auto sample_params = [](uint64_t seed) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 50;
    p.top_p = 0.9f;
    p.seed = seed;
    p.max_tokens = 30;
    p.ignore_eos = true;
    return p;
  };
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  auto run = [&](int extra_requests, uint64_t seed, int workers = 1) {
    auto model = std::make_unique<FakeModelRunner>(ByteTokenizer::kVocab, 256, ByteTokenizer::kEos, model_rule);
    model->set_workers(workers);
    FakeModelRunner* fake = model.get();
    OutputCollector collector;
    LlmEngine engine({.max_num_seqs = 8, .max_num_batched_tokens = 24, .block_size = 4}, std::move(model),
                     std::make_shared<ByteTokenizer>());
    for (int i = 0; i < extra_requests; ++i) {
      GenerationRequest r;
      r.prompt_tokens = std::vector<int32_t>(static_cast<size_t>(3 + 7 * i), 70 + i);
      r.params = sample_params(100 + static_cast<uint64_t>(i));
      r.on_output = collector.callback(static_cast<size_t>(i + 1));
      engine.submit(std::move(r));
    }
    GenerationRequest r;
    r.prompt_tokens = prompt;
    r.params = sample_params(seed);
    r.on_output = collector.callback(0);
    engine.submit(std::move(r));
    EXPECT_TRUE(collector.wait_all());
    if (workers > 1) {
      EXPECT_GT(fake->parallel_task_runs(), 0) << "sampling never ran on the model's threads";
    }
    return collector.log(0).tokens;
  };
  const auto alone = run(0, 42);
  ASSERT_EQ(alone.size(), 30u);
  EXPECT_EQ(run(5, 42), alone);
  EXPECT_EQ(run(5, 42, 4), alone);  // sampled in parallel on 4 threads
  EXPECT_NE(run(0, 43), alone);
  EXPECT_NE(alone, testing::reference_tokens(prompt, 30, model_rule));  // it really sampled
}

}  // namespace
}  // namespace llmbench::engine

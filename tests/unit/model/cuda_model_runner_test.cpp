// The CUDA model runner against Hugging Face (float64 reference logits and greedy continuations of
// the tiny fixtures, through the normal loader and a paged KV cache in GPU memory), and against the
// CPU runner on opt-125m's real shapes. Built only with the CUDA backend; skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/cpu_model_runner.h"
#include "engine/cuda/cuda_model_runner.h"
#include "model_fixture.h"

namespace llmbench::engine {
namespace {

using test::argmax;
using test::Fixture;
using test::fixture_dir;
using test::load_fixture;
using test::max_abs_diff;

constexpr int kNumBlocks = 128;
constexpr int kBlockSize = 4;
constexpr int kBlocksPerSeq = 24;  // 96 positions: the longest prompt (64) + 24 greedy tokens
constexpr float kFp32Tolerance = 1e-4f;

// Non-contiguous, disjoint block tables: sequence s gets blocks (s * 24 + j) * 37 mod 128.
std::vector<int32_t> block_table(int seq) {
  std::vector<int32_t> t;
  for (int j = 0; j < kBlocksPerSeq; ++j) t.push_back(((seq * kBlocksPerSeq + j) * 37) % kNumBlocks);
  return t;
}

std::unique_ptr<CudaModelRunner> load(const std::string& name, DType dtype = DType::kFloat32,
                                      const std::string& kv_cache_dtype = "auto") {
  LoadOptions o;
  o.model = fixture_dir(name);
  o.dtype = dtype;
  o.num_threads = 2;
  o.kv_cache_dtype = kv_cache_dtype;
  auto runner = CudaModelRunner::load(o);
  runner->allocate_kv_cache(kNumBlocks, kBlockSize);
  return runner;
}

float largest_magnitude(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

class CudaFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_P(CudaFixtureTest, PrefillLogitsMatchHuggingFace) {
  Fixture f = load_fixture(GetParam());
  auto runner = load(GetParam());
  ASSERT_EQ(runner->config().vocab_size, f.vocab);
  for (size_t p = 0; p < f.prompts.size(); ++p) {
    auto table = block_table(static_cast<int>(p));
    SequenceSlice s{f.prompts[p], 0, table, true};
    std::vector<float> logits(f.prompts[p].size() * f.vocab);
    runner->forward_all_logits({&s, 1}, logits.data());
    EXPECT_LT(max_abs_diff(logits.data(), f.logits[p].data(), logits.size()), kFp32Tolerance) << "prompt " << p;
  }
}

TEST_P(CudaFixtureTest, GreedyDecodeThroughPagedCacheMatchesHuggingFace) {
  Fixture f = load_fixture(GetParam());
  auto runner = load(GetParam());
  std::vector<float> logits(f.vocab);
  for (size_t p = 0; p < f.prompts.size(); ++p) {
    auto table = block_table(static_cast<int>(p));
    std::vector<int32_t> tokens = f.prompts[p];
    SequenceSlice prefill{tokens, 0, table, true};
    runner->forward({&prefill, 1}, logits.data());
    std::vector<int32_t> generated;
    for (size_t i = 0; i < f.greedy[p].size(); ++i) {
      const int32_t next = argmax(logits.data(), f.vocab);
      generated.push_back(next);
      tokens.push_back(next);
      SequenceSlice step{std::span<const int32_t>(&tokens.back(), 1), static_cast<int32_t>(tokens.size() - 1), table,
                         true};
      runner->forward({&step, 1}, logits.data());
    }
    EXPECT_EQ(generated, f.greedy[p]) << "prompt " << p;
  }
}

TEST_P(CudaFixtureTest, ChunkedPrefillGivesTheSameLogits) {
  Fixture f = load_fixture(GetParam());
  auto runner = load(GetParam());
  const auto& prompt = f.prompts[3];  // 64 tokens
  auto table = block_table(1);
  const int chunks[] = {5, 13, 1, 7, 2, 16, 20};
  size_t pos = 0;
  for (int c : chunks) {
    ASSERT_LE(pos + c, prompt.size());
    SequenceSlice s{std::span<const int32_t>(prompt).subspan(pos, c), static_cast<int32_t>(pos), table, true};
    std::vector<float> logits(static_cast<size_t>(c) * f.vocab);
    runner->forward_all_logits({&s, 1}, logits.data());
    EXPECT_LT(max_abs_diff(logits.data(), f.logits[3].data() + pos * f.vocab, logits.size()), kFp32Tolerance)
        << "chunk at " << pos;
    pos += c;
  }
  EXPECT_EQ(pos, prompt.size());
}

TEST_P(CudaFixtureTest, MixedStepGivesEachSequenceItsOwnLogits) {
  Fixture f = load_fixture(GetParam());
  auto runner = load(GetParam());
  std::vector<std::vector<int32_t>> tables;
  for (int s = 0; s < 4; ++s) tables.push_back(block_table(s));
  const auto& p1 = f.prompts[1];  // 7
  const auto& p2 = f.prompts[2];  // 23
  const auto& p3 = f.prompts[3];  // 64
  std::vector<float> sink(2 * f.vocab);
  SequenceSlice warm[] = {{std::span<const int32_t>(p2).first(22), 0, tables[2], false},
                          {std::span<const int32_t>(p3).first(30), 0, tables[3], true}};
  runner->forward(warm, sink.data());
  // One step: p1 full prefill, p2 decode, p3 a prefill chunk without logits, p0 prefill of 1 token.
  SequenceSlice step[] = {{p1, 0, tables[1], true},
                          {std::span<const int32_t>(p2).subspan(22, 1), 22, tables[2], true},
                          {std::span<const int32_t>(p3).subspan(30, 30), 30, tables[3], false},
                          {f.prompts[0], 0, tables[0], true}};
  std::vector<float> logits(3 * f.vocab);
  runner->forward(step, logits.data());
  EXPECT_LT(max_abs_diff(logits.data(), f.logits[1].data() + 6 * f.vocab, f.vocab), kFp32Tolerance);
  EXPECT_LT(max_abs_diff(logits.data() + f.vocab, f.logits[2].data() + 22 * f.vocab, f.vocab), kFp32Tolerance);
  EXPECT_LT(max_abs_diff(logits.data() + 2 * f.vocab, f.logits[0].data(), f.vocab), kFp32Tolerance);
  SequenceSlice rest{std::span<const int32_t>(p3).subspan(60), 60, tables[3], true};
  std::vector<float> last(4 * f.vocab);
  runner->forward_all_logits({&rest, 1}, last.data());
  EXPECT_LT(max_abs_diff(last.data(), f.logits[3].data() + 60 * f.vocab, last.size()), kFp32Tolerance);
}

// bf16 weights, bf16 GEMM inputs and a bf16 KV cache; the CPU runner's documented tolerance: max
// abs error <= 10% of the prompt's largest |logit|, argmax agrees on >= 90% of positions.
TEST_P(CudaFixtureTest, Bf16RuntimeIsClose) {
  Fixture f = load_fixture(GetParam());
  auto runner = load(GetParam(), DType::kBFloat16);
  ASSERT_EQ(runner->kv_cache_dtype(), DType::kBFloat16);
  int agree = 0, total = 0;
  for (size_t p = 0; p < f.prompts.size(); ++p) {
    auto table = block_table(static_cast<int>(p));
    SequenceSlice s{f.prompts[p], 0, table, true};
    std::vector<float> logits(f.prompts[p].size() * f.vocab);
    runner->forward_all_logits({&s, 1}, logits.data());
    const float err = max_abs_diff(logits.data(), f.logits[p].data(), logits.size());
    EXPECT_LT(err, 0.1f * largest_magnitude(f.logits[p])) << "prompt " << p;
    EXPECT_GT(err, 0.0f) << "prompt " << p << ": identical to fp32, so the weights were not bf16";
    for (size_t r = 0; r < f.prompts[p].size(); ++r, ++total) {
      agree += argmax(logits.data() + r * f.vocab, f.vocab) == argmax(f.logits[p].data() + r * f.vocab, f.vocab);
    }
  }
  EXPECT_GE(agree, total * 9 / 10) << agree << " of " << total;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaFixtureTest,
                         ::testing::Values("opt_tiny", "opt_tiny_bf16_sharded", "opt_tiny_postln_proj", "gpt2_tiny",
                                           "gpt2_tiny_fp16"));

// opt-125m's real shapes (dummy weights, bf16, head_dim 64, 50272-token vocabulary): one step of
// 32 decoding sequences and two prompt chunks gives the CPU runner's logits. Both round the same
// GEMM inputs to bf16 and accumulate in fp32, in different orders: max abs error <= 2% of the
// largest |logit|, argmax agrees on >= 90% of rows.
TEST(CudaModelRunner, MatchesTheCpuRunnerOnOpt125m) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  LoadOptions o;
  o.model = "opt-125m";
  o.load_format = "dummy";
  o.dtype = DType::kBFloat16;
  o.seed = 7;
  o.num_threads = 2;
  auto gpu = CudaModelRunner::load(o);
  auto cpu = CpuModelRunner::load(o);
  constexpr int kSeqs = 34, kBlock = 16, kTableBlocks = 8;
  gpu->allocate_kv_cache(kSeqs * kTableBlocks, kBlock);
  cpu->allocate_kv_cache(kSeqs * kTableBlocks, kBlock);
  const int V = gpu->config().vocab_size;
  std::vector<std::vector<int32_t>> prompts(kSeqs), tables(kSeqs);
  for (int s = 0; s < kSeqs; ++s) {
    for (int i = 0; i < 40 + s; ++i) prompts[s].push_back((s * 7919 + i * 104729) % V);
    for (int b = 0; b < kTableBlocks; ++b) tables[s].push_back((b * kSeqs + s * 5) % (kSeqs * kTableBlocks));
  }
  // Prefill the first 32 sequences but their last token; then one step: their last tokens (decode)
  // plus the whole prompts of the other two, as a prefill chunk each.
  std::vector<SequenceSlice> prefill, step;
  for (int s = 0; s < 32; ++s) {
    prefill.push_back({std::span<const int32_t>(prompts[s]).first(prompts[s].size() - 1), 0, tables[s], false});
    step.push_back(
        {std::span<const int32_t>(prompts[s]).last(1), static_cast<int32_t>(prompts[s].size() - 1), tables[s], true});
  }
  for (int s = 32; s < kSeqs; ++s) step.push_back({prompts[s], 0, tables[s], true});
  std::vector<float> sink(1), gpu_logits(static_cast<size_t>(kSeqs) * V), cpu_logits(gpu_logits.size());
  gpu->forward(prefill, sink.data());
  cpu->forward(prefill, sink.data());
  gpu->forward(step, gpu_logits.data());
  cpu->forward(step, cpu_logits.data());
  const float err = max_abs_diff(gpu_logits.data(), cpu_logits.data(), gpu_logits.size());
  EXPECT_LT(err, 0.02f * largest_magnitude(cpu_logits)) << "largest |logit| " << largest_magnitude(cpu_logits);
  int agree = 0;
  for (int r = 0; r < kSeqs; ++r) {
    agree += argmax(gpu_logits.data() + static_cast<size_t>(r) * V, V) ==
             argmax(cpu_logits.data() + static_cast<size_t>(r) * V, V);
  }
  EXPECT_GE(agree, kSeqs * 9 / 10) << agree << " of " << kSeqs;
}

// Decode steps replayed from captured CUDA graphs give exactly the logits of launching every
// kernel, across batch sizes (one graph each), growing contexts and a prefill step in between
// (which moves no buffer a graph reads, or invalidates the graphs if it does).
TEST(CudaModelRunner, GraphReplayEqualsEagerLaunches) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  LoadOptions o;
  o.model = "opt-125m";
  o.load_format = "dummy";
  o.dtype = DType::kBFloat16;
  o.seed = 3;
  o.num_threads = 2;
  auto graphs = CudaModelRunner::load(o);
  o.enforce_eager = true;
  auto eager = CudaModelRunner::load(o);
  ASSERT_EQ(eager->graphs_captured(), 0);
  constexpr int kSeqs = 40, kBlock = 16, kTableBlocks = 4;
  for (auto* r : {graphs.get(), eager.get()}) r->allocate_kv_cache(kSeqs * kTableBlocks, kBlock);
  const int V = graphs->config().vocab_size;
  std::vector<std::vector<int32_t>> tokens(kSeqs), tables(kSeqs);
  for (int s = 0; s < kSeqs; ++s) {
    for (int i = 0; i < 5 + s; ++i) tokens[s].push_back((s * 131 + i * 977) % V);
    for (int b = 0; b < kTableBlocks; ++b) tables[s].push_back(s * kTableBlocks + b);
  }
  std::vector<float> a(static_cast<size_t>(kSeqs) * V), b(a.size());
  auto prefill = [&](int first, int count) {
    std::vector<SequenceSlice> slices;
    for (int s = first; s < first + count; ++s) slices.push_back({tokens[s], 0, tables[s], true});
    graphs->forward(slices, a.data());
    eager->forward(slices, b.data());
    EXPECT_EQ(a, b) << "prefill";
  };
  auto decode = [&](int count) {
    std::vector<SequenceSlice> slices;
    for (int s = 0; s < count; ++s) {
      tokens[s].push_back((tokens[s].back() * 31 + 7) % V);
      slices.push_back({std::span<const int32_t>(&tokens[s].back(), 1), static_cast<int32_t>(tokens[s].size() - 1),
                        tables[s], true});
    }
    graphs->forward(slices, a.data());
    eager->forward(slices, b.data());
    ASSERT_TRUE(std::equal(a.begin(), a.begin() + static_cast<ptrdiff_t>(count) * V, b.begin())) << count << " rows";
  };
  prefill(0, 32);
  for (int count : {1, 3, 32, 32, 1, 3, 32}) decode(count);
  const int captured = graphs->graphs_captured();
  EXPECT_EQ(captured, 3);  // one per row count, replayed after
  prefill(32, 8);
  for (int count : {40, 32, 1}) decode(count);
  EXPECT_GE(graphs->graphs_captured(), captured + 1);
  EXPECT_EQ(eager->graphs_captured(), 0);
}

TEST(CudaModelRunner, RejectsBadSlicesAndForwardBeforeTheCache) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  LoadOptions o;
  o.model = fixture_dir("opt_tiny");
  auto runner = CudaModelRunner::load(o);
  std::vector<int32_t> tokens{1, 2, 3};
  std::vector<int32_t> table{0};
  std::vector<float> logits(runner->config().vocab_size);
  SequenceSlice s{tokens, 0, table, true};
  EXPECT_THROW(runner->forward({&s, 1}, logits.data()), std::logic_error);
  runner->allocate_kv_cache(4, kBlockSize);
  std::vector<int32_t> bad_token{1, 100000};
  SequenceSlice bad{bad_token, 0, table, true};
  EXPECT_THROW(runner->forward({&bad, 1}, logits.data()), std::invalid_argument);
  std::vector<int32_t> long_tokens(9, 1);  // needs 3 blocks of 4
  SequenceSlice too_long{long_tokens, 0, table, true};
  EXPECT_THROW(runner->forward({&too_long, 1}, logits.data()), std::invalid_argument);
  runner->forward({&s, 1}, logits.data());  // still usable
  EXPECT_TRUE(std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); }));
}

}  // namespace
}  // namespace llmbench::engine

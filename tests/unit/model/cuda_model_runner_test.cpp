// What only the CUDA model runner has: its logits against the CPU runner's on opt-125m's real
// shapes, and decode steps replayed from CUDA graphs. (The Hugging Face fixture tests of
// model_runner_test and engine_fixture_test run on both backends.) Built only with the CUDA
// backend; skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/cpu_model_runner.h"
#include "engine/cuda/cuda_model_runner.h"
#include "model_fixture.h"

namespace llmbench::engine {
namespace {

using test::argmax;
using test::max_abs_diff;

float largest_magnitude(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

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

}  // namespace
}  // namespace llmbench::engine

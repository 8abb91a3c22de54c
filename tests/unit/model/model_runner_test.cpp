// The model runners against Hugging Face: float64 reference logits and greedy continuations of
// the tiny fixtures, through the normal loader and the paged KV cache. Every test runs on the CPU
// backend and on the CUDA backend where this build has it and sees a GPU (skipped otherwise).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <tuple>

#include "engine/cpu_model_runner.h"
#include "model_fixture.h"

namespace llmbench::engine {
namespace {

using test::argmax;
using test::Fixture;
using test::fixture_dir;
using test::largest_magnitude;
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

std::unique_ptr<ModelRunner> load(const std::string& name, const std::string& device, DType dtype = DType::kFloat32,
                                  int threads = 2, const std::string& kv_cache_dtype = "auto") {
  LoadOptions o;
  o.model = fixture_dir(name);
  o.dtype = dtype;
  o.num_threads = threads;
  o.kv_cache_dtype = kv_cache_dtype;
  o.device = device;
  auto runner = load_model(o);
  runner->allocate_kv_cache(kNumBlocks, kBlockSize);
  return runner;
}

bool device_missing(const std::string& device) {
  return device == "cuda" && default_device() != "cuda";
}

// (fixture model, device).
class FixtureTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    if (device_missing(device())) GTEST_SKIP() << "no CUDA backend in this build, or no GPU";
  }
  const std::string& model() const { return std::get<0>(GetParam()); }
  const std::string& device() const { return std::get<1>(GetParam()); }
  std::unique_ptr<ModelRunner> load_runner(DType dtype = DType::kFloat32, int threads = 2,
                                           const std::string& kv_cache_dtype = "auto") const {
    return load(model(), device(), dtype, threads, kv_cache_dtype);
  }
};

TEST_P(FixtureTest, PrefillLogitsMatchHuggingFace) {
  Fixture f = load_fixture(model());
  for (int threads : {1, 2}) {
    auto runner = load_runner(DType::kFloat32, threads);
    ASSERT_EQ(runner->config().vocab_size, f.vocab);
    for (size_t p = 0; p < f.prompts.size(); ++p) {
      const auto& prompt = f.prompts[p];
      auto table = block_table(static_cast<int>(p));
      SequenceSlice s{prompt, 0, table, true};
      std::vector<float> logits(prompt.size() * f.vocab);
      runner->forward_all_logits({&s, 1}, logits.data());
      EXPECT_LT(max_abs_diff(logits.data(), f.logits[p].data(), logits.size()), kFp32Tolerance)
          << "prompt " << p << " threads " << threads;
    }
  }
}

TEST_P(FixtureTest, GreedyDecodeThroughPagedCacheMatchesHuggingFace) {
  Fixture f = load_fixture(model());
  auto runner = load_runner();
  std::vector<float> logits(f.vocab);
  for (size_t p = 0; p < f.prompts.size(); ++p) {
    auto table = block_table(static_cast<int>(p));
    std::vector<int32_t> tokens = f.prompts[p];
    SequenceSlice prefill{tokens, 0, table, true};
    runner->forward({&prefill, 1}, logits.data());
    std::vector<int32_t> generated;
    for (size_t i = 0; i < f.greedy[p].size(); ++i) {
      int32_t next = argmax(logits.data(), f.vocab);
      generated.push_back(next);
      tokens.push_back(next);
      SequenceSlice step{std::span<const int32_t>(&tokens.back(), 1), static_cast<int32_t>(tokens.size() - 1), table,
                         true};
      runner->forward({&step, 1}, logits.data());
    }
    EXPECT_EQ(generated, f.greedy[p]) << "prompt " << p;
  }
}

TEST_P(FixtureTest, ChunkedPrefillGivesTheSameLogits) {
  Fixture f = load_fixture(model());
  auto runner = load_runner();
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

TEST_P(FixtureTest, MixedStepGivesEachSequenceItsOwnLogits) {
  Fixture f = load_fixture(model());
  auto runner = load_runner();
  std::vector<std::vector<int32_t>> tables;
  for (int s = 0; s < 4; ++s) tables.push_back(block_table(s));
  const auto& p1 = f.prompts[1];  // 7
  const auto& p2 = f.prompts[2];  // 23
  const auto& p3 = f.prompts[3];  // 64
  // Warm up: p2 has its first 22 tokens cached (decodes its last), p3 its first 30 (prefills 30 more).
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
  // p3's cache is complete up to 60: its remaining 4 tokens give the reference logits.
  SequenceSlice rest{std::span<const int32_t>(p3).subspan(60), 60, tables[3], true};
  std::vector<float> last(4 * f.vocab);
  runner->forward_all_logits({&rest, 1}, last.data());
  EXPECT_LT(max_abs_diff(last.data(), f.logits[3].data() + 60 * f.vocab, last.size()), kFp32Tolerance);
}

// bf16 weights and bf16-rounded activations into the GEMMs (fp32 accumulation, fp32 everything
// else). Documented tolerance: max abs error <= 10% of the largest |logit| of the prompt (measured
// ~5% on these fixtures: 0.48 on logits up to 10), and the argmax agrees on >= 90% of positions.
TEST_P(FixtureTest, Bf16RuntimeIsClose) {
  Fixture f = load_fixture(model());
  auto runner = load_runner(DType::kBFloat16);
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

// fp32 weights over a bf16 KV cache (--kv-cache-dtype bfloat16): K and V rounded to bf16, all
// sums in fp32. Tolerance: max abs error <= 5% of the largest |logit| (bf16 keeps 8 bits of
// mantissa; measured up to 2.2% on these fixtures), argmax agrees on >= 95% of positions.
TEST_P(FixtureTest, Bf16KvCacheIsClose) {
  Fixture f = load_fixture(model());
  auto runner = load_runner(DType::kFloat32, 2, "bfloat16");
  int agree = 0, total = 0;
  for (size_t p = 0; p < f.prompts.size(); ++p) {
    auto table = block_table(static_cast<int>(p));
    SequenceSlice s{f.prompts[p], 0, table, true};
    std::vector<float> logits(f.prompts[p].size() * f.vocab);
    runner->forward_all_logits({&s, 1}, logits.data());
    const float err = max_abs_diff(logits.data(), f.logits[p].data(), logits.size());
    EXPECT_LT(err, 0.05f * largest_magnitude(f.logits[p])) << "prompt " << p;
    EXPECT_GT(err, 0.0f) << "prompt " << p << ": identical to fp32, so the cache was not bf16";
    for (size_t r = 0; r < f.prompts[p].size(); ++r, ++total) {
      agree += argmax(logits.data() + r * f.vocab, f.vocab) == argmax(f.logits[p].data() + r * f.vocab, f.vocab);
    }
  }
  EXPECT_GE(agree, total * 95 / 100) << agree << " of " << total;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Combine(::testing::Values("opt_tiny", "opt_tiny_bf16_sharded",
                                                              "opt_tiny_postln_proj", "gpt2_tiny", "gpt2_tiny_fp16"),
                                            ::testing::Values("cpu", "cuda")),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

class CpuFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuFixtureTest, ScalarKernelsMatchHuggingFace) {
  Fixture f = load_fixture(GetParam());
  auto runner = CpuModelRunner::load({.model = fixture_dir(GetParam())});
  runner->allocate_kv_cache(kNumBlocks, kBlockSize);
  runner->set_kernels(cpu::scalar_kernels());
  const size_t p = 2;
  auto table = block_table(0);
  SequenceSlice s{f.prompts[p], 0, table, true};
  std::vector<float> logits(f.prompts[p].size() * f.vocab);
  runner->forward_all_logits({&s, 1}, logits.data());
  EXPECT_LT(max_abs_diff(logits.data(), f.logits[p].data(), logits.size()), kFp32Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CpuFixtureTest,
                         ::testing::Values("opt_tiny", "opt_tiny_bf16_sharded", "opt_tiny_postln_proj", "gpt2_tiny",
                                           "gpt2_tiny_fp16"));

class DeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (device_missing(GetParam())) GTEST_SKIP() << "no CUDA backend in this build, or no GPU";
  }
};

TEST(ModelRunner, KvCacheDtypeFollowsTheWeightsUnlessSet) {
  auto fp32 = CpuModelRunner::load({.model = fixture_dir("opt_tiny")});
  auto bf16 = CpuModelRunner::load({.model = fixture_dir("opt_tiny"), .dtype = DType::kBFloat16});
  auto bf16_fp32_cache =
      CpuModelRunner::load({.model = fixture_dir("opt_tiny"), .dtype = DType::kBFloat16, .kv_cache_dtype = "float32"});
  EXPECT_EQ(fp32->kv_cache_dtype(), DType::kFloat32);
  EXPECT_EQ(bf16->kv_cache_dtype(), DType::kBFloat16);
  EXPECT_EQ(bf16_fp32_cache->kv_cache_dtype(), DType::kFloat32);
}

TEST_P(DeviceTest, KvCacheBytesFollowTheCacheDtype) {
  auto fp32 = load("opt_tiny", GetParam());
  auto bf16 = load("opt_tiny", GetParam(), DType::kBFloat16);
  auto bf16_fp32_cache = load("opt_tiny", GetParam(), DType::kBFloat16, 2, "float32");
  EXPECT_EQ(fp32->kv_bytes_per_block(16), 2 * bf16->kv_bytes_per_block(16));
  EXPECT_EQ(fp32->kv_bytes_per_block(16), bf16_fp32_cache->kv_bytes_per_block(16));
  EXPECT_THROW(load("opt_tiny", GetParam(), DType::kFloat32, 2, "fp8"), std::runtime_error);
}

TEST_P(DeviceTest, RejectsBadSlices) {
  auto runner = load("opt_tiny", GetParam());
  std::vector<float> logits(512);
  std::vector<int32_t> tokens = {5, 6, 7};
  std::vector<int32_t> short_table = {0};
  SequenceSlice too_few_blocks{tokens, 2, short_table, true};
  EXPECT_THROW(runner->forward({&too_few_blocks, 1}, logits.data()), std::invalid_argument);
  std::vector<int32_t> bad_block = {0, kNumBlocks};
  SequenceSlice out_of_range{tokens, 2, bad_block, true};
  EXPECT_THROW(runner->forward({&out_of_range, 1}, logits.data()), std::invalid_argument);
  std::vector<int32_t> bad_token = {512};
  auto table = block_table(0);
  SequenceSlice token{bad_token, 0, table, true};
  EXPECT_THROW(runner->forward({&token, 1}, logits.data()), std::invalid_argument);
  std::vector<int32_t> table_long(40);
  std::iota(table_long.begin(), table_long.end(), 0);
  SequenceSlice past_end{tokens, 126, table_long, true};  // max_position 128
  EXPECT_THROW(runner->forward({&past_end, 1}, logits.data()), std::invalid_argument);
}

TEST_P(DeviceTest, ForwardBeforeKvCacheThrows) {
  LoadOptions o;
  o.model = fixture_dir("opt_tiny");
  o.device = GetParam();
  auto runner = load_model(o);
  std::vector<int32_t> tokens = {5};
  std::vector<int32_t> table = {0};
  SequenceSlice s{tokens, 0, table, true};
  std::vector<float> logits(512);
  EXPECT_THROW(runner->forward({&s, 1}, logits.data()), std::logic_error);
  runner->allocate_kv_cache(4, kBlockSize);
  runner->forward({&s, 1}, logits.data());  // usable once the cache exists
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceTest, ::testing::Values("cpu", "cuda"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace llmbench::engine

// The paged KV cache and its two attention paths: the per-sequence decode walk over all heads
// against the per-head path, and K/V stored head by head against all heads at once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_kernels.h"
#include "engine/paged_attention.h"
#include "engine/safetensors_file.h"

namespace llmbench::engine {
namespace {

constexpr int kLayers = 2, kBlocks = 16, kBlockSize = 4, kHeads = 3, kHeadDim = 32;
constexpr int kD = kHeads * kHeadDim;

std::vector<float> random_rows(int rows, int cols, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  for (auto& x : v) x = dist(rng);
  return v;
}

class PagedAttention : public ::testing::TestWithParam<DType> {};

TEST_P(PagedAttention, DecodeOverAllHeadsMatchesEachHeadAlone) {
  std::mt19937 rng(3);
  const std::vector<int32_t> table = {9, 2, 14, 5, 0, 11};  // scattered, as the block manager hands them out
  for (const cpu::Kernels* kern : {&cpu::scalar_kernels(), cpu::avx512_kernels()}) {
    if (kern == nullptr) continue;
    for (int context : {1, 3, 4, 5, 13, 21}) {
      PagedKvCache cache;
      cache.allocate(kLayers, kBlocks, kBlockSize, kHeads, kHeadDim, GetParam());
      const auto qkv = random_rows(context, 3 * kD, rng);
      // The first context - 1 tokens as a prompt chunk, then the last one as the decode token.
      if (context > 1) cache.write(*kern, 1, qkv.data(), 3 * kD, 0, context - 1, table);
      cache.write(*kern, 1, qkv.data() + static_cast<size_t>(context - 1) * 3 * kD, 3 * kD, context - 1, 1, table);
      const float* q = qkv.data() + static_cast<size_t>(context - 1) * 3 * kD;
      std::vector<float> per_head(kD, -1.0f), all(kD, -2.0f);
      std::vector<float> scores(static_cast<size_t>(context) + 16);
      for (int h = 0; h < kHeads; ++h) {
        paged_attention_head(*kern, cache, 1, h, kHeadDim, 0.2f, q, 3 * kD, context - 1, 1, table, per_head.data(), kD,
                             scores.data());
      }
      std::vector<float> scratch(decode_scratch_floats(kHeads, kBlockSize));
      paged_attention_decode(*kern, cache, 1, 0.2f, q, context, table, all.data(), scratch.data());
      for (int i = 0; i < kD; ++i) {  // the online softmax rounds differently from the two-pass one
        ASSERT_NEAR(all[i], per_head[i], 2e-6f * (1.0f + std::abs(per_head[i])))
            << kern->name << " context " << context << " element " << i;
      }
      // Head groups (as the runner splits a lone sequence across threads) give the same output.
      std::vector<float> split(kD, -3.0f);
      paged_attention_decode(*kern, cache, 1, 0.2f, q, context, table, split.data(), scratch.data(), 0, 1);
      paged_attention_decode(*kern, cache, 1, 0.2f, q, context, table, split.data(), scratch.data(), 1, kHeads);
      ASSERT_EQ(split, all) << kern->name << " context " << context;
      // And against attention computed directly from the rows (K/V rounded as the cache stores them).
      for (int h = 0; h < kHeads; ++h) {
        std::vector<double> w(context);
        double mx = -1e300, sum = 0.0;
        auto stored = [&](float v) { return GetParam() == DType::kBFloat16 ? bf16_to_float(float_to_bf16(v)) : v; };
        for (int j = 0; j < context; ++j) {
          double s = 0.0;
          for (int i = 0; i < kHeadDim; ++i)
            s += static_cast<double>(q[h * kHeadDim + i]) *
                 stored(qkv[static_cast<size_t>(j) * 3 * kD + kD + h * kHeadDim + i]);
          w[j] = s * 0.2;
          mx = std::max(mx, w[j]);
        }
        for (auto& v : w) sum += (v = std::exp(v - mx));
        for (int i = 0; i < kHeadDim; ++i) {
          double o = 0.0;
          for (int j = 0; j < context; ++j)
            o += w[j] / sum * stored(qkv[static_cast<size_t>(j) * 3 * kD + 2 * kD + h * kHeadDim + i]);
          ASSERT_NEAR(all[h * kHeadDim + i], o, 1e-4) << kern->name << " context " << context << " head " << h;
        }
      }
    }
  }
}

TEST_P(PagedAttention, WritingHeadByHeadEqualsWritingAllHeads) {
  std::mt19937 rng(4);
  const std::vector<int32_t> table = {3, 7, 1};
  const cpu::Kernels& kern = cpu::best_kernels();
  const auto qkv = random_rows(10, 3 * kD, rng);
  PagedKvCache whole, by_head;
  whole.allocate(kLayers, kBlocks, kBlockSize, kHeads, kHeadDim, GetParam());
  by_head.allocate(kLayers, kBlocks, kBlockSize, kHeads, kHeadDim, GetParam());
  whole.write(kern, 0, qkv.data(), 3 * kD, 2, 10, table);
  for (int h = kHeads - 1; h >= 0; --h) by_head.write(kern, 0, qkv.data(), 3 * kD, 2, 10, table, h, h + 1);
  const size_t tile = static_cast<size_t>(kBlockSize) * kHeadDim * PagedKvCache::element_bytes(GetParam());
  for (int32_t b : table) {
    for (int h = 0; h < kHeads; ++h) {
      ASSERT_EQ(std::memcmp(whole.k(0, b, h), by_head.k(0, b, h), tile), 0) << "block " << b << " head " << h;
      ASSERT_EQ(std::memcmp(whole.v(0, b, h), by_head.v(0, b, h), tile), 0) << "block " << b << " head " << h;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvDtypes, PagedAttention, ::testing::Values(DType::kFloat32, DType::kBFloat16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(info.param == DType::kFloat32 ? "fp32" : "bf16");
                         });

}  // namespace
}  // namespace llmbench::engine

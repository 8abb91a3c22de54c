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
      std::vector<float> scores(prefill_scratch_floats(context, kHeadDim));
      for (int h = 0; h < kHeads; ++h) {
        paged_attention_head(*kern, cache, 1, h, kHeadDim, 0.2f, q, 3 * kD, context - 1, 1, table, per_head.data(), kD,
                             scores.data());
      }
      std::vector<float> scratch(decode_scratch_floats(kHeads, kHeadDim, kBlockSize));
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

// The AVX-512 set's whole-decode kernel (16-token blocks, head_dim 32/64/128, bf16 cache) against
// the scalar helpers composed by paged_attention_decode and against attention in double
// precision, over partial blocks, a context of one token, head groups and large score ranges (the
// running maximum then rises block after block).
TEST(PagedAttentionKernel, FusedBf16DecodeMatchesComposedAndNaive) {
  const cpu::Kernels* fast = cpu::avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  ASSERT_NE(fast->decode_attention_bf16, nullptr);
  std::mt19937 rng(5);
  constexpr int kBs = 16, kH = 3, kBlocksHere = 24;
  for (int hd : {32, 64, 128}) {
    const int d = kH * hd;
    for (int context : {1, 2, 15, 16, 17, 33, 100, 160}) {
      for (float spread : {1.0f, 6.0f}) {
        std::vector<int32_t> table;
        for (int b = 0; b * kBs < context; ++b) table.push_back((b * 7 + 3) % kBlocksHere);
        PagedKvCache cache;
        cache.allocate(1, kBlocksHere, kBs, kH, hd, DType::kBFloat16);
        auto qkv = random_rows(context, 3 * d, rng);
        for (int j = 0; j < context; ++j)  // keys drift upward: later blocks raise the running max
          for (int i = 0; i < d; ++i) qkv[static_cast<size_t>(j) * 3 * d + d + i] *= spread * (1.0f + j / 50.0f);
        cache.write(*fast, 0, qkv.data(), 3 * d, 0, context, table);
        const float* q = qkv.data() + static_cast<size_t>(context - 1) * 3 * d;
        std::vector<float> scratch(decode_scratch_floats(kH, hd, kBs));
        std::vector<float> fused(d, -1.0f), composed(d, -2.0f), split(d, -3.0f);
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        paged_attention_decode(*fast, cache, 0, scale, q, context, table, fused.data(), scratch.data());
        paged_attention_decode(cpu::scalar_kernels(), cache, 0, scale, q, context, table, composed.data(),
                               scratch.data());
        paged_attention_decode(*fast, cache, 0, scale, q, context, table, split.data(), scratch.data(), 0, 1);
        paged_attention_decode(*fast, cache, 0, scale, q, context, table, split.data(), scratch.data(), 1, kH);
        ASSERT_EQ(split, fused) << "head groups, hd " << hd << " context " << context;
        for (int h = 0; h < kH; ++h) {
          std::vector<double> w(context);
          double mx = -1e300, sum = 0.0;
          auto stored = [&](int row, int col) {
            return bf16_to_float(float_to_bf16(qkv[static_cast<size_t>(row) * 3 * d + col]));
          };
          for (int j = 0; j < context; ++j) {
            double sc = 0.0;
            for (int i = 0; i < hd; ++i) sc += static_cast<double>(q[h * hd + i]) * stored(j, d + h * hd + i);
            mx = std::max(mx, w[j] = sc * scale);
          }
          for (auto& v : w) sum += (v = std::exp(v - mx));
          for (int i = 0; i < hd; ++i) {
            double o = 0.0;
            for (int j = 0; j < context; ++j) o += w[j] / sum * stored(j, 2 * d + h * hd + i);
            const size_t at = static_cast<size_t>(h) * hd + i;
            ASSERT_NEAR(fused[at], o, 1e-4 * (1.0 + std::abs(o)))
                << "hd " << hd << " context " << context << " spread " << spread << " head " << h << " dim " << i;
            ASSERT_NEAR(fused[at], composed[at], 1e-5f * (1.0f + std::abs(composed[at])));
          }
        }
      }
    }
  }
  // Shapes it does not take are left to the composed path.
  cpu::DecodeAttentionArgs other;
  other.cache.block_size = 8;
  other.cache.head_dim = 64;
  EXPECT_FALSE(fast->decode_attention_bf16(other));
  other.cache.block_size = 16;
  other.cache.head_dim = 80;
  EXPECT_FALSE(fast->decode_attention_bf16(other));
}

// The AVX-512 set's prompt-chunk kernel (4 query rows per pass, 16-token blocks, head_dim 32/64,
// bf16 cache) against the scalar per-query path and double precision: chunks that start at 0 or
// after cached tokens, at or across block edges, shorter and longer than a 4-row tile; the other
// heads' output columns stay untouched.
TEST(PagedAttentionKernel, FusedBf16PrefillMatchesComposedAndNaive) {
  const cpu::Kernels* fast = cpu::avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  ASSERT_NE(fast->prefill_attention_bf16, nullptr);
  std::mt19937 rng(6);
  constexpr int kBs = 16, kH = 3, kBlocksHere = 16;
  for (int hd : {32, 64}) {
    const int d = kH * hd;
    for (int start : {0, 5, 16, 37}) {
      for (int count : {1, 3, 4, 5, 16, 33, 70}) {
        const int context = start + count;
        std::vector<int32_t> table;
        for (int b = 0; b * kBs < context; ++b) table.push_back((b * 5 + 2) % kBlocksHere);
        PagedKvCache cache;
        cache.allocate(1, kBlocksHere, kBs, kH, hd, DType::kBFloat16);
        auto qkv = random_rows(context, 3 * d, rng);
        for (int j = 0; j < context; ++j)  // later keys larger: the running max keeps rising
          for (int i = 0; i < d; ++i) qkv[static_cast<size_t>(j) * 3 * d + d + i] *= 1.0f + j / 20.0f;
        cache.write(*fast, 0, qkv.data(), 3 * d, 0, context, table);
        const float* q = qkv.data() + static_cast<size_t>(start) * 3 * d;
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        std::vector<float> scores(prefill_scratch_floats(context, hd));
        std::vector<float> fused(static_cast<size_t>(count) * d, -1.0f), composed(fused.size(), -2.0f);
        const int head = 1;
        paged_attention_head(*fast, cache, 0, head, hd, scale, q, 3 * d, start, count, table, fused.data(), d,
                             scores.data());
        paged_attention_head(cpu::scalar_kernels(), cache, 0, head, hd, scale, q, 3 * d, start, count, table,
                             composed.data(), d, scores.data());
        for (int r = 0; r < count; ++r) {
          const int pos = start + r;
          const float* qr = q + static_cast<size_t>(r) * 3 * d + head * hd;
          std::vector<double> w(static_cast<size_t>(pos) + 1);
          double mx = -1e300, sum = 0.0;
          auto stored = [&](int row, int col) {
            return bf16_to_float(float_to_bf16(qkv[static_cast<size_t>(row) * 3 * d + col]));
          };
          for (int j = 0; j <= pos; ++j) {
            double sc = 0.0;
            for (int i = 0; i < hd; ++i) sc += static_cast<double>(qr[i]) * stored(j, d + head * hd + i);
            mx = std::max(mx, w[static_cast<size_t>(j)] = sc * scale);
          }
          for (auto& v : w) sum += (v = std::exp(v - mx));
          for (int c = 0; c < d; ++c) {
            const size_t at = static_cast<size_t>(r) * d + c;
            if (c / hd != head) {
              ASSERT_EQ(fused[at], -1.0f) << "wrote another head's column " << c;
              continue;
            }
            double o = 0.0;
            for (int j = 0; j <= pos; ++j) o += w[static_cast<size_t>(j)] / sum * stored(j, 2 * d + c);
            ASSERT_NEAR(fused[at], o, 1e-4 * (1.0 + std::abs(o)))
                << "hd " << hd << " start " << start << " count " << count << " row " << r << " dim " << c % hd;
            ASSERT_NEAR(fused[at], composed[at], 1e-5f * (1.0f + std::abs(composed[at])));
          }
        }
      }
    }
  }
  cpu::PrefillAttentionArgs other;
  other.cache.block_size = 16;
  other.cache.head_dim = 128;
  EXPECT_FALSE(fast->prefill_attention_bf16(other));
}

INSTANTIATE_TEST_SUITE_P(KvDtypes, PagedAttention, ::testing::Values(DType::kFloat32, DType::kBFloat16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(info.param == DType::kFloat32 ? "fp32" : "bf16");
                         });

}  // namespace
}  // namespace llmbench::engine

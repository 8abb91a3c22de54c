// What only the CUDA model runner has: its logits against the CPU runner's on opt-125m's real
// shapes, and decode steps replayed from CUDA graphs. (The Hugging Face fixture tests of
// model_runner_test and engine_fixture_test run on both backends.) Built only with the CUDA
// backend; skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <cuda_runtime_api.h>

#include <random>

#include "engine/cpu_model_runner.h"
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/safetensors_file.h"
#include "model_fixture.h"

namespace llmbench::engine {
namespace {

using test::argmax;
using test::largest_magnitude;
using test::max_abs_diff;

// opt-125m's real shapes, seeded random bf16 weights.
LoadOptions dummy_opt125m(uint64_t seed) {
  return {.model = "opt-125m", .load_format = "dummy", .dtype = DType::kBFloat16, .seed = seed, .num_threads = 2};
}

// opt-125m's real shapes (dummy weights, bf16, head_dim 64, 50272-token vocabulary): one step of
// 32 decoding sequences and two prompt chunks gives the CPU runner's logits. Both round the same
// GEMM inputs to bf16 and accumulate in fp32, in different orders: max abs error <= 2% of the
// largest |logit|, argmax agrees on >= 90% of rows.
TEST(CudaModelRunner, MatchesTheCpuRunnerOnOpt125m) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  LoadOptions o = dummy_opt125m(7);
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
  LoadOptions o = dummy_opt125m(3);
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

// The attention kernel alone against a float64 reference, for every head-dim class it has (tiles of
// 16, 8 and 4 rows, and its one-row instance), fp32 and bf16 caches: a 37-row prompt chunk at positions 5..41 (tiles
// that end mid-chunk, keys up to 42 over blocks of 4) and a decode row at position 20 of another sequence, in one
// launch.
TEST(CudaKernels, AttentionMatchesReference) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  constexpr int H = 2, B = 4, NB = 24, kChunkStart = 5, kChunkRows = 37, kDecodePos = 20;
  for (int D : {16, 64, 96, 128, 256}) {
    for (cuda::ElementType type : {cuda::ElementType::kFloat32, cuda::ElementType::kBFloat16}) {
      for (bool single_rows : {false, true}) {  // tiles as a prefill step makes them, or a row each (decode)
        SCOPED_TRACE("head dim " + std::to_string(D) + (type == cuda::ElementType::kBFloat16 ? " bf16" : " fp32") +
                     (single_rows ? ", one-row tiles" : ""));
        const int d = H * D, T = kChunkRows + 1;
        std::mt19937 rng(static_cast<unsigned>(D));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        // Sequence 0 owns blocks 0..11 reversed, sequence 1 blocks 12..23: tables [11..0 | 12..23].
        std::vector<int32_t> tables;
        for (int b = 11; b >= 0; --b) tables.push_back(b);
        for (int b = 12; b < 24; ++b) tables.push_back(b);
        // Keys and values of every position either sequence reads, rounded as the cache stores them.
        const size_t cache_elems = static_cast<size_t>(NB) * 2 * H * B * D;
        std::vector<float> cache(cache_elems);
        for (float& v : cache) {
          v = normal(rng);
          if (type == cuda::ElementType::kBFloat16) v = bf16_to_float(float_to_bf16(v));
        }
        auto at = [&](int seq, int pos, int kv, int h) {
          const int block = tables[static_cast<size_t>(seq * 12 + pos / B)];
          return cache.data() + ((((static_cast<size_t>(block) * 2 + kv) * H + h) * B + pos % B) * D);
        };
        std::vector<float> qkv(static_cast<size_t>(T) * 3 * d);
        for (float& v : qkv) v = normal(rng);
        std::vector<cuda::RowInfo> rows;
        for (int i = 0; i < kChunkRows; ++i) rows.push_back({kChunkStart + i, 0});
        rows.push_back({kDecodePos, 12});
        std::vector<cuda::TileInfo> tiles;
        const int tile_rows = single_rows ? 1 : cuda::attention_tile_rows(D);
        for (int i = 0; i < kChunkRows; i += tile_rows) tiles.push_back({i, std::min(tile_rows, kChunkRows - i)});
        tiles.push_back({kChunkRows, 1});
        // Device copies.
        std::vector<uint16_t> cache_bf16(cache_elems);
        for (size_t i = 0; i < cache_elems; ++i) cache_bf16[i] = float_to_bf16(cache[i]);
        const bool bf16 = type == cuda::ElementType::kBFloat16;
        auto device = [](const void* host, size_t bytes) {
          void* p = nullptr;
          EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
          EXPECT_EQ(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice), cudaSuccess);
          return p;
        };
        void* d_cache = bf16 ? device(cache_bf16.data(), cache_elems * 2) : device(cache.data(), cache_elems * 4);
        void* d_qkv = device(qkv.data(), qkv.size() * sizeof(float));
        void* d_rows = device(rows.data(), rows.size() * sizeof(cuda::RowInfo));
        void* d_tiles = device(tiles.data(), tiles.size() * sizeof(cuda::TileInfo));
        void* d_tables = device(tables.data(), tables.size() * sizeof(int32_t));
        void* d_out = nullptr;
        ASSERT_EQ(cudaMalloc(&d_out, static_cast<size_t>(T) * d * sizeof(float)), cudaSuccess);
        const float scale = 1.0f / std::sqrt(static_cast<float>(D));
        const cuda::KvCacheView kv{d_cache, type, NB, B, H, D};
        cuda::attention(static_cast<const float*>(d_qkv), static_cast<const cuda::RowInfo*>(d_rows),
                        static_cast<const cuda::TileInfo*>(d_tiles), static_cast<int>(tiles.size()), single_rows,
                        static_cast<const int32_t*>(d_tables), kv, 0, scale, d_out, cuda::ElementType::kFloat32,
                        nullptr);
        ASSERT_EQ(cudaGetLastError(), cudaSuccess);
        std::vector<float> out(static_cast<size_t>(T) * d);
        ASSERT_EQ(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
        for (void* p : {d_cache, d_qkv, d_rows, d_tiles, d_tables, d_out}) cudaFree(p);
        // Reference, in double.
        double worst = 0.0;
        for (int r = 0; r < T; ++r) {
          const int seq = r < kChunkRows ? 0 : 1, pos = rows[static_cast<size_t>(r)].position;
          for (int h = 0; h < H; ++h) {
            const float* q = qkv.data() + static_cast<size_t>(r) * 3 * d + h * D;
            std::vector<double> w(static_cast<size_t>(pos) + 1);
            double top = -1e300, total = 0.0;
            for (int j = 0; j <= pos; ++j) {
              double dot = 0.0;
              for (int e = 0; e < D; ++e) dot += static_cast<double>(q[e]) * scale * at(seq, j, 0, h)[e];
              w[static_cast<size_t>(j)] = dot;
              top = std::max(top, dot);
            }
            for (double& x : w) total += (x = std::exp(x - top));
            for (int e = 0; e < D; ++e) {
              double v = 0.0;
              for (int j = 0; j <= pos; ++j) v += w[static_cast<size_t>(j)] * at(seq, j, 1, h)[e];
              worst = std::max(worst, std::abs(v / total - out[static_cast<size_t>(r) * d + h * D + e]));
            }
          }
        }
        EXPECT_LT(worst, 2e-5);
      }
    }
  }
}

}  // namespace
}  // namespace llmbench::engine

// The AVX-512 kernels against the scalar reference, over shapes with ragged edges.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/cpu_kernels.h"
#include "engine/cpu_thread_pool.h"

namespace llmbench::engine::cpu {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void run_gemm(const Kernels& k, const PackedMatrix& w, const std::vector<float>& x, int rows,
              const std::vector<float>& bias, Epilogue epi, bool accumulate, std::vector<float>& y) {
  GemmArgs a;
  std::vector<uint32_t> xb;
  if (w.dtype() == DType::kBFloat16) {
    xb.resize(static_cast<size_t>(rows) * w.k_pad() / 2);
    pack_activations_bf16(x.data(), rows, w.k(), w.k(), xb.data(), w.k_pad());
    a.x = xb.data();
    a.ldx = w.k_pad() / 2;
  } else {
    a.x = x.data();
    a.ldx = w.k();
  }
  a.rows = rows;
  a.w = &w;
  a.group_begin = 0;
  a.group_end = w.groups();
  a.bias = bias.empty() ? nullptr : bias.data();
  a.y = y.data();
  a.ldy = w.n() + 3;
  a.epilogue = epi;
  a.accumulate = accumulate;
  (w.dtype() == DType::kBFloat16 ? k.gemm_bf16 : k.gemm_f32)(a);
}

TEST(CpuKernels, PackedMatrixRoundTrips) {
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    PackedMatrix m(37, 11, dt);
    for (int n = 0; n < 37; ++n)
      for (int k = 0; k < 11; ++k) m.set(n, k, static_cast<float>((n * 3 + k) % 128));
    for (int n = 0; n < 37; ++n)
      for (int k = 0; k < 11; ++k) ASSERT_EQ(m.get(n, k), static_cast<float>((n * 3 + k) % 128));
    EXPECT_EQ(m.panels(), 3);
    EXPECT_EQ(m.groups(), 1);
  }
}

TEST(CpuKernels, GemmMatchesScalarAndNaive) {
  const Kernels* fast = avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(42);
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    for (int n : {1, 16, 50, 64, 200}) {
      for (int k : {1, 7, 64, 131}) {
        for (int rows : {1, 2, 6, 7, 13}) {
          PackedMatrix w(n, k, dt);
          auto wv = random_vector(static_cast<size_t>(n) * k, rng);
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < k; ++j) w.set(i, j, wv[static_cast<size_t>(i) * k + j]);
          auto x = random_vector(static_cast<size_t>(rows) * k, rng);
          auto bias = random_vector(n, rng);
          const bool acc = (n + k) % 2 == 0;
          const Epilogue epi = rows % 2 ? Epilogue::kRelu : Epilogue::kNone;
          const size_t ysize = static_cast<size_t>(rows) * (n + 3);
          auto init = random_vector(ysize, rng);
          std::vector<float> y_fast = init, y_ref = init;
          run_gemm(*fast, w, x, rows, bias, epi, acc, y_fast);
          run_gemm(scalar_kernels(), w, x, rows, bias, epi, acc, y_ref);
          for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < n + 3; ++c) {
              const size_t i = static_cast<size_t>(r) * (n + 3) + c;
              if (c >= n) {
                ASSERT_EQ(y_fast[i], init[i]) << "wrote past N";
                continue;
              }
              ASSERT_NEAR(y_fast[i], y_ref[i], 1e-4f * (1.0f + std::abs(y_ref[i])))
                  << "dtype " << static_cast<int>(dt) << " n " << n << " k " << k << " rows " << rows;
              if (dt == DType::kFloat32) {  // against a naive double-precision product
                double s = bias[static_cast<size_t>(c)];
                for (int j = 0; j < k; ++j)
                  s += static_cast<double>(x[static_cast<size_t>(r) * k + j]) * wv[static_cast<size_t>(c) * k + j];
                if (epi == Epilogue::kRelu) s = std::max(s, 0.0);
                if (acc) s += init[i];
                ASSERT_NEAR(y_fast[i], s, 1e-3 * (1.0 + std::abs(s)));
              }
            }
          }
        }
      }
    }
  }
}

TEST(CpuKernels, AttentionHelpersAndActivationsMatchScalar) {
  const Kernels* fast = avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(7);
  for (int d : {16, 64, 80, 24}) {
    for (int n : {1, 5, 16, 33}) {
      auto q = random_vector(d, rng), k = random_vector(static_cast<size_t>(n) * d, rng);
      std::vector<float> a(n), b(n);
      fast->qk_scores(q.data(), k.data(), n, d, 0.125f, a.data());
      scalar_kernels().qk_scores(q.data(), k.data(), n, d, 0.125f, b.data());
      for (int i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], 1e-4f);
      fast->softmax(a.data(), n);
      scalar_kernels().softmax(b.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], 1e-6f);
      std::vector<float> oa(d, 1.0f), ob(d, 1.0f);
      fast->pv_accumulate(a.data(), k.data(), n, d, oa.data());
      scalar_kernels().pv_accumulate(b.data(), k.data(), n, d, ob.data());
      for (int i = 0; i < d; ++i) ASSERT_NEAR(oa[i], ob[i], 1e-5f);
    }
  }
  std::vector<float> g(1000);
  for (size_t i = 0; i < g.size(); ++i) g[i] = -12.0f + 24.0f * static_cast<float>(i) / 999.0f;
  std::vector<float> h = g;
  fast->gelu_tanh(g.data(), g.size());
  scalar_kernels().gelu_tanh(h.data(), h.size());
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], h[i], 1e-5f * (1.0f + std::abs(h[i])));
}

TEST(CpuThreadPool, RunsEveryTaskOnce) {
  CpuThreadPool pool(3);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(round % 17 + 1));
    pool.run(static_cast<int>(hits.size()), [&](int t, int thread) {
      ASSERT_LT(thread, 3);
      hits[static_cast<size_t>(t)].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(CpuFeatures, DetectionIsConsistent) {
  CpuFeatures f = detect_cpu_features();
  if (f.avx512_bf16) {
    EXPECT_TRUE(f.avx512);
  }
  EXPECT_EQ(avx512_kernels() != nullptr, f.avx512);
}

}  // namespace
}  // namespace llmbench::engine::cpu

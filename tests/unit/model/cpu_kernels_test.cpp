// The AVX-512 kernels against the scalar reference, over shapes with ragged edges.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "engine/cpu_kernels.h"
#include "engine/cpu_thread_pool.h"
#include "engine/safetensors_file.h"

namespace llmbench::engine::cpu {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// With `panel_bounds` (ascending panel indices from 0 to w.panels()), one call per window of panels
// [bounds[i], bounds[i + 1]), as the model runner splits a matrix of few groups across threads.
void run_gemm(const Kernels& k, const PackedMatrix& w, const std::vector<float>& x, int rows,
              const std::vector<float>& bias, Epilogue epi, bool accumulate, std::vector<float>& y,
              const std::vector<int>& panel_bounds = {}) {
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
  const auto kernel = w.dtype() == DType::kBFloat16 ? k.gemm_bf16 : k.gemm_f32;
  if (panel_bounds.empty()) {
    kernel(a);
    return;
  }
  for (size_t i = 0; i + 1 < panel_bounds.size(); ++i) {
    a.set_panel_window(panel_bounds[i], panel_bounds[i + 1]);
    kernel(a);
  }
}

// y (rows x (n + 3), written by run_gemm) within 1e-4 (relative) of the scalar kernel's y_ref, and
// the 3 columns past n still as they were.
::testing::AssertionResult matches_reference(const std::vector<float>& y, const std::vector<float>& y_ref,
                                             const std::vector<float>& init, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < n + 3; ++c) {
      const size_t i = static_cast<size_t>(r) * (n + 3) + c;
      if (c >= n && y[i] != init[i]) return ::testing::AssertionFailure() << "wrote past N at row " << r;
      if (c < n && !(std::abs(y[i] - y_ref[i]) <= 1e-4f * (1.0f + std::abs(y_ref[i])))) {
        return ::testing::AssertionFailure() << "row " << r << " col " << c << ": " << y[i] << " vs " << y_ref[i];
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// The same GEMM written as fp32 and as bf16 (GemmArgs::y_bf16), with every epilogue.
TEST(CpuKernels, Bf16OutputIsTheRoundedFp32Output) {
  std::mt19937 rng(5);
  for (const Kernels* kern : {&scalar_kernels(), avx512_kernels(), amx_kernels()}) {
    if (kern == nullptr) continue;
    for (Epilogue epi : {Epilogue::kNone, Epilogue::kRelu, Epilogue::kGeluTanh}) {
      for (int n : {16, 50, 130}) {
        for (int rows : {1, 7, 32}) {
          const int k = 40;
          PackedMatrix w(n, k, DType::kBFloat16);
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < k; ++j) w.set(i, j, std::normal_distribution<float>(0.0f, 0.3f)(rng));
          auto x = random_vector(static_cast<size_t>(rows) * k, rng);
          auto bias = random_vector(n, rng);
          std::vector<float> y(static_cast<size_t>(rows) * (n + 3));
          run_gemm(*kern, w, x, rows, bias, epi, false, y);
          const int ld = n + 6;
          std::vector<uint16_t> yb(static_cast<size_t>(rows) * ld, 0xabcd);
          std::vector<uint32_t> xb(static_cast<size_t>(rows) * w.k_pad() / 2);
          pack_activations_bf16(x.data(), rows, k, k, xb.data(), w.k_pad());
          GemmArgs a;
          a.x = xb.data();
          a.ldx = w.k_pad() / 2;
          a.rows = rows;
          a.w = &w;
          a.group_end = w.groups();
          a.bias = bias.data();
          a.epilogue = epi;
          a.y_bf16 = yb.data();
          a.ldy_bf16 = ld;
          kern->gemm_bf16(a);
          for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < ld; ++c) {
              const uint16_t got = yb[static_cast<size_t>(r) * ld + c];
              if (c >= n) {
                ASSERT_EQ(got, 0xabcd) << "wrote past N";
                continue;
              }
              const float v = y[static_cast<size_t>(r) * (n + 3) + c];
              ASSERT_EQ(got, float_to_bf16(v)) << kern->name << " epilogue " << static_cast<int>(epi) << " n " << n;
              if (epi == Epilogue::kGeluTanh) {  // gelu_new of the pre-activation, recomputed in double
                std::vector<float> pre(static_cast<size_t>(rows) * (n + 3));
                run_gemm(*kern, w, x, rows, bias, Epilogue::kNone, false, pre);
                const double u = pre[static_cast<size_t>(r) * (n + 3) + c];
                const double ref = 0.5 * u * (1.0 + std::tanh(0.7978845608028654 * (u + 0.044715 * u * u * u)));
                ASSERT_NEAR(v, ref, 1e-5 * (1.0 + std::abs(ref)));
                break;  // one column per row is enough for the formula
              }
            }
          }
        }
      }
    }
  }
}

// AMX tiles take 16 or 32 rows at a time: ragged row counts, partial panels and groups, every
// epilogue, and a k that is not a whole number of tiles (which falls back to AVX-512).
TEST(CpuKernels, AmxGemmMatchesScalar) {
  const Kernels* amx = amx_kernels();
  if (amx == nullptr) GTEST_SKIP() << "no AMX on this CPU";
  std::mt19937 rng(8);
  for (int n : {16, 50, 64, 100, 200}) {
    for (int k : {32, 96, 768, 131}) {
      for (int rows : {16, 17, 31, 32, 33, 48, 100}) {
        PackedMatrix w(n, k, DType::kBFloat16);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < k; ++j) w.set(i, j, std::normal_distribution<float>(0.0f, 1.0f)(rng));
        auto x = random_vector(static_cast<size_t>(rows) * k, rng);
        auto bias = random_vector(n, rng);
        const bool acc = (n + rows) % 2 == 0;
        const Epilogue epi = rows % 3 == 0 ? Epilogue::kRelu : (rows % 3 == 1 ? Epilogue::kNone : Epilogue::kGeluTanh);
        auto init = random_vector(static_cast<size_t>(rows) * (n + 3), rng);
        std::vector<float> y_amx = init, y_ref = init;
        run_gemm(*amx, w, x, rows, bias, epi, acc, y_amx);
        run_gemm(scalar_kernels(), w, x, rows, bias, epi, acc, y_ref);
        ASSERT_TRUE(matches_reference(y_amx, y_ref, init, rows, n)) << "n " << n << " k " << k << " rows " << rows;
      }
    }
  }
}

// A GEMM computed in windows of panels that start and end inside groups (1, 3, 2, 5, ... panels)
// gives every column exactly what one call over all groups gives, for every kernel set: each
// column's sums run in the same order either way.
TEST(CpuKernels, PanelWindowsGiveTheWholeGemmExactly) {
  std::vector<const Kernels*> sets = {&scalar_kernels()};
  if (avx512_kernels() != nullptr) sets.push_back(avx512_kernels());
  if (amx_kernels() != nullptr) sets.push_back(amx_kernels());
  std::mt19937 rng(11);
  for (const Kernels* kern : sets) {
    for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
      for (int n : {50, 200, 768}) {
        for (int rows : {1, 7, 16, 32}) {
          const int k = 96;
          PackedMatrix w(n, k, dt);
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < k; ++j) w.set(i, j, std::normal_distribution<float>(0.0f, 1.0f)(rng));
          auto x = random_vector(static_cast<size_t>(rows) * k, rng);
          auto bias = random_vector(n, rng);
          const bool acc = rows % 2 == 0;
          const Epilogue epi = n == 200 ? Epilogue::kGeluTanh : Epilogue::kRelu;
          std::vector<int> bounds = {0};
          for (int step = 1; bounds.back() < w.panels(); step = step % 5 + 1)
            bounds.push_back(std::min(w.panels(), bounds.back() + step));
          auto init = random_vector(static_cast<size_t>(rows) * (n + 3), rng);
          std::vector<float> y_whole = init, y_windows = init;
          run_gemm(*kern, w, x, rows, bias, epi, acc, y_whole);
          run_gemm(*kern, w, x, rows, bias, epi, acc, y_windows, bounds);
          ASSERT_EQ(y_windows, y_whole) << kern->name << " dtype " << static_cast<int>(dt) << " n " << n << " rows "
                                        << rows;
        }
      }
    }
  }
}

TEST(CpuKernels, LayerNormMatchesDoublePrecision) {
  std::mt19937 rng(11);
  for (const Kernels* kern : {&scalar_kernels(), avx512_kernels()}) {
    if (kern == nullptr) continue;
    for (int d : {1, 16, 50, 768}) {
      auto x = random_vector(d, rng), w = random_vector(d, rng), b = random_vector(d, rng);
      for (auto& v : x) v = v * 3.0f + 10.0f;  // a large mean: the variance must be taken about it
      std::vector<float> y(d);
      kern->layer_norm(x.data(), d, w.data(), b.data(), 1e-5f, y.data());
      double mean = 0.0, var = 0.0;
      for (float v : x) mean += v;
      mean /= d;
      for (float v : x) var += (v - mean) * (v - mean);
      const double inv = 1.0 / std::sqrt(var / d + 1e-5);
      for (int i = 0; i < d; ++i) {
        const double ref = (x[i] - mean) * inv * w[i] + b[i];
        ASSERT_NEAR(y[i], ref, 1e-5 * (1.0 + std::abs(ref))) << kern->name << " d " << d;
      }
      std::vector<float> in_place = x;  // y may be x
      kern->layer_norm(in_place.data(), d, w.data(), b.data(), 1e-5f, in_place.data());
      ASSERT_EQ(in_place, y);
    }
  }
}

TEST(CpuKernels, EveryKernelSetIsComplete) {
  for (const Kernels* k : {&scalar_kernels(), avx512_kernels(), amx_kernels(), &best_kernels()}) {
    if (k == nullptr) continue;
    SCOPED_TRACE(k->name);
    EXPECT_NE(k->gemm_f32, nullptr);
    EXPECT_NE(k->gemm_bf16, nullptr);
    EXPECT_NE(k->qk_scores, nullptr);
    EXPECT_NE(k->pv_accumulate, nullptr);
    EXPECT_NE(k->qk_scores_bf16, nullptr);
    EXPECT_NE(k->pv_accumulate_bf16, nullptr);
    EXPECT_NE(k->softmax, nullptr);
    EXPECT_NE(k->gelu_tanh, nullptr);
    EXPECT_NE(k->stream_sum, nullptr);
    EXPECT_NE(k->exp_weights, nullptr);
    EXPECT_NE(k->pack_bf16, nullptr);
    EXPECT_NE(k->layer_norm, nullptr);
    EXPECT_NE(k->argmax, nullptr);
    if (std::string(k->name) != "scalar") {  // optional in the scalar set
      EXPECT_NE(k->decode_attention_bf16, nullptr);
      EXPECT_NE(k->prefill_attention_bf16, nullptr);
    }
  }
}

// The first maximum, NaN skipped, over lengths with ragged tails; all-NaN gives 0.
TEST(CpuKernels, ArgmaxMatchesScalar) {
  std::mt19937 rng(12);
  for (const Kernels* k : {&scalar_kernels(), avx512_kernels()}) {
    if (k == nullptr) continue;
    for (int n : {1, 5, 16, 17, 100, 50272}) {
      for (int trial = 0; trial < 20; ++trial) {
        auto x = random_vector(n, rng);
        for (auto& v : x) v = std::round(v * 4.0f);  // ties are common
        if (trial % 3 == 0) x[static_cast<size_t>(rng() % n)] = std::numeric_limits<float>::quiet_NaN();
        if (trial % 5 == 0) x[static_cast<size_t>(rng() % n)] = std::numeric_limits<float>::infinity();
        int32_t ref = -1;
        for (int i = 0; i < n; ++i) {
          if (std::isnan(x[i])) continue;
          if (ref < 0 || x[i] > x[ref]) ref = i;
        }
        ASSERT_EQ(k->argmax(x.data(), n), ref < 0 ? 0 : ref) << k->name << " n " << n << " trial " << trial;
      }
      std::vector<float> nans(n, std::numeric_limits<float>::quiet_NaN());
      ASSERT_EQ(k->argmax(nans.data(), n), 0) << k->name;
    }
  }
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
    PackedMatrix wide(150, 7, dt);  // 3 groups, the last one of 2 panels (row() strides by group)
    for (int n = 0; n < 150; ++n)
      for (int k = 0; k < 7; ++k) wide.set(n, k, static_cast<float>((n * 5 + k) % 100));
    std::vector<float> row(7);
    for (int n = 0; n < 150; ++n) {
      wide.row(n, row.data());
      for (int k = 0; k < 7; ++k) ASSERT_EQ(row[k], static_cast<float>((n * 5 + k) % 100)) << "n " << n << " k " << k;
    }
  }
}

TEST(CpuKernels, GemmMatchesScalarAndNaive) {
  const Kernels* fast = avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(42);
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    for (int n : {1, 16, 50, 64, 200}) {
      for (int k : {1, 7, 64, 131}) {
        for (int rows : {1, 2, 6, 7, 13, 32}) {
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
      const int ldk = n + 5;  // K transposed: [d][ldk]
      auto k_t = random_vector(static_cast<size_t>(d) * ldk, rng);
      fast->qk_scores(q.data(), k_t.data(), n, d, ldk, 0.125f, a.data());
      scalar_kernels().qk_scores(q.data(), k_t.data(), n, d, ldk, 0.125f, b.data());
      for (int j = 0; j < n; ++j) {
        double ref = 0.0;
        for (int i = 0; i < d; ++i) ref += static_cast<double>(q[i]) * k_t[static_cast<size_t>(i) * ldk + j];
        ASSERT_NEAR(a[j], ref * 0.125, 1e-4);
        ASSERT_NEAR(b[j], ref * 0.125, 1e-4);
      }
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

// Row tiles of a 32-row GEMM are balanced (6,6,5,5,5,5) and each prefetches the next weight group:
// every output of a multi-group matrix must still match the scalar kernel.
TEST(CpuKernels, ManyRowsOverManyGroupsMatchScalar) {
  const Kernels* fast = avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    for (int rows : {12, 31, 32, 37}) {
      const int n = 300, k = 96;  // 5 groups, the last of 3 panels minus a ragged edge
      PackedMatrix w(n, k, dt);
      auto wv = random_vector(static_cast<size_t>(n) * k, rng);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) w.set(i, j, wv[static_cast<size_t>(i) * k + j]);
      auto x = random_vector(static_cast<size_t>(rows) * k, rng);
      std::vector<float> y_fast(static_cast<size_t>(rows) * (n + 3)), y_ref = y_fast;
      run_gemm(*fast, w, x, rows, {}, Epilogue::kNone, false, y_fast);
      run_gemm(scalar_kernels(), w, x, rows, {}, Epilogue::kNone, false, y_ref);
      for (size_t i = 0; i < y_ref.size(); ++i)
        ASSERT_NEAR(y_fast[i], y_ref[i], 1e-4f * (1.0f + std::abs(y_ref[i]))) << "rows " << rows << " at " << i;
    }
  }
}

// vcvtne2ps2bf16 rounds exactly as the scalar packer (nearest even), pads with zeros, and
// leaves the padding of odd K intact.
TEST(CpuKernels, PackBf16MatchesScalarBitForBit) {
  const Kernels* fast = avx512_kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(11);
  for (int k : {1, 2, 15, 31, 32, 33, 64, 131, 768}) {
    const int rows = 3, k_pad = (k + 1) / 2 * 2, ldx = k + 4;
    auto x = random_vector(static_cast<size_t>(rows) * ldx, rng);
    x[0] = 1.0f + 1.0f / 256.0f;  // a tie: rounds to even
    std::vector<uint32_t> a(static_cast<size_t>(rows) * k_pad / 2 + 4, 0xdeadbeefu), b = a;
    fast->pack_bf16(x.data(), rows, k, ldx, a.data(), k_pad);
    scalar_kernels().pack_bf16(x.data(), rows, k, ldx, b.data(), k_pad);
    ASSERT_EQ(a, b) << "k " << k;
    EXPECT_EQ(a.back(), 0xdeadbeefu) << "wrote past the last row";
  }
}

// Attention over a bf16 KV cache: the same sums over the bf16-widened K and V, in fp32.
TEST(CpuKernels, Bf16AttentionHelpersMatchScalarAndNaive) {
  const Kernels* fast = avx512_kernels();
  std::mt19937 rng(9);
  for (const Kernels* kern : {&scalar_kernels(), fast}) {
    if (kern == nullptr) continue;
    for (int d : {16, 64, 80, 24}) {
      for (int n : {1, 5, 16, 33}) {
        const int ldk = n + 5;
        auto q = random_vector(d, rng), kf = random_vector(static_cast<size_t>(d) * ldk, rng);
        auto vf = random_vector(static_cast<size_t>(n) * d, rng);
        std::vector<uint16_t> k_t(kf.size()), v(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) k_t[i] = float_to_bf16(kf[i]);
        for (size_t i = 0; i < vf.size(); ++i) v[i] = float_to_bf16(vf[i]);
        std::vector<float> scores(n);
        kern->qk_scores_bf16(q.data(), k_t.data(), n, d, ldk, 0.125f, scores.data());
        for (int j = 0; j < n; ++j) {
          double ref = 0.0;
          for (int i = 0; i < d; ++i)
            ref += static_cast<double>(q[i]) * bf16_to_float(k_t[static_cast<size_t>(i) * ldk + j]);
          ASSERT_NEAR(scores[j], ref * 0.125, 1e-4) << kern->name << " d " << d << " n " << n;
        }
        std::vector<float> out(d, 0.5f);
        kern->pv_accumulate_bf16(scores.data(), v.data(), n, d, out.data());
        for (int i = 0; i < d; ++i) {
          double ref = 0.5;
          for (int j = 0; j < n; ++j)
            ref += static_cast<double>(scores[j]) * bf16_to_float(v[static_cast<size_t>(j) * d + i]);
          ASSERT_NEAR(out[i], ref, 1e-4 * (1.0 + std::abs(ref))) << kern->name << " d " << d << " n " << n;
        }
      }
    }
  }
}

// Sampling weights: exp((x - max) / t) per token, exactly 0 for -inf (banned) and NaN logits.
TEST(CpuKernels, ExpWeightsMatchScalarAndZeroExcludedTokens) {
  std::mt19937 rng(3);
  for (const Kernels* kern : {&scalar_kernels(), avx512_kernels()}) {
    if (kern == nullptr) continue;
    for (int n : {1, 15, 16, 17, 1000}) {
      auto x = random_vector(static_cast<size_t>(n), rng);
      for (auto& v : x) v *= 8.0f;
      if (n > 3) {
        x[1] = -std::numeric_limits<float>::infinity();
        x[2] = std::nanf("");
      }
      float max = -1e30f;
      for (float v : x)
        if (v == v && v > max) max = v;
      for (float inv_t : {1.0f, 0.5f, 4.0f}) {
        std::vector<float> out(static_cast<size_t>(n) + 1, -7.0f);
        const float sum = kern->exp_weights(x.data(), n, max, inv_t, out.data());
        double ref_sum = 0.0;
        for (int i = 0; i < n; ++i) {
          const float v = x[static_cast<size_t>(i)];
          const double ref = (v == v && v > -1e38f) ? std::exp((static_cast<double>(v) - max) * inv_t) : 0.0;
          ref_sum += ref;
          if (ref == 0.0) {
            ASSERT_EQ(out[static_cast<size_t>(i)], 0.0f) << kern->name << " token " << i;
          } else {
            // fp32 argument rounding: relative error ~1e-7 per unit of |argument|; tiny weights may flush
            const double arg = std::abs((static_cast<double>(v) - max) * inv_t);
            ASSERT_NEAR(out[static_cast<size_t>(i)], ref, 1e-6 * (1.0 + arg) * ref + 1e-36)
                << kern->name << " token " << i;
          }
        }
        EXPECT_NEAR(sum, ref_sum, 1e-5 * ref_sum) << kern->name;
        EXPECT_EQ(out.back(), -7.0f) << "wrote past n";
      }
    }
  }
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

// Regression (a 10-minute soak of llmbench serve crashed in a pool worker): a worker still looking
// at a finished job read the next job's larger task count, claimed an index the finished job never
// had and called that job's function on its caller's dead stack frame. Jobs here alternate between
// a few tasks and many, each job's state lives in the caller's frame, and every task checks that it
// belongs to the job that is running; the total count of calls must be exact.
TEST(CpuThreadPool, ALateWorkerNeverRunsATaskOfAFinishedJob) {
  CpuThreadPool pool(2);
  std::atomic<int64_t> calls{0};
  int64_t expected = 0;
  std::atomic<int> running_job{-1};
  for (int job = 0; job < 100000; ++job) {
    const int n = job % 2 == 0 ? 2 : 48;
    int hits[48] = {};
    running_job.store(job);
    pool.run(n, [&, job, n](int t, int) {
      calls.fetch_add(1, std::memory_order_relaxed);
      if (t >= n || running_job.load() != job) {
        ADD_FAILURE() << "task " << t << " of job " << job << " ran during job " << running_job.load();
        return;
      }
      __atomic_fetch_add(&hits[t], 1, __ATOMIC_RELAXED);
    });
    expected += n;
    for (int t = 0; t < n; ++t) ASSERT_EQ(hits[t], 1) << "job " << job << " task " << t;
  }
  EXPECT_EQ(calls.load(), expected);
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

#include "engine/cpu_kernels.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/safetensors_file.h"

namespace llmbench::engine::cpu {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1u;
  if (!osxsave) return f;
  // XCR0: SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state enabled by the OS.
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0xe6u) != 0xe6u) return f;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx512f = (ebx >> 16) & 1u;
  const bool avx512dq = (ebx >> 17) & 1u;
  const bool avx512bw = (ebx >> 30) & 1u;
  const bool avx512vl = (ebx >> 31) & 1u;
  f.avx512 = avx512f && avx512dq && avx512bw && avx512vl;
  const bool amx_bf16 = (edx >> 22) & 1u, amx_tile = (edx >> 24) & 1u;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  f.avx512_bf16 = f.avx512 && ((eax >> 5) & 1u);
  if (f.avx512_bf16 && amx_bf16 && amx_tile) {
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM, XTILEDATA), once
    // per process; afterwards XCR0 must show both tile components (17: TILECFG, 18: TILEDATA).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    const bool granted = ::syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    f.amx_bf16 = granted && (xcr0_lo & (3u << 17)) == (3u << 17);
  }
  return f;
}

PackedMatrix::PackedMatrix(int n, int k, DType dtype) : n_(n), k_(k), dtype_(dtype) {
  if (n <= 0 || k <= 0) throw std::invalid_argument("PackedMatrix: empty shape");
  if (dtype != DType::kFloat32 && dtype != DType::kBFloat16) {
    throw std::invalid_argument("PackedMatrix: runtime weights must be fp32 or bf16");
  }
  k_pad_ = dtype == DType::kFloat32 ? k : (k + 1) / 2 * 2;
  panels_ = (n + kPanel - 1) / kPanel;
  elements_ = static_cast<size_t>(panels_) * kPanel * k_pad_;
  data_ = allocate_huge_page_buffer((this->bytes() + 63) / 64 * 64);
}

void PackedMatrix::set(int n, int k, float value) {
  size_t off = offset(n, k);
  if (dtype_ == DType::kFloat32) {
    static_cast<float*>(data_.get())[off] = value;
  } else {
    static_cast<uint16_t*>(data_.get())[off] = float_to_bf16(value);
  }
}

float PackedMatrix::get(int n, int k) const {
  size_t off = offset(n, k);
  if (dtype_ == DType::kFloat32) return static_cast<const float*>(data_.get())[off];
  return bf16_to_float(static_cast<const uint16_t*>(data_.get())[off]);
}

void PackedMatrix::row(int n, float* out) const {
  // Column n of its group: one element per k (fp32) or one pair per two k (bf16), at a fixed stride.
  const size_t stride = static_cast<size_t>(group_panels(n / kGroupColumns)) * kPanel;
  if (dtype_ == DType::kFloat32) {
    const float* p = static_cast<const float*>(data_.get()) + offset(n, 0);
    for (int k = 0; k < k_; ++k) out[k] = p[static_cast<size_t>(k) * stride];
    return;
  }
  const uint16_t* p = static_cast<const uint16_t*>(data_.get()) + offset(n, 0);
  for (int k = 0; k < k_; ++k) out[k] = bf16_to_float(p[static_cast<size_t>(k / 2) * stride * 2 + (k & 1)]);
}

void PackedMatrix::fill_group_random(int g, uint64_t key, float std) {
  // splitmix64 stream; each draw gives 4 uniforms whose (Irwin-Hall) sum is ~normal.
  uint64_t state = key ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(g + 1));
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const float scale = std * 1.7320508f / 65536.0f;  // sum of 4 U(0,1) has variance 1/3
  const int n_end = std::min(n_, (g + 1) * kGroupColumns);
  for (int n = g * kGroupColumns; n < n_end; ++n) {
    for (int k = 0; k < k_; ++k) {
      const uint64_t r = next();
      const float sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
      set(n, k, (sum - 2.0f * 65535.0f) * scale);
    }
  }
}

void pack_activations_bf16(const float* x, int rows, int k, int ldx, uint32_t* out, int k_pad) {
  for (int r = 0; r < rows; ++r) {
    const float* src = x + static_cast<size_t>(r) * ldx;
    uint32_t* dst = out + static_cast<size_t>(r) * (k_pad / 2);
    for (int i = 0; i < k_pad / 2; ++i) {
      uint32_t lo = 2 * i < k ? float_to_bf16(src[2 * i]) : 0;
      uint32_t hi = 2 * i + 1 < k ? float_to_bf16(src[2 * i + 1]) : 0;
      dst[i] = lo | hi << 16;
    }
  }
}

namespace {

void gelu_tanh_scalar(float* x, size_t n) {
  constexpr float kC = 0.7978845608028654f;  // sqrt(2 / pi)
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(kC * (v + 0.044715f * v * v * v)));
  }
}

// Scalar GEMM over the packed layout; the reference the AVX-512 kernels are tested against.
void gemm_scalar(const GemmArgs& a, bool bf16) {
  const PackedMatrix& w = *a.w;
  const int k_pad = w.k_pad();
  const int n_total = w.n();
  float acc[PackedMatrix::kGroupColumns];
  for (int g = a.group_begin; g < a.group_end; ++g) {
    const int stride = w.group_panels(g) * PackedMatrix::kPanel;  // columns per k (per k pair for bf16)
    const GroupPanels gp = group_panels_in(a, g);
    const int c0 = gp.first * PackedMatrix::kPanel, cols = gp.count * PackedMatrix::kPanel;
    const size_t base = static_cast<size_t>(g) * PackedMatrix::kGroupColumns * k_pad;
    for (int r = 0; r < a.rows && cols > 0; ++r) {
      std::fill(acc, acc + cols, 0.0f);
      if (!bf16) {
        const float* x = static_cast<const float*>(a.x) + static_cast<size_t>(r) * a.ldx;
        const float* wg = static_cast<const float*>(w.data()) + base + c0;
        for (int k = 0; k < k_pad; ++k) {
          const float xv = x[k];
          const float* wk = wg + static_cast<size_t>(k) * stride;
          for (int c = 0; c < cols; ++c) acc[c] += xv * wk[c];
        }
      } else {
        const uint32_t* x = static_cast<const uint32_t*>(a.x) + static_cast<size_t>(r) * a.ldx;
        const uint16_t* wg = static_cast<const uint16_t*>(w.data()) + base + 2 * c0;
        for (int kk = 0; kk < k_pad / 2; ++kk) {
          const float x0 = bf16_to_float(static_cast<uint16_t>(x[kk] & 0xffffu));
          const float x1 = bf16_to_float(static_cast<uint16_t>(x[kk] >> 16));
          const uint16_t* wk = wg + static_cast<size_t>(kk) * stride * 2;
          for (int c = 0; c < cols; ++c) acc[c] += x0 * bf16_to_float(wk[2 * c]) + x1 * bf16_to_float(wk[2 * c + 1]);
        }
      }
      for (int c = 0; c < cols; ++c) {
        const int n = g * PackedMatrix::kGroupColumns + c0 + c;
        if (n >= n_total) break;
        float v = acc[c] + (a.bias != nullptr ? a.bias[n] : 0.0f);
        if (a.epilogue == Epilogue::kRelu) v = std::max(v, 0.0f);
        if (a.epilogue == Epilogue::kGeluTanh) gelu_tanh_scalar(&v, 1);
        if (a.y_bf16 != nullptr) {
          a.y_bf16[static_cast<size_t>(r) * a.ldy_bf16 + n] = float_to_bf16(v);
        } else {
          float* y = a.y + static_cast<size_t>(r) * a.ldy;
          y[n] = a.accumulate ? y[n] + v : v;
        }
      }
    }
  }
}

void gemm_f32_scalar(const GemmArgs& a) {
  gemm_scalar(a, false);
}
void gemm_bf16_scalar(const GemmArgs& a) {
  gemm_scalar(a, true);
}

void qk_scores_scalar(const float* q, const float* k_t, int n, int d, int ldk, float scale, float* out) {
  for (int j = 0; j < n; ++j) out[j] = 0.0f;
  for (int i = 0; i < d; ++i) {
    const float qi = q[i];
    const float* row = k_t + static_cast<size_t>(i) * ldk;
    for (int j = 0; j < n; ++j) out[j] += qi * row[j];
  }
  for (int j = 0; j < n; ++j) out[j] *= scale;
}

void pv_accumulate_scalar(const float* p, const float* v, int n, int d, float* out) {
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < d; ++i) out[i] += p[j] * v[static_cast<size_t>(j) * d + i];
  }
}

void qk_scores_bf16_scalar(const float* q, const uint16_t* k_t, int n, int d, int ldk, float scale, float* out) {
  for (int j = 0; j < n; ++j) out[j] = 0.0f;
  for (int i = 0; i < d; ++i) {
    const float qi = q[i];
    const uint16_t* row = k_t + static_cast<size_t>(i) * ldk;
    for (int j = 0; j < n; ++j) out[j] += qi * bf16_to_float(row[j]);
  }
  for (int j = 0; j < n; ++j) out[j] *= scale;
}

void pv_accumulate_bf16_scalar(const float* p, const uint16_t* v, int n, int d, float* out) {
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < d; ++i) out[i] += p[j] * bf16_to_float(v[static_cast<size_t>(j) * d + i]);
  }
}

float exp_weights_scalar(const float* x, int n, float max, float inv_t, float* out) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = v > -std::numeric_limits<float>::infinity() ? std::exp((v - max) * inv_t) : 0.0f;  // false for NaN
    sum += out[i];
  }
  return sum;
}

void softmax_scalar(float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

float stream_sum_scalar(const float* x, size_t n) {
  float s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += x[i + j];
  for (; i < n; ++i) s[0] += x[i];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

void layer_norm_scalar(const float* x, int d, const float* weight, const float* bias, float eps, float* y) {
  double sum = 0.0;
  for (int i = 0; i < d; ++i) sum += x[i];
  const double mean = sum / d;
  double var = 0.0;
  for (int i = 0; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = static_cast<float>(1.0 / std::sqrt(var / d + eps));
  const float m = static_cast<float>(mean);
  for (int i = 0; i < d; ++i) y[i] = (x[i] - m) * inv * weight[i] + bias[i];
}

int32_t argmax_scalar(const float* x, int n) {
  int32_t best = 0;
  float best_value = 0.0f;
  bool found = false;
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    if (std::isnan(v)) continue;
    if (!found || v > best_value) {
      best = i;
      best_value = v;
      found = true;
    }
  }
  return best;
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels k{"scalar",
                         gemm_f32_scalar,
                         gemm_bf16_scalar,
                         qk_scores_scalar,
                         pv_accumulate_scalar,
                         qk_scores_bf16_scalar,
                         pv_accumulate_bf16_scalar,
                         softmax_scalar,
                         gelu_tanh_scalar,
                         stream_sum_scalar,
                         exp_weights_scalar,
                         pack_activations_bf16,
                         layer_norm_scalar,
                         argmax_scalar};
  return k;
}

namespace {
const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect_cpu_features();
  return f;
}
}  // namespace

const Kernels* avx512_kernels() {
  const CpuFeatures& f = cpu_features();
  if (!f.avx512) return nullptr;
  return detail::avx512_kernels_impl(f.avx512_bf16);
}

const Kernels* amx_kernels() {
  const CpuFeatures& f = cpu_features();
  if (!f.amx_bf16) return nullptr;
  return detail::amx_kernels_impl();
}

const Kernels& best_kernels() {
  static const Kernels& chosen = []() -> const Kernels& {
    const char* env = std::getenv("LLMBENCH_CPU_KERNELS");
    const std::string want = env != nullptr ? env : "";
    if (want == "scalar") return scalar_kernels();
    const Kernels* amx = want == "avx512" ? nullptr : amx_kernels();
    if (amx != nullptr) return *amx;
    const Kernels* avx = avx512_kernels();
    return avx != nullptr ? *avx : scalar_kernels();
  }();
  return chosen;
}

}  // namespace llmbench::engine::cpu

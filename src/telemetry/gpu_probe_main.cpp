// llmbench-gpu-probe: checks that llmbench's GPU telemetry works on this machine. Loads NVML the
// way `llmbench run` does (dlopen, no CUDA needed) and prints a few readings of every GPU.
//
//   llmbench-gpu-probe [--samples N] [--interval-ms MS] [--library PATH] [--json]
//
// Exit status: 0 when every reading of every GPU succeeded, 1 when NVML or a GPU is absent,
// 2 on a bad argument, 3 when some readings failed.
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "telemetry/nvml_sampler.h"
#include "telemetry/telemetry_recorder.h"

namespace {

bool parse_int(const char* text, long min, long max, long* out) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

int usage(const char* why) {
  fmt::print(stderr,
             "llmbench-gpu-probe: {}\nusage: llmbench-gpu-probe [--samples N] [--interval-ms MS] "
             "[--library PATH] [--json]\n",
             why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace llmbench::telemetry;
  long samples = 5;
  long interval_ms = 500;
  bool json = false;
  std::string library = NvmlSampler::kDefaultLibrary;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--samples" && has_value) {
      if (!parse_int(argv[++i], 1, 100000, &samples)) return usage("--samples takes 1..100000");
    } else if (arg == "--interval-ms" && has_value) {
      if (!parse_int(argv[++i], 1, 3'600'000, &interval_ms)) return usage("--interval-ms takes 1..3600000");
    } else if (arg == "--library" && has_value) {
      library = argv[++i];
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      usage("GPU telemetry check");
      return 0;
    } else {
      return usage(("unknown or incomplete argument " + arg).c_str());
    }
  }

  std::string why_not;
  std::unique_ptr<NvmlSampler> nvml = NvmlSampler::open(library, &why_not);
  if (!nvml) {
    fmt::print("GPU telemetry unavailable: {}\n", why_not);
    return 1;
  }
  fmt::print("NVML loaded from {}: {} GPU(s)\n", library, nvml->devices().size());
  for (const GpuDeviceInfo& d : nvml->devices()) {
    fmt::print("  GPU {}: {}, {:.2f} GiB\n", d.index, d.name,
               d.memory_total_bytes ? static_cast<double>(*d.memory_total_bytes) / (1u << 30) : 0.0);
  }
  TelemetryRecorder recorder;
  recorder.set_gpu_devices(nvml->devices());
  int64_t t0 = llmbench::now_ns();
  size_t failures = 0;
  for (long n = 0; n < samples; ++n) {
    if (n > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    for (size_t i = 0; i < nvml->devices().size(); ++i) {
      GpuSample s = nvml->sample(i);
      double t = llmbench::ns_to_s(llmbench::now_ns() - t0);
      recorder.add_gpu_sample(t, i, s);
      if (!s.error.empty()) ++failures;
      auto or_dash = [](const auto& v, auto fn) { return v ? fn(*v) : std::string("-"); };
      fmt::print("t={:7.3f}s GPU {} mem {} / {} MiB  util {}%  mem-util {}%  power {} W{}\n", t, i,
                 or_dash(s.memory_used_bytes, [](uint64_t b) { return std::to_string(b >> 20); }),
                 or_dash(s.memory_total_bytes, [](uint64_t b) { return std::to_string(b >> 20); }),
                 or_dash(s.utilization_pct, [](unsigned p) { return std::to_string(p); }),
                 or_dash(s.memory_utilization_pct, [](unsigned p) { return std::to_string(p); }),
                 or_dash(s.power_w, [](double w) { return fmt::format("{:.1f}", w); }),
                 s.error.empty() ? "" : "  error: " + s.error);
    }
  }
  if (json) {
    TelemetryReport report = recorder.report();
    report.gpu_enabled = true;
    fmt::print("{}\n", report.to_json()["gpu"].dump(2));
  }
  return failures == 0 ? 0 : 3;
}

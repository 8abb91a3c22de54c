#pragma once
// GPU telemetry through NVML, loaded at run time with dlopen("libnvidia-ml.so.1"): llmbench has no
// link-time dependency on the NVIDIA driver and builds without CUDA. Where the library (or a GPU)
// is absent, open() says why and the caller carries on without GPU telemetry.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmbench::telemetry {

struct GpuDeviceInfo {
  unsigned index = 0;
  std::string name;
  std::optional<uint64_t> memory_total_bytes;
};

// One reading of one GPU. A field is empty when NVML could not read it (error says which).
struct GpuSample {
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint64_t> memory_total_bytes;
  std::optional<unsigned> utilization_pct;         // percent of time a kernel ran, last sample period
  std::optional<unsigned> memory_utilization_pct;  // percent of time device memory was read or written
  std::optional<double> power_w;
  std::string error;  // the first NVML error of this reading, empty when all fields were read
};

class NvmlSampler {
 public:
  static constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";

  // Loads NVML and initializes it. Returns nullptr and sets *why_not when NVML or a GPU is absent.
  static std::unique_ptr<NvmlSampler> open(const std::string& library, std::string* why_not);
  ~NvmlSampler();  // nvmlShutdown + dlclose
  NvmlSampler(const NvmlSampler&) = delete;
  NvmlSampler& operator=(const NvmlSampler&) = delete;

  const std::vector<GpuDeviceInfo>& devices() const { return devices_; }
  // Reads device `i` (an index into devices()). Thread-compatible: one caller at a time.
  GpuSample sample(size_t i) const;

 private:
  struct Api;
  explicit NvmlSampler(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
  std::vector<GpuDeviceInfo> devices_;
};

}  // namespace llmbench::telemetry

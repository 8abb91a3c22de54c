#include "telemetry/nvml_sampler.h"

#include <dlfcn.h>

#include <cstring>

namespace llmbench::telemetry {
namespace {

// The few NVML declarations we use, from NVML's documented C API (nvml.h). Only these ABI facts are
// relied upon: nvmlReturn_t is a C enum (int) with NVML_SUCCESS = 0, nvmlDevice_t is an opaque
// pointer, nvmlMemory_t is {total, free, used} as unsigned long long bytes, nvmlUtilization_t is
// {gpu, memory} as unsigned int percent, and power is reported in milliwatts.
using nvmlReturn_t = int;
constexpr nvmlReturn_t kNvmlSuccess = 0;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
constexpr unsigned kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using GetCountFn = nvmlReturn_t (*)(unsigned int*);
using GetHandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetMemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using GetUtilizationFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using GetPowerFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using ErrorStringFn = const char* (*)(nvmlReturn_t);

template <typename Fn>
bool load(void* lib, const char* symbol, Fn* out, std::string* why_not) {
  void* p = dlsym(lib, symbol);
  if (p == nullptr) {
    *why_not = std::string("NVML symbol ") + symbol + " not found";
    return false;
  }
  *out = reinterpret_cast<Fn>(p);
  return true;
}

}  // namespace

struct NvmlSampler::Api {
  void* lib = nullptr;
  bool initialized = false;
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  GetCountFn get_count = nullptr;
  GetHandleFn get_handle = nullptr;
  GetNameFn get_name = nullptr;
  GetMemoryFn get_memory = nullptr;
  GetUtilizationFn get_utilization = nullptr;
  GetPowerFn get_power = nullptr;
  ErrorStringFn error_string = nullptr;
  std::vector<nvmlDevice_t> handles;

  std::string describe(nvmlReturn_t rc) const {
    const char* text = error_string != nullptr ? error_string(rc) : nullptr;
    return text != nullptr ? std::string(text) + " (" + std::to_string(rc) + ")" : "NVML error " + std::to_string(rc);
  }

  ~Api() {
    if (initialized && shutdown != nullptr) shutdown();
    if (lib != nullptr) dlclose(lib);
  }
};

NvmlSampler::NvmlSampler(std::unique_ptr<Api> api) : api_(std::move(api)) {}
NvmlSampler::~NvmlSampler() = default;

std::unique_ptr<NvmlSampler> NvmlSampler::open(const std::string& library, std::string* why_not) {
  std::string ignored;
  if (why_not == nullptr) why_not = &ignored;
  auto api = std::make_unique<Api>();
  dlerror();
  api->lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (api->lib == nullptr) {
    const char* err = dlerror();
    *why_not = "cannot load " + library + ": " + (err != nullptr ? err : "unknown error");
    return nullptr;
  }
  if (!load(api->lib, "nvmlInit_v2", &api->init, why_not) || !load(api->lib, "nvmlShutdown", &api->shutdown, why_not) ||
      !load(api->lib, "nvmlDeviceGetCount_v2", &api->get_count, why_not) ||
      !load(api->lib, "nvmlDeviceGetHandleByIndex_v2", &api->get_handle, why_not) ||
      !load(api->lib, "nvmlDeviceGetName", &api->get_name, why_not) ||
      !load(api->lib, "nvmlDeviceGetMemoryInfo", &api->get_memory, why_not) ||
      !load(api->lib, "nvmlDeviceGetUtilizationRates", &api->get_utilization, why_not) ||
      !load(api->lib, "nvmlDeviceGetPowerUsage", &api->get_power, why_not) ||
      !load(api->lib, "nvmlErrorString", &api->error_string, why_not)) {
    return nullptr;
  }
  nvmlReturn_t rc = api->init();
  if (rc != kNvmlSuccess) {
    *why_not = "nvmlInit_v2 failed: " + api->describe(rc);
    return nullptr;
  }
  api->initialized = true;
  unsigned int count = 0;
  rc = api->get_count(&count);
  if (rc != kNvmlSuccess) {
    *why_not = "nvmlDeviceGetCount_v2 failed: " + api->describe(rc);
    return nullptr;
  }
  if (count == 0) {
    *why_not = "NVML found no GPU";
    return nullptr;
  }
  std::vector<GpuDeviceInfo> devices;
  for (unsigned int i = 0; i < count && i < 1024; ++i) {
    nvmlDevice_t handle = nullptr;
    rc = api->get_handle(i, &handle);
    if (rc != kNvmlSuccess) {
      *why_not = "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(i) + ") failed: " + api->describe(rc);
      return nullptr;
    }
    GpuDeviceInfo info;
    info.index = i;
    char name[kNameBufferSize];
    std::memset(name, 0, sizeof(name));
    rc = api->get_name(handle, name, kNameBufferSize);
    name[kNameBufferSize - 1] = '\0';
    info.name = rc == kNvmlSuccess ? std::string(name) : "unknown (" + api->describe(rc) + ")";
    nvmlMemory_t memory{};
    if (api->get_memory(handle, &memory) == kNvmlSuccess) info.memory_total_bytes = memory.total;
    api->handles.push_back(handle);
    devices.push_back(std::move(info));
  }
  std::unique_ptr<NvmlSampler> sampler(new NvmlSampler(std::move(api)));
  sampler->devices_ = std::move(devices);
  return sampler;
}

GpuSample NvmlSampler::sample(size_t i) const {
  GpuSample out;
  if (i >= api_->handles.size()) {
    out.error = "no GPU at index " + std::to_string(i);
    return out;
  }
  nvmlDevice_t handle = api_->handles[i];
  auto note = [&](const char* what, nvmlReturn_t rc) {
    if (out.error.empty()) out.error = std::string(what) + ": " + api_->describe(rc);
  };
  nvmlMemory_t memory{};
  nvmlReturn_t rc = api_->get_memory(handle, &memory);
  if (rc == kNvmlSuccess) {
    out.memory_used_bytes = memory.used;
    out.memory_total_bytes = memory.total;
  } else {
    note("nvmlDeviceGetMemoryInfo", rc);
  }
  nvmlUtilization_t utilization{};
  rc = api_->get_utilization(handle, &utilization);
  if (rc == kNvmlSuccess) {
    out.utilization_pct = utilization.gpu;
    out.memory_utilization_pct = utilization.memory;
  } else {
    note("nvmlDeviceGetUtilizationRates", rc);
  }
  unsigned int milliwatts = 0;
  rc = api_->get_power(handle, &milliwatts);
  if (rc == kNvmlSuccess) {
    out.power_w = milliwatts / 1000.0;
  } else {
    note("nvmlDeviceGetPowerUsage", rc);
  }
  return out;
}

}  // namespace llmbench::telemetry

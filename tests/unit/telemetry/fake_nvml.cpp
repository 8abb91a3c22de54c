// A fake libnvidia-ml.so.1: the NVML entry points NvmlSampler loads, with the documented C ABI,
// answering from a small configurable state. Tests dlopen the same file to call fake_nvml_configure.
#include <cstring>

namespace {
struct nvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct nvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct State {
  int init_result = 0;
  unsigned gpus = 2;
  int power_result = 0;  // an NVML error code for nvmlDeviceGetPowerUsage, 0 = success
  unsigned calls = 0;    // memory readings so far, to make values move
  int initialized = 0;
};
State state;
int device_tokens[8];  // handles point here
}  // namespace

extern "C" {

void fake_nvml_configure(int init_result, unsigned gpus, int power_result) {
  state = State{};
  state.init_result = init_result;
  state.gpus = gpus > 8 ? 8 : gpus;
  state.power_result = power_result;
}
int fake_nvml_initialized() {
  return state.initialized;
}

int nvmlInit_v2() {
  if (state.init_result == 0) ++state.initialized;
  return state.init_result;
}
int nvmlShutdown() {
  --state.initialized;
  return 0;
}
int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = state.gpus;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= state.gpus) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &device_tokens[index];
  return 0;
}
static unsigned index_of(void* device) {
  return static_cast<unsigned>(static_cast<int*>(device) - device_tokens);
}
int nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  const char* base = index_of(device) == 0 ? "Fake H100 80GB HBM3" : "Fake H200";
  std::strncpy(name, base, length);
  return 0;
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory* memory) {
  unsigned i = index_of(device);
  memory->total = 80ull << 30;
  memory->used = (1ull << 30) * (1 + i) + (static_cast<unsigned long long>(state.calls++) << 20);
  memory->free = memory->total - memory->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization* utilization) {
  utilization->gpu = 50 + index_of(device);
  utilization->memory = 20;
  return 0;
}
int nvmlDeviceGetPowerUsage(void* device, unsigned int* milliwatts) {
  if (state.power_result != 0) return state.power_result;
  *milliwatts = 250500 + 1000 * index_of(device);
  return 0;
}
const char* nvmlErrorString(int result) {
  switch (result) {
    case 0:
      return "Success";
    case 3:
      return "Not Supported";
    case 9:
      return "Driver Not Loaded";
    default:
      return "Unknown Error";
  }
}
}

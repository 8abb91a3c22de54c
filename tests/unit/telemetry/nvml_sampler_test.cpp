#include "telemetry/nvml_sampler.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

namespace llmbench::telemetry {
namespace {

// The fake library (fake_nvml.cpp) is the same loaded object that NvmlSampler dlopens.
class FakeNvml {
 public:
  FakeNvml() : handle_(dlopen(LLMBENCH_FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) return;
    configure_ = reinterpret_cast<void (*)(int, unsigned, int)>(dlsym(handle_, "fake_nvml_configure"));
    initialized_ = reinterpret_cast<int (*)()>(dlsym(handle_, "fake_nvml_initialized"));
  }
  ~FakeNvml() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  bool ok() const { return configure_ != nullptr && initialized_ != nullptr; }
  void configure(int init_result, unsigned gpus, int power_result) { configure_(init_result, gpus, power_result); }
  int initialized() const { return initialized_(); }

 private:
  void* handle_;
  void (*configure_)(int, unsigned, int) = nullptr;
  int (*initialized_)() = nullptr;
};

TEST(NvmlSampler, AbsentLibraryIsAReasonNotAFailure) {
  std::string why;
  auto sampler = NvmlSampler::open("libnvidia-ml-does-not-exist.so.1", &why);
  EXPECT_EQ(sampler, nullptr);
  EXPECT_NE(why.find("cannot load libnvidia-ml-does-not-exist.so.1"), std::string::npos) << why;
}

TEST(NvmlSampler, DefaultLibraryOnThisMachineOpensOrSaysWhy) {
  // On a machine without the NVIDIA driver (CI) this must say why; with one, it lists GPUs.
  std::string why;
  auto sampler = NvmlSampler::open(NvmlSampler::kDefaultLibrary, &why);
  if (sampler) {
    EXPECT_FALSE(sampler->devices().empty());
  } else {
    EXPECT_FALSE(why.empty());
  }
}

TEST(NvmlSampler, LibraryWithoutNvmlSymbols) {
  std::string why;
  EXPECT_EQ(NvmlSampler::open("libm.so.6", &why), nullptr);
  EXPECT_NE(why.find("nvmlInit_v2 not found"), std::string::npos) << why;
}

TEST(NvmlSampler, ReadsEveryGpuThroughTheFakeLibrary) {
  FakeNvml fake;
  ASSERT_TRUE(fake.ok());
  fake.configure(0, 2, 0);
  {
    std::string why;
    auto sampler = NvmlSampler::open(LLMBENCH_FAKE_NVML_PATH, &why);
    ASSERT_NE(sampler, nullptr) << why;
    EXPECT_EQ(fake.initialized(), 1);
    ASSERT_EQ(sampler->devices().size(), 2u);
    EXPECT_EQ(sampler->devices()[0].name, "Fake H100 80GB HBM3");
    EXPECT_EQ(sampler->devices()[1].name, "Fake H200");
    EXPECT_EQ(sampler->devices()[1].index, 1u);
    EXPECT_EQ(*sampler->devices()[0].memory_total_bytes, 80ull << 30);

    GpuSample first = sampler->sample(1);
    GpuSample second = sampler->sample(1);
    EXPECT_TRUE(first.error.empty()) << first.error;
    EXPECT_EQ(*first.memory_total_bytes, 80ull << 30);
    EXPECT_GT(*second.memory_used_bytes, *first.memory_used_bytes);  // the fake's usage grows
    EXPECT_EQ(*first.utilization_pct, 51u);
    EXPECT_EQ(*first.memory_utilization_pct, 20u);
    EXPECT_DOUBLE_EQ(*first.power_w, 251.5);
    EXPECT_FALSE(sampler->sample(5).error.empty());
  }
  EXPECT_EQ(fake.initialized(), 0);  // nvmlShutdown on destruction
}

TEST(NvmlSampler, UnsupportedFieldIsAnErrorForThatFieldOnly) {
  FakeNvml fake;
  ASSERT_TRUE(fake.ok());
  fake.configure(0, 1, 3);  // NVML_ERROR_NOT_SUPPORTED for power
  std::string why;
  auto sampler = NvmlSampler::open(LLMBENCH_FAKE_NVML_PATH, &why);
  ASSERT_NE(sampler, nullptr) << why;
  GpuSample s = sampler->sample(0);
  EXPECT_FALSE(s.power_w.has_value());
  EXPECT_TRUE(s.memory_used_bytes.has_value());
  EXPECT_TRUE(s.utilization_pct.has_value());
  EXPECT_EQ(s.error, "nvmlDeviceGetPowerUsage: Not Supported (3)");
}

TEST(NvmlSampler, InitFailureAndNoGpuAreReasons) {
  FakeNvml fake;
  ASSERT_TRUE(fake.ok());
  fake.configure(9, 1, 0);  // NVML_ERROR_DRIVER_NOT_LOADED
  std::string why;
  EXPECT_EQ(NvmlSampler::open(LLMBENCH_FAKE_NVML_PATH, &why), nullptr);
  EXPECT_EQ(why, "nvmlInit_v2 failed: Driver Not Loaded (9)");
  fake.configure(0, 0, 0);
  EXPECT_EQ(NvmlSampler::open(LLMBENCH_FAKE_NVML_PATH, &why), nullptr);
  EXPECT_EQ(why, "NVML found no GPU");
  EXPECT_EQ(fake.initialized(), 0);
}

}  // namespace
}  // namespace llmbench::telemetry

// load_model: the backend that LoadOptions::device names. The CUDA backend exists only in builds
// configured with it (LLMBENCH_HAVE_CUDA, see the top-level CMakeLists.txt).
#include <stdexcept>
#include <string>

#include "engine/model_runner.h"
#ifdef LLMBENCH_HAVE_CUDA
#include "engine/cuda/cuda_model_runner.h"
#endif

namespace llmbench::engine {

std::string default_device() {
#ifdef LLMBENCH_HAVE_CUDA
  if (cuda_device_available()) return "cuda";
#endif
  return "cpu";
}

std::unique_ptr<ModelRunner> load_model(const LoadOptions& options) {
  const std::string device = options.device.empty() || options.device == "auto" ? default_device() : options.device;
  if (device == "cpu") return load_cpu_model(options);
  if (device == "cuda") {
#ifdef LLMBENCH_HAVE_CUDA
    return CudaModelRunner::load(options);
#else
    throw std::runtime_error(
        "device cuda: this llmbench was built without the CUDA backend (configure it with -DLLMBENCH_CUDA=ON on a "
        "machine with nvcc and cuBLAS)");
#endif
  }
  throw std::runtime_error("device \"" + device + "\" is not one of auto, cpu, cuda");
}

}  // namespace llmbench::engine

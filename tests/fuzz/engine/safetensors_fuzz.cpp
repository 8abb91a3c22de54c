// Fuzz target: arbitrary bytes as a .safetensors file. Opening must either throw std::runtime_error
// or give tensors whose every element lies inside the file (each is read back here in full).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/safetensors_file.h"

namespace {

// One in-memory file, rewritten for every input (SafetensorsFile::open takes a path and maps it).
int memory_file() {
  static const int fd = [] {
    const int f = ::memfd_create("safetensors_fuzz", MFD_CLOEXEC);
    if (f < 0) std::abort();
    return f;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::pwrite(fd, data + written, size - written, static_cast<off_t>(written));
    if (n <= 0) std::abort();
    written += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const auto file = llmbench::engine::SafetensorsFile::open(path);
    size_t total_bytes = 0;
    std::vector<float> values;
    for (const auto& [name, view] : file->tensors()) {
      const size_t bytes = view.num_elements * llmbench::engine::element_size(view.dtype);
      total_bytes += bytes;
      if (bytes > size) std::abort();  // a tensor larger than the whole file: offsets were not checked
      values.resize(view.num_elements);
      view.to_float(0, view.num_elements, values.data());  // ASan/SEGV if any element lies outside the mapping
      size_t shape_elements = 1;
      for (int64_t d : view.shape) shape_elements *= static_cast<size_t>(d);
      if (shape_elements != view.num_elements) std::abort();
    }
    (void)total_bytes;
  } catch (const std::runtime_error&) {
    // Expected for malformed files.
  }
  return 0;
}

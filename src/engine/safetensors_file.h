#pragma once
// Read-only access to safetensors checkpoints: one file (mmap'd, read-only) or a folder with
// model.safetensors / model.safetensors.index.json and its shards. Tensors are views into the
// mapping; they stay valid while the SafetensorsFile / SafetensorsCheckpoint lives.
//
// Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data (offsets are relative to it).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llmbench::engine {

enum class TensorDType : uint8_t { kF32, kBF16, kF16 };
const char* to_string(TensorDType dtype);
size_t element_size(TensorDType dtype);

struct TensorView {
  std::string name;
  std::string file;  // for error messages
  TensorDType dtype = TensorDType::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t num_elements = 0;
  // Element i converted to float.
  float at(size_t i) const;
  // Elements [begin, begin + count) converted to float.
  void to_float(size_t begin, size_t count, float* out) const;
  std::string shape_string() const;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the header: JSON, dtypes, shapes, offsets inside the file.
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  std::map<std::string, TensorView> tensors_;
};

class SafetensorsCheckpoint {
 public:
  // Opens <folder>/model.safetensors, or the shards listed in <folder>/model.safetensors.index.json.
  static SafetensorsCheckpoint open(const std::filesystem::path& folder);
  // nullptr when absent.
  const TensorView* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// bf16 / fp16 bit patterns to float and back (round to nearest even).
inline float bf16_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float value);
float fp16_to_float(uint16_t bits);

}  // namespace llmbench::engine

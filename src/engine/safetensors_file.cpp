#include "engine/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace llmbench::engine {

const char* to_string(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::kF32:
      return "F32";
    case TensorDType::kBF16:
      return "BF16";
    case TensorDType::kF16:
      return "F16";
  }
  return "?";
}

size_t element_size(TensorDType dtype) {
  return dtype == TensorDType::kF32 ? 4 : 2;
}

uint16_t float_to_bf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float fp16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float TensorView::at(size_t i) const {
  switch (dtype) {
    case TensorDType::kF32: {
      float f;
      std::memcpy(&f, data + i * 4, 4);
      return f;
    }
    case TensorDType::kBF16: {
      uint16_t b;
      std::memcpy(&b, data + i * 2, 2);
      return bf16_to_float(b);
    }
    case TensorDType::kF16: {
      uint16_t b;
      std::memcpy(&b, data + i * 2, 2);
      return fp16_to_float(b);
    }
  }
  return 0.0f;
}

void TensorView::to_float(size_t begin, size_t count, float* out) const {
  if (count == 0) return;  // an empty tensor may have no data and no output buffer (memcpy of null is UB)
  if (dtype == TensorDType::kF32) {
    std::memcpy(out, data + begin * 4, count * 4);
    return;
  }
  for (size_t i = 0; i < count; ++i) out[i] = at(begin + i);
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("safetensors " + path + ": " + what);
}

TensorDType parse_dtype(const std::string& s, const std::string& path, const std::string& name) {
  if (s == "F32") return TensorDType::kF32;
  if (s == "BF16") return TensorDType::kBF16;
  if (s == "F16") return TensorDType::kF16;
  fail(path, "tensor \"" + name + "\" has unsupported dtype " + s + " (supported: F32, BF16, F16)");
}

}  // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& p) {
  const std::string path = p.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(err));
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(path, "file too small (" + std::to_string(size) + " bytes) for a safetensors header");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->map_ = map;
  file->map_bytes_ = size;

  const auto* bytes = static_cast<const std::byte*>(map);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | static_cast<uint8_t>(bytes[i]);
  if (header_len > size - 8) {
    fail(path, "header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(size));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) fail(path, "header is not a valid JSON object");
  const std::byte* data = bytes + 8 + header_len;
  const size_t data_bytes = size - 8 - header_len;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
        !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
        info["data_offsets"].size() != 2) {
      fail(path, "tensor \"" + name + "\" has a malformed header entry");
    }
    TensorView view;
    view.name = name;
    view.file = path;
    view.dtype = parse_dtype(info["dtype"].get<std::string>(), path, name);
    size_t count = 1;
    for (const auto& d : info["shape"]) {
      if (!d.is_number_unsigned()) fail(path, "tensor \"" + name + "\" has an invalid shape");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && count > std::numeric_limits<size_t>::max() / 8 / dim) {
        fail(path, "tensor \"" + name + "\" is too large");
      }
      view.shape.push_back(static_cast<int64_t>(dim));
      count *= dim;
    }
    view.num_elements = count;
    const auto& off = info["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      fail(path, "tensor \"" + name + "\" has invalid data_offsets");
    }
    uint64_t begin = off[0].get<uint64_t>();
    uint64_t end = off[1].get<uint64_t>();
    if (begin > end || end > data_bytes) {
      fail(path, "tensor \"" + name + "\" data [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") lies outside the file's " + std::to_string(data_bytes) + " data bytes (truncated file?)");
    }
    if (end - begin != count * element_size(view.dtype)) {
      fail(path, "tensor \"" + name + "\" has " + std::to_string(end - begin) + " bytes but shape " +
                     view.shape_string() + " of " + to_string(view.dtype) + " needs " +
                     std::to_string(count * element_size(view.dtype)));
    }
    view.data = data + begin;
    file->tensors_.emplace(name, std::move(view));
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::filesystem::path& folder) {
  SafetensorsCheckpoint ckpt;
  std::filesystem::path single = folder / "model.safetensors";
  std::filesystem::path index = folder / "model.safetensors.index.json";
  std::vector<std::filesystem::path> shards;
  if (std::filesystem::exists(single)) {
    shards.push_back(single);
  } else if (std::filesystem::exists(index)) {
    std::ifstream in(index);
    std::stringstream buf;
    buf << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      throw std::runtime_error(index.string() + ": invalid index (expected a JSON object with \"weight_map\")");
    }
    std::set<std::string> names;
    for (const auto& [tensor, shard] : j["weight_map"].items()) {
      if (!shard.is_string())
        throw std::runtime_error(index.string() + ": weight_map[\"" + tensor + "\"] is not a string");
      std::string s = shard.get<std::string>();
      if (s.find('/') != std::string::npos || s == "..") {
        throw std::runtime_error(index.string() + ": shard name \"" + s + "\" must be a file in the model folder");
      }
      if (names.insert(s).second) shards.push_back(folder / s);
    }
  } else {
    throw std::runtime_error("no model.safetensors or model.safetensors.index.json in " + folder.string());
  }
  for (const auto& shard : shards) {
    ckpt.files_.push_back(SafetensorsFile::open(shard));
    for (const auto& [name, view] : ckpt.files_.back()->tensors()) {
      if (!ckpt.index_.emplace(name, &view).second) {
        throw std::runtime_error("tensor \"" + name + "\" appears in more than one shard (" + shard.string() + ")");
      }
    }
  }
  return ckpt;
}

const TensorView* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, view] : index_) out.push_back(name);
  return out;
}

}  // namespace llmbench::engine

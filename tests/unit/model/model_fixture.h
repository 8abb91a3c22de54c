#pragma once
// Helpers for tests against the Hugging Face fixtures in tests/fixtures/models/<name>: the prompts
// and greedy continuations of expected.json and the float64 reference logits of expected.safetensors.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/safetensors_file.h"

namespace llmbench::engine::test {

inline std::string fixture_dir(const std::string& name) {
  return std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

struct Fixture {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> greedy;
  std::vector<std::vector<float>> logits;  // per prompt: [len, V]
  int vocab = 0;
};

inline Fixture load_fixture(const std::string& name) {
  Fixture f;
  std::ifstream in(fixture_dir(name) + "/expected.json");
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buf.str());
  f.prompts = j.at("prompts").get<std::vector<std::vector<int32_t>>>();
  f.greedy = j.at("greedy").get<std::vector<std::vector<int32_t>>>();
  auto file = SafetensorsFile::open(fixture_dir(name) + "/expected.safetensors");
  for (size_t i = 0; i < f.prompts.size(); ++i) {
    const TensorView& t = file->tensors().at("logits_" + std::to_string(i));
    std::vector<float> v(t.num_elements);
    t.to_float(0, v.size(), v.data());
    f.vocab = static_cast<int>(t.shape[1]);
    f.logits.push_back(std::move(v));
  }
  return f;
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline float largest_magnitude(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

inline int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  return best;
}

}  // namespace llmbench::engine::test

#pragma once
// Reads a sample exposition from tests/data/prometheus.
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace llmbench::telemetry::testing {

inline std::string read_sample(const std::string& name) {
  std::string path = std::string(LLMBENCH_SOURCE_DIR) + "/tests/data/prometheus/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace llmbench::telemetry::testing

#include "report/result_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace llmbench::report {
namespace {

// "load_c4" before "load_c16": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && std::isdigit(static_cast<unsigned char>(a[i_end]))) ++i_end;
      while (j_end < b.size() && std::isdigit(static_cast<unsigned char>(b[j_end]))) ++j_end;
      std::string_view da(a.data() + i, i_end - i), db(b.data() + j, j_end - j);
      while (da.size() > 1 && da[0] == '0') da.remove_prefix(1);
      while (db.size() > 1 && db[0] == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = i_end;
      j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool looks_like_result(const nlohmann::json& j) {
  return j.is_object() && (j.contains("completed") || j.contains("llmbench") || j.contains("mean_ttft_ms"));
}

std::optional<nlohmann::json> parse_file(const std::filesystem::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path.string();
    return std::nullopt;
  }
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e600
    *error = path.string() + " is not valid JSON: " + e.what();
    return std::nullopt;
  }
}

}  // namespace

std::vector<ResultFile> load_result_files(const std::vector<std::string>& paths) {
  std::vector<ResultFile> files;
  for (const std::string& p : paths) {
    std::filesystem::path path(p);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> found;
      for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".json") found.push_back(it->path());
      }
      std::sort(found.begin(), found.end(),
                [](const auto& x, const auto& y) { return natural_less(x.string(), y.string()); });
      for (const auto& f : found) {
        std::string error;
        auto j = parse_file(f, &error);
        if (j && looks_like_result(*j)) files.push_back({f.string(), f.stem().string(), std::move(*j)});
      }
      continue;
    }
    if (!std::filesystem::exists(path, ec)) throw std::runtime_error("no such file or folder: " + p);
    std::string error;
    auto j = parse_file(path, &error);
    if (!j) throw std::runtime_error(error);
    if (!looks_like_result(*j)) throw std::runtime_error(p + " is not a benchmark result (no 'completed' field)");
    files.push_back({path.string(), path.stem().string(), std::move(*j)});
  }
  return files;
}

std::string run_label(const ResultFile& file) {
  const auto& r = file.result;
  if (r.contains("label") && r["label"].is_string() && !r["label"].get<std::string>().empty()) {
    return r["label"].get<std::string>();
  }
  if (r.contains("llmbench") && r["llmbench"].is_object()) {
    const auto& l = r["llmbench"];
    for (const char* key : {"label"}) {
      if (l.contains(key) && l[key].is_string() && !l[key].get<std::string>().empty()) return l[key];
    }
  }
  return file.name;
}

}  // namespace llmbench::report

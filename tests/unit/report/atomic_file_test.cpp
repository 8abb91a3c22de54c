#include "report/atomic_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "report_test_support.h"

namespace llmbench::report {
namespace {

using namespace testing;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_files(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, ReplacesContent) {
  ScratchDir dir("atomic_replace");
  const auto path = dir.path / "out.json";
  write_string_atomically(path.string(), "first");
  EXPECT_EQ(read_all(path), "first");
  write_string_atomically(path.string(), "second, longer content");
  EXPECT_EQ(read_all(path), "second, longer content");
  EXPECT_EQ(count_files(dir.path), 1u);
}

TEST(AtomicFile, FailureLeavesOldFileAndNoTemporary) {
  ScratchDir dir("atomic_failure");
  const auto path = dir.path / "out.json";
  write_string_atomically(path.string(), "old complete content");
  EXPECT_THROW(write_file_atomically(path.string(),
                                     [](std::FILE* f) {
                                       std::fputs("half a fi", f);
                                       throw std::runtime_error("crash mid-write");
                                     }),
               std::runtime_error);
  EXPECT_EQ(read_all(path), "old complete content");
  EXPECT_EQ(count_files(dir.path), 1u);
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  ScratchDir dir("atomic_missing");
  const auto path = dir.path / "no" / "such" / "dir" / "out.json";
  try {
    write_string_atomically(path.string(), "x");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_string_atomically("", "x"), std::runtime_error);
}

}  // namespace
}  // namespace llmbench::report

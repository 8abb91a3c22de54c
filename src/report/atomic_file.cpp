#include "report/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace llmbench::report {
namespace {

std::runtime_error os_error(const std::string& what, const std::string& path, int err) {
  return std::runtime_error(fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& writer) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty path");
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw os_error("cannot create a temporary file for", path, errno);
  const std::string tmp_path(name.data());
  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    throw os_error("cannot open a temporary file for", path, err);
  }
  // mkstemp creates files 0600; result files are meant to be shared like any other output.
  ::fchmod(fd, 0644);
  std::vector<char> buffer(1 << 20);
  std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
  try {
    writer(file);
    if (std::ferror(file) != 0) throw os_error("cannot write", path, errno != 0 ? errno : EIO);
    if (std::fflush(file) != 0) throw os_error("cannot write", path, errno);
    if (::fsync(fd) != 0) throw os_error("cannot sync", path, errno);
  } catch (...) {
    std::fclose(file);
    ::unlink(tmp_path.c_str());
    throw;
  }
  if (std::fclose(file) != 0) {
    const int err = errno;
    ::unlink(tmp_path.c_str());
    throw os_error("cannot write", path, err);
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_path.c_str());
    throw os_error("cannot rename the temporary file onto", path, err);
  }
}

void write_string_atomically(const std::string& path, const std::string& content) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (!content.empty() && std::fwrite(content.data(), 1, content.size(), f) != content.size()) {
      throw os_error("cannot write", path, errno);
    }
  });
}

}  // namespace llmbench::report

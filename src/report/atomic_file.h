#pragma once
// Writing result files so that a crash or error never leaves half a file: the content goes to a
// temporary file in the same directory, which is flushed, synced and renamed over the target.
#include <cstdio>
#include <functional>
#include <string>

namespace llmbench::report {

// Calls writer(file) on a temporary file next to `path`, then renames it to `path`. If writer
// throws or any write, flush, sync or rename fails, the temporary file is removed, `path` is left
// as it was, and std::runtime_error (naming the path and the OS error) is thrown (or writer's
// exception is rethrown).
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& writer);

// Convenience: atomically writes `content` to `path`.
void write_string_atomically(const std::string& path, const std::string& content);

}  // namespace llmbench::report

// Fuzzes the SSE parser: arbitrary bytes, fed whole and in pieces whose sizes come from the input,
// must give the same events (split invariance), stay within the size bound, and never crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/sse_parser.h"

namespace {

struct Ev {
  std::string type, data, id;
  bool done, overflow;
  bool operator==(const Ev&) const = default;
};

std::vector<Ev> run(std::string_view text, const uint8_t* sizes, size_t n_sizes, size_t limit) {
  llmbench::net::SseParser parser(limit);
  std::vector<Ev> out;
  auto sink = [&](const llmbench::net::SseEvent& e) {
    if (e.data.size() > limit) std::abort();
    out.push_back({std::string(e.type), std::string(e.data), std::string(e.id), e.done, e.overflow});
  };
  size_t pos = 0, i = 0;
  while (pos < text.size()) {
    size_t n = n_sizes ? 1 + sizes[i++ % n_sizes] % 64 : text.size();
    n = std::min(n, text.size() - pos);
    parser.feed(text.substr(pos, n), static_cast<int64_t>(pos), sink);
    pos += n;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t n_sizes = data[0] % 16;
  const size_t limit = 64 + data[1] * 16;
  if (size < 2 + n_sizes) return 0;
  const uint8_t* sizes = data + 2;
  std::string_view text(reinterpret_cast<const char*>(data + 2 + n_sizes), size - 2 - n_sizes);
  const auto whole = run(text, nullptr, 0, limit);
  const auto pieces = run(text, sizes, n_sizes, limit);
  if (!(whole == pieces)) std::abort();  // splitting must never change the events
  return 0;
}

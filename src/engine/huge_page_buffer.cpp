#include "engine/huge_page_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace llmbench::engine {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

void HugePageFree::operator()(void* p) const {
  std::free(p);
}

HugePageBuffer allocate_huge_page_buffer(size_t bytes) {
  // Small arrays stay on ordinary pages: rounding them up to 2 MiB would waste memory.
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
  if (p == nullptr) throw std::bad_alloc();
  if (align == kHugePage) ::madvise(p, rounded, MADV_HUGEPAGE);  // advisory: fine if refused
  std::memset(p, 0, rounded);
  return HugePageBuffer(p);
}

}  // namespace llmbench::engine

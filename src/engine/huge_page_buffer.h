#pragma once
// Zero-filled memory for the model's large arrays (packed weights, the KV cache), backed by 2 MiB
// transparent huge pages where the kernel allows them (THP "madvise" mode, Debian's default).
// A decode step streams every weight and much of the KV cache: with 4 KiB pages that is tens of
// thousands of TLB misses per step, each a two-level page walk inside a virtual machine.
#include <cstddef>
#include <memory>

namespace llmbench::engine {

struct HugePageFree {
  void operator()(void* p) const;
};
using HugePageBuffer = std::unique_ptr<void, HugePageFree>;

// Throws std::bad_alloc when the memory is not available.
HugePageBuffer allocate_huge_page_buffer(size_t bytes);

}  // namespace llmbench::engine

#pragma once
// Files linked into the binary with llmbench_embed_file() (cmake/llmbench.cmake).
#include <string_view>

// Declares the symbols of one embedded file: LLMBENCH_DECLARE_EMBEDDED(name) at namespace scope.
#define LLMBENCH_DECLARE_EMBEDDED(symbol) \
  extern "C" const char symbol##_begin[]; \
  extern "C" const char symbol##_end[];

// The bytes of an embedded file declared with LLMBENCH_DECLARE_EMBEDDED.
#define LLMBENCH_EMBEDDED(symbol) std::string_view(symbol##_begin, static_cast<size_t>(symbol##_end - symbol##_begin))

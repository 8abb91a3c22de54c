// Embeds data/gpt2/ with the assembler's .incbin (paths come from CMake), so the build stays fast
// (no 1.5 MB generated source) and the binary needs no data files at run time.
#include "tokenizer/gpt2_data.h"

#ifndef LLMBENCH_GPT2_VOCAB_PATH
#error "LLMBENCH_GPT2_VOCAB_PATH must be defined by CMake"
#endif

#define LLMBENCH_INCBIN(name, path)            \
  __asm__(                                     \
      ".section .rodata\n"                     \
      ".balign 16\n"                           \
      ".type " #name "_begin, @object\n" #name \
      "_begin:\n"                              \
      ".incbin \"" path "\"\n" #name           \
      "_end:\n"                                \
      ".byte 0\n"                              \
      ".previous\n");                          \
  extern "C" const char name##_begin[];        \
  extern "C" const char name##_end[];

LLMBENCH_INCBIN(llmbench_gpt2_vocab, LLMBENCH_GPT2_VOCAB_PATH)
LLMBENCH_INCBIN(llmbench_gpt2_merges, LLMBENCH_GPT2_MERGES_PATH)

namespace llmbench::tokenizer {

std::string_view gpt2_vocab_json() {
  return {llmbench_gpt2_vocab_begin, static_cast<size_t>(llmbench_gpt2_vocab_end - llmbench_gpt2_vocab_begin)};
}

std::string_view gpt2_merges_txt() {
  return {llmbench_gpt2_merges_begin, static_cast<size_t>(llmbench_gpt2_merges_end - llmbench_gpt2_merges_begin)};
}

}  // namespace llmbench::tokenizer

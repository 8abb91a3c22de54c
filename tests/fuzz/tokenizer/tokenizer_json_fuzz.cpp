// Loading a tokenizer.json from arbitrary bytes must only ever throw std::runtime_error; a file
// that loads must encode and decode without crashing.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string_view>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace llmbench::tokenizer;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    BpeTokenizer tokenizer(parse_tokenizer_json(text, "fuzz input"));
    const auto ids = tokenizer.encode("Hello world, it's <mask> 12345 \xF0\x9F\x99\x82 hello world<|endoftext|>\n\n");
    (void)tokenizer.decode(ids, false);
    (void)tokenizer.decode(ids, true);
  } catch (const std::runtime_error&) {
    // Expected for malformed or unsupported input.
  }
  return 0;
}

// Encoding arbitrary bytes (invalid UTF-8 included) must not crash, and decoding the ids must give
// back the input read lossily, whole and streamed token by token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

void check(const std::shared_ptr<const llmbench::tokenizer::Tokenizer>& tokenizer, std::string_view input,
           const std::string& expected) {
  const auto ids = tokenizer->encode(input);
  if (tokenizer->decode(ids, /*skip_special=*/false) != expected) std::abort();
  llmbench::tokenizer::StreamingDecoder stream(tokenizer, /*skip_special=*/false);
  std::string streamed;
  for (const auto id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (streamed != expected) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using llmbench::tokenizer::Tokenizer;
  static const auto gpt2 = Tokenizer::gpt2();
  static const auto llama3 = Tokenizer::from_tokenizer_json(std::string(LLMBENCH_SOURCE_DIR) +
                                                            "/tests/fixtures/tokenizer/llama3_style_tokenizer.json");
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string expected;
  llmbench::tokenizer::append_utf8_lossy(input, expected);
  check(gpt2, input, expected);
  check(llama3, input, expected);
  return 0;
}

// Fuzzes the tokenize-answer parsers (--tokenize-via-server): any bytes as a vLLM, llama.cpp or TGI
// /tokenize answer. Never a crash; a count is never negative; a rejected answer always says why.
// The same bytes as prompt text must always make a request body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/tokenize_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using llmbench::net::TokenizeFormat;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto format : {TokenizeFormat::kVllm, TokenizeFormat::kLlamaCpp, TokenizeFormat::kTgi}) {
    std::string error;
    const auto count = llmbench::net::parse_tokenize_count(format, text, &error);
    if (count && *count < 0) std::abort();
    if (!count && error.empty()) std::abort();
    if (llmbench::net::tokenize_body(format, "m", text, false).empty()) std::abort();
  }
  return 0;
}

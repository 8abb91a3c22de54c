#pragma once
// GPT-2's vocab.json and merges.txt (data/gpt2/), embedded into the library at build time.
#include <string_view>

namespace llmbench::tokenizer {

std::string_view gpt2_vocab_json();
std::string_view gpt2_merges_txt();

}  // namespace llmbench::tokenizer

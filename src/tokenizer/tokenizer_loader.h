#pragma once
// Reading tokenizer files into a TokenizerSpec (tokenizer.json; vocab.json + merges.txt).
#include <string>
#include <string_view>

#include "tokenizer/bpe_tokenizer.h"

namespace llmbench::tokenizer {

// Parses the text of a tokenizer.json. Throws std::runtime_error naming the source and the problem
// (malformed JSON, unsupported model/normalizer/pre-tokenizer/decoder feature).
TokenizerSpec parse_tokenizer_json(std::string_view json_text, const std::string& source);

// Parses GPT-2-format vocab.json and merges.txt texts; registers <|endoftext|> as a special token
// when the vocabulary has it.
TokenizerSpec parse_vocab_merges(std::string_view vocab_json, std::string_view merges_txt, const std::string& source);

// Reads a whole file; throws std::runtime_error with the path when it can't.
std::string read_file(const std::string& path);

}  // namespace llmbench::tokenizer

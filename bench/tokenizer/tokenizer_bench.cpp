// Tokenizer throughput: encode, decode and streaming decode, on the fixture corpus (mixed English,
// code, CJK, emoji) and on plain English-like prose. Prints one table row per case.
// Usage: tokenizer_bench [repeat_mb]   (default 8: each case processes about this many MB)
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tokenizer/tokenizer.h"

using llmbench::tokenizer::StreamingDecoder;
using llmbench::tokenizer::TokenId;
using llmbench::tokenizer::Tokenizer;

namespace {

std::vector<std::string> fixture_corpus() {
  std::ifstream in(std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/corpus.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  }
  return lines;
}

// Prompts of English-like prose (a word list with punctuation), about 2 KB each.
std::vector<std::string> prose_corpus() {
  const char* words[] = {"the",     "model",   "serves", "requests", "with",      "continuous", "batching", "and",
                         "paged",   "memory",  "while",  "latency",  "remains",   "low",        "under",    "load",
                         "tokens",  "per",     "second", "measured", "carefully", "across",     "many",     "runs",
                         "however", "results", "vary",   "between",  "servers",   "GPUs",       "2024",     "of"};
  std::mt19937 rng(7);
  std::vector<std::string> prompts;
  for (int p = 0; p < 64; ++p) {
    std::string text;
    while (text.size() < 2048) {
      text += words[rng() % std::size(words)];
      const unsigned r = rng() % 16;
      text += r == 0 ? ". " : r == 1 ? ", " : r == 2 ? "\n" : " ";
    }
    prompts.push_back(text);
  }
  return prompts;
}

void run(const std::string& name, const std::shared_ptr<const Tokenizer>& tokenizer,
         const std::vector<std::string>& texts, double target_mb) {
  size_t bytes_per_pass = 0;
  for (const auto& t : texts) bytes_per_pass += t.size();
  const int passes = std::max(1, static_cast<int>(target_mb * 1e6 / static_cast<double>(bytes_per_pass)));
  size_t tokens = 0;
  std::vector<std::vector<TokenId>> encoded(texts.size());
  int64_t start = llmbench::now_ns();
  for (int p = 0; p < passes; ++p) {
    for (size_t i = 0; i < texts.size(); ++i) {
      encoded[i] = tokenizer->encode(texts[i]);
      tokens += encoded[i].size();
    }
  }
  const double encode_s = llmbench::ns_to_s(llmbench::now_ns() - start);
  const double total_mb = static_cast<double>(bytes_per_pass) * passes / 1e6;

  size_t decoded_bytes = 0;
  start = llmbench::now_ns();
  for (int p = 0; p < passes; ++p) {
    for (const auto& ids : encoded) decoded_bytes += tokenizer->decode(ids).size();
  }
  const double decode_s = llmbench::ns_to_s(llmbench::now_ns() - start);

  size_t streamed_tokens = 0;
  start = llmbench::now_ns();
  for (int p = 0; p < passes; ++p) {
    for (const auto& ids : encoded) {
      StreamingDecoder decoder(tokenizer);
      for (const TokenId id : ids) decoded_bytes += decoder.push(id).size();
      decoded_bytes += decoder.flush().size();
      streamed_tokens += ids.size();
    }
  }
  const double stream_s = llmbench::ns_to_s(llmbench::now_ns() - start);
  fmt::print("| {:<28} | {:>6.1f} | {:>12.2f} | {:>14.2f} | {:>12.2f} | {:>16.1f} |\n", name, total_mb,
             total_mb / encode_s, static_cast<double>(tokens) / encode_s / 1e6, total_mb / decode_s,
             static_cast<double>(streamed_tokens) / stream_s / 1e6);
  if (decoded_bytes == 0) std::abort();  // keeps the work observable
}

}  // namespace

int main(int argc, char** argv) {
  const double target_mb = argc > 1 ? std::atof(argv[1]) : 8.0;
  const std::string fixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/";
  int64_t start = llmbench::now_ns();
  auto gpt2 = Tokenizer::gpt2();
  const double load_ms = llmbench::ns_to_ms(llmbench::now_ns() - start);
  auto llama3 = Tokenizer::from_tokenizer_json(fixtures + "llama3_style_tokenizer.json");
  const auto corpus = fixture_corpus();
  const auto prose = prose_corpus();
  fmt::print("GPT-2 vocabulary load (embedded, parse + build): {:.0f} ms\n\n", load_ms);
  fmt::print("| {:<28} | {:>6} | {:>12} | {:>14} | {:>12} | {:>16} |\n", "case", "MB", "encode MB/s", "encode Mtok/s",
             "decode MB/s", "stream Mtok/s");
  fmt::print("|{:-<30}|{:->8}|{:->14}|{:->16}|{:->14}|{:->18}|\n", "", "", "", "", "", "");
  run("gpt2, fixture corpus", gpt2, corpus, target_mb);
  run("gpt2, English prose", gpt2, prose, target_mb);
  run("llama3-style, fixture corpus", llama3, corpus, target_mb);
  run("llama3-style, English prose", llama3, prose, target_mb);
  return 0;
}

#pragma once
// Datasets: what a benchmark sends, loaded, tokenized and turned into items before the clock starts.
// Names and semantics follow `vllm bench serve --dataset-name` (random, sharegpt, custom JSONL,
// prefix repetition); see docs/workloads.md.
//
//   random    prompts of an exact token length drawn around --random-input-len, as token ids or as
//             text whose encoding has exactly that many tokens (exact_text.h)
//   sharegpt  a ShareGPT JSON file: first human turn as prompt, the reply's token count as output
//   jsonl     one request per line: prompt (text or ids) or messages, max_tokens, timestamp
//   prefix    prompts sharing one of --num-prefixes prefixes, optionally multi-turn sessions
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/dialect.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::workload {

enum class DatasetKind { kRandom, kShareGpt, kJsonl, kPrefix };
enum class BadLinePolicy { kSkip, kError };

// "random" | "sharegpt" | "jsonl" | "prefix" (also vLLM's "custom" and "prefix_repetition").
std::optional<DatasetKind> parse_dataset_kind(const std::string& name);
const char* to_string(DatasetKind kind);

struct DatasetOptions {
  DatasetKind kind = DatasetKind::kRandom;
  std::string path;  // sharegpt, jsonl
  uint64_t seed = 0;
  int64_t num_prompts = 1000;    // items to produce (jsonl: at most this many lines; 0 = all lines)
  bool token_id_prompts = true;  // random/prefix: send token ids (else exact text)
  BadLinePolicy on_bad_line = BadLinePolicy::kSkip;

  // random
  int32_t input_len = 1024;
  int32_t output_len = 128;  // also: jsonl lines without max_tokens, prefix output
  double range_ratio = 0;    // lengths uniform in [floor(len*(1-r)), ceil(len*(1+r))], r in [0, 1)
  int32_t random_prefix_len = 0;

  // sharegpt
  std::optional<int32_t> sharegpt_output_len;  // overrides the reply's length (skips its min check)
  int32_t min_len = 4;                         // vLLM's is_valid_sequence defaults
  int32_t max_prompt_len = 1024;
  int32_t max_total_len = 2048;

  // jsonl
  bool require_timestamps = false;  // --trace-replay: every line needs a timestamp

  // prefix
  int32_t prefix_len = 256;
  int32_t suffix_len = 256;
  int32_t num_prefixes = 10;
  int32_t num_turns = 1;   // > 1: multi-turn sessions, each turn carrying the previous ones
  bool chat_turns = true;  // sessions as chat messages (else concatenated text)
};

// One request's content. Exactly one of token_ids / messages / text is the prompt.
struct WorkloadItem {
  std::string text;                        // text prompt
  std::vector<int32_t> token_ids;          // token-id prompt (when not empty)
  std::vector<net::ChatMessage> messages;  // chat conversation (when not empty)
  int32_t prompt_len = 0;                  // tokens as counted by the tokenizer (ids: their number)
  int32_t requested_prompt_len = -1;       // random/prefix: the length asked for (-1: n/a)
  // random/prefix text prompts: `text` starts with a prefix shared with other items, of this many
  // bytes, generated for requested_prefix_len tokens (0: no shared prefix). Realigning through a
  // server (server_realign.h) keeps these bytes identical across the items that share them.
  size_t shared_prefix_bytes = 0;
  int32_t requested_prefix_len = 0;
  int32_t max_tokens = 0;
  std::optional<double> timestamp_s;  // jsonl trace time
};

struct BadLine {
  int64_t line = 0;  // 1-based line (jsonl), or the line where the entry starts (sharegpt)
  std::string message;
};

struct Dataset {
  DatasetKind kind = DatasetKind::kRandom;
  std::vector<WorkloadItem> items;
  int64_t skipped = 0;             // malformed lines/entries skipped (--on-bad-line skip)
  std::vector<BadLine> bad_lines;  // the first few of them, for the message
  int64_t filtered = 0;            // well-formed entries left out by length rules (sharegpt)
  int64_t oversampled = 0;         // items repeated because the file had too few (sharegpt)
  int64_t exact_fixups = 0;        // random text: prompts that needed the character-level fix-up
  // Whose count prompt_len is: "local tokenizer" (encode without special tokens) or "server"
  // (the target's tokenize endpoint, what it counts for a generation request; server_realign.h).
  std::string length_source = "local tokenizer";
};

// A file that cannot be used (missing, not JSON, a bad line with --on-bad-line error, no usable
// entries). The message names the file and the line.
struct DatasetError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loads/generates the dataset. Throws DatasetError (files) or std::invalid_argument (options).
Dataset load_dataset(const DatasetOptions& options, const tokenizer::Tokenizer& tokenizer);

// The JSONL and ShareGPT readers on their own (text = the whole file; `source` names it in messages).
Dataset parse_jsonl(const std::string& text, const std::string& source, const DatasetOptions& options,
                    const tokenizer::Tokenizer& tokenizer);
Dataset parse_sharegpt(const std::string& text, const std::string& source, const DatasetOptions& options,
                       const tokenizer::Tokenizer& tokenizer);

// Per-item lengths drawn as vLLM's RandomDataset does: uniform integers in
// [floor(len*(1-r)), ceil(len*(1+r))] (output at least 1).
struct LengthRange {
  int32_t low = 0;
  int32_t high = 0;
};
LengthRange length_range(int32_t len, double range_ratio, int32_t min_value);

}  // namespace llmbench::workload

// Fuzz target: arbitrary bytes as a dataset file (one JSON request per line, or a ShareGPT JSON
// list). The first byte picks the reader and its options; the rest is the file. Reading must only
// ever throw DatasetError, and what it returns must be usable as requests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tokenizer/tokenizer.h"
#include "workload/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace llmbench::workload;
  static const auto tokenizer = llmbench::tokenizer::Tokenizer::gpt2();
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  DatasetOptions o;
  o.kind = flags & 1 ? DatasetKind::kShareGpt : DatasetKind::kJsonl;
  o.on_bad_line = flags & 2 ? BadLinePolicy::kError : BadLinePolicy::kSkip;
  o.require_timestamps = (flags & 4) != 0;
  o.num_prompts = flags & 8 ? 3 : 0;
  if (flags & 16) o.sharegpt_output_len = 5;
  o.output_len = 16;
  try {
    const Dataset ds = o.kind == DatasetKind::kJsonl ? parse_jsonl(text, "fuzz.jsonl", o, *tokenizer)
                                                     : parse_sharegpt(text, "fuzz.json", o, *tokenizer);
    if (ds.items.empty()) std::abort();  // "no usable entries" must be an error, not an empty workload
    for (const auto& item : ds.items) {
      if (item.max_tokens < 1) std::abort();
      if (item.prompt_len < 0) std::abort();
      if (o.require_timestamps && !item.timestamp_s) std::abort();
      if (item.timestamp_s && !(*item.timestamp_s >= 0)) std::abort();
    }
    if (o.kind == DatasetKind::kJsonl && o.num_prompts > 0 && static_cast<int64_t>(ds.items.size()) > o.num_prompts) {
      std::abort();
    }
  } catch (const DatasetError&) {
    // Expected for malformed files.
  }
  return 0;
}

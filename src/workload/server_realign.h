#pragma once
// Realigning text prompts through the target server's own token counts (--tokenize-via-server).
//
// The local tokenizer (--tokenizer, GPT-2 by default) makes text of exactly the requested length
// *for itself*; the server may count differently (another vocabulary, a BOS token, a chat
// template). Before the clock starts, every prompt is counted by the server and adjusted until the
// server's count equals the requested length:
//
//   * a prompt is its shared prefix (kept byte-identical, realigned first on its own to the
//     requested prefix length) followed by a tail of words (" river", " stone", ...);
//   * the number of tail words is searched: the first count is of the locally-exact text; then
//     interpolation between the closest counts below and above the target (bisection when an
//     interpolation step did not halve the interval), adding words from the local tokenizer's
//     word pool when the text is too short;
//   * when one word more overshoots (a word the server splits into several tokens), one-letter
//     words (" a".." z") are appended and single characters dropped until the count is exact;
//   * each prompt gets at most `max_rounds` counts; all prompts still open are counted together in
//     one batch per round (the batch is sent concurrently).
//
// A prompt that is not exact after max_rounds keeps the closest text found (below the target on a
// tie) and is reported; its prompt_len is the server's count of that text.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "workload/dataset.h"
#include "workload/exact_text.h"

namespace llmbench::workload {

// The server's count of each text (what it counts for a generation request with that prompt).
// One call is one round. Throws (any std::exception) when the server cannot answer.
using ServerCountFn = std::function<std::vector<int32_t>(const std::vector<std::string>& texts)>;

struct RealignOptions {
  int32_t max_rounds = 40;  // counts per prompt (and per shared prefix) at most
  uint64_t seed = 0;        // added words and letters are drawn from this seed: same server, same prompts
  int32_t max_examples = 5;
};

struct RealignReport {
  int64_t prompts = 0;
  int64_t exact = 0;
  int64_t inexact = 0;                        // kept at the closest length found
  std::vector<std::string> inexact_examples;  // "prompt 17: requested 5 tokens, server counts 6"
  int64_t prefixes = 0;                       // shared prefixes realigned first
  int64_t prefixes_inexact = 0;
  int32_t rounds = 0;                 // batches sent
  int32_t max_rounds_per_prompt = 0;  // the most counts one prompt needed
  int64_t counts = 0;                 // texts counted in all
};

// True for the items realign_with_server() can realign: text prompts with a requested length.
bool realignable(const Dataset& dataset);

// Rewrites every item's text so that count(text) == requested_prompt_len (see above), sets
// prompt_len to the server's count of the final text, and sets dataset.length_source = "server".
// Throws std::invalid_argument when !realignable(dataset); lets count()'s exceptions through.
RealignReport realign_with_server(Dataset& dataset, const ExactTextGenerator& words, const ServerCountFn& count,
                                  const RealignOptions& options);

}  // namespace llmbench::workload

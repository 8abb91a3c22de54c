#pragma once
// One request inside the engine: its tokens, KV block table, progress and output state. Only the
// engine thread touches a Sequence; only the Scheduler changes its status and block table.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "engine/stop_checker.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::engine {

enum class SequenceStatus : uint8_t { kWaiting, kRunning, kFinished };

struct Sequence {
  Sequence(uint64_t id, GenerationRequest request, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
           uint64_t rng_seed);

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
  int num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  // Tokens whose KV is not in the cache yet (the whole prompt after a preemption, 1 when decoding).
  int num_uncomputed_tokens() const { return num_tokens() - num_computed_tokens; }

  uint64_t id;
  std::vector<int32_t> token_ids;  // prompt followed by the generated tokens
  int num_prompt_tokens;
  int num_computed_tokens = 0;  // tokens whose KV is in the cache
  std::vector<int32_t> block_table;
  SequenceStatus status = SequenceStatus::kWaiting;
  SamplingParams params;
  OutputCallback on_output;
  int64_t arrival_ns;
  int64_t first_scheduled_ns = 0;
  int64_t first_token_ns = 0;
  int num_preemptions = 0;

  // Output state.
  SamplerRng rng;
  std::optional<tokenizer::StreamingDecoder> detokenizer;  // absent without a tokenizer (no text)
  StopChecker stop_checker;
  std::vector<int32_t> banned_until_min_tokens;  // EOS (unless ignore_eos) and stop_token_ids
  std::vector<int32_t> pending_token_ids;        // produced since the last RequestOutput
  std::string pending_text;                      // released since the last RequestOutput
  FinishReason finish_reason = FinishReason::kNone;
  std::string stop_reason;
  std::string error;
};

}  // namespace llmbench::engine

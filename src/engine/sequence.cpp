#include "engine/sequence.h"

#include <utility>

namespace llmbench::engine {

Sequence::Sequence(uint64_t id_, GenerationRequest request, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                   uint64_t rng_seed)
    : id(id_),
      token_ids(std::move(request.prompt_tokens)),
      num_prompt_tokens(static_cast<int>(token_ids.size())),
      params(std::move(request.params)),
      on_output(std::move(request.on_output)),
      arrival_ns(request.arrival_ns),
      rng(params.seed.value_or(rng_seed)),
      stop_checker(params.stop) {
  if (tokenizer) detokenizer.emplace(std::move(tokenizer), params.skip_special_tokens);
  token_ids.reserve(token_ids.size() + static_cast<size_t>(params.max_tokens > 0 ? params.max_tokens : 0));
}

}  // namespace llmbench::engine

// Engine::create lives apart from LlmEngine so that tests driving LlmEngine with a fake model do not
// link the CPU model backend.
#include <stdexcept>
#include <utility>

#include "engine/engine.h"
#include "engine/llm_engine.h"

namespace llmbench::engine {

std::unique_ptr<Engine> Engine::create(const EngineOptions& options,
                                       std::shared_ptr<const tokenizer::Tokenizer> tokenizer) {
  if (!tokenizer) {
    tokenizer = options.load.load_format == "dummy" ? tokenizer::Tokenizer::gpt2()
                                                    : tokenizer::Tokenizer::from_model_dir(options.load.model);
  }
  std::unique_ptr<ModelRunner> model = load_model(options.load);
  return std::make_unique<LlmEngine>(options, std::move(model), std::move(tokenizer));
}

}  // namespace llmbench::engine

#pragma once
// Model configuration: parsing a Hugging Face config.json (OPT, GPT-2) and the built-in shapes used
// by load_format "dummy". ModelSpec extends the public ModelConfig with the details the forward
// pass needs that the engine does not care about.
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "engine/model_runner.h"

namespace llmbench::engine {

enum class Activation : uint8_t { kRelu, kGeluTanh, kGeluErf };

struct ModelSpec {
  ModelConfig config;
  Activation activation = Activation::kRelu;
  int position_offset = 0;                       // OPT: 2 (position p reads row p + 2), GPT-2: 0
  int position_rows = 0;                         // rows of the position table: max_position + position_offset
  bool final_layer_norm = true;                  // OPT: pre-LN and not _remove_final_layer_norm; GPT-2: ln_f
  bool enable_bias = true;                       // OPT enable_bias
  bool layer_norm_affine = true;                 // OPT layer_norm_elementwise_affine
  bool scale_attn_weights = true;                // GPT-2: divide scores by sqrt(D)
  bool scale_attn_by_inverse_layer_idx = false;  // GPT-2: also divide by (layer + 1)
  bool project_in_out() const { return config.word_embed_proj_dim != config.hidden_size; }
};

// Parses config.json content; `source` names the file in error messages.
ModelSpec parse_model_config(const nlohmann::json& config, const std::string& source);
// Reads <folder>/config.json.
ModelSpec load_model_config(const std::filesystem::path& folder);
// The real shapes of a known model ("opt-125m", "facebook/opt-125m", "opt-350m", "gpt2",
// "gpt2-medium", "openai-community/gpt2"). Throws for unknown names.
ModelSpec dummy_model_spec(const std::string& name);

}  // namespace llmbench::engine

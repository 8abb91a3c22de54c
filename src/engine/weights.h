#pragma once
// The weights of an OPT or GPT-2 model in the CPU runtime layout: linear layers packed for the
// GEMM kernels (fp32 or bf16), everything small (biases, LayerNorms, position table) in fp32.
// OPT's separate q/k/v projections are fused into one [3d, d] matrix like GPT-2's c_attn.
#include <string>
#include <vector>

#include "engine/cpu_kernels.h"
#include "engine/model_config.h"

namespace llmbench::engine {

struct LayerNormWeights {
  std::vector<float> weight, bias;  // [d]
};

struct LinearWeights {
  cpu::PackedMatrix w;      // [N, K]
  std::vector<float> bias;  // [N] or empty
};

struct LayerWeights {
  LayerNormWeights ln_attn;  // OPT self_attn_layer_norm, GPT-2 ln_1
  LinearWeights qkv;         // [3d, d]: q rows, then k, then v
  LinearWeights out;         // [d, d]
  LayerNormWeights ln_ffn;   // OPT final_layer_norm (of the layer), GPT-2 ln_2
  LinearWeights fc1;         // [ffn, d]
  LinearWeights fc2;         // [d, ffn]
};

struct ModelWeights {
  ModelSpec spec;
  DType dtype = DType::kFloat32;
  cpu::PackedMatrix lm_head;      // [V, E], tied: also the token embedding table (E = word_embed_proj_dim)
  std::vector<float> positions;   // [position_rows, d]
  cpu::PackedMatrix project_in;   // OPT [d, E] when E != d
  cpu::PackedMatrix project_out;  // OPT [E, d] when E != d
  LayerNormWeights final_ln;      // empty when the model has none
  std::vector<LayerWeights> layers;

  size_t bytes() const;  // resident bytes of all weights
};

namespace cpu {
class CpuThreadPool;
}

// Loads config.json + safetensors from a Hugging Face model folder; converts to `dtype`.
ModelWeights load_weights(const std::string& folder, DType dtype, cpu::CpuThreadPool& pool);
// Seeded random weights with the real shapes (normal(0, 0.02), LayerNorm weight 1, biases 0).
ModelWeights dummy_weights(const std::string& name, DType dtype, uint64_t seed, cpu::CpuThreadPool& pool);
// The weights `options` name: load_format "dummy" (options.model a known name) or "auto" /
// "safetensors" (a Hugging Face folder), in options.dtype. Every backend loads through it.
ModelWeights load_model_weights(const LoadOptions& options, cpu::CpuThreadPool& pool);
// The KV cache dtype `options` ask for: kv_cache_dtype "float32" / "bfloat16", or "auto" (bf16 for
// bf16 weights, else fp32). Throws std::runtime_error for anything else.
DType kv_cache_dtype_of(const LoadOptions& options);

}  // namespace llmbench::engine

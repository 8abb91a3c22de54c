#include "engine/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace llmbench::engine {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error(source + ": " + what);
}

int get_int(const nlohmann::json& j, const char* key, const std::string& source, int fallback = -1,
            bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(source, std::string("missing integer field \"") + key + "\"");
    return fallback;
  }
  if (!it->is_number_integer()) fail(source, std::string("field \"") + key + "\" must be an integer");
  return it->get<int>();
}

bool get_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(source, std::string("field \"") + key + "\" must be a boolean");
  return it->get<bool>();
}

// eos_token_id may be a list in some configs; take the first.
int get_token_id(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return -1;
  if (it->is_number_integer()) return it->get<int>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<int>();
  return -1;
}

Activation parse_activation(const nlohmann::json& j, const char* key, const char* fallback, const std::string& source) {
  std::string name = fallback;
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) name = it->get<std::string>();
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  fail(source, "unsupported activation_function \"" + name + "\"");
}

void validate(const ModelSpec& spec, const std::string& source) {
  const ModelConfig& c = spec.config;
  auto positive = [&](int v, const char* what) {
    if (v <= 0) fail(source, std::string(what) + " must be positive");
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.num_layers, "num_layers");
  positive(c.num_heads, "num_attention_heads");
  positive(c.ffn_dim, "ffn_dim");
  positive(c.max_position, "max_position_embeddings");
  positive(c.word_embed_proj_dim, "word_embed_proj_dim");
  if (c.hidden_size % c.num_heads != 0) fail(source, "hidden_size is not a multiple of the number of heads");
}

ModelSpec parse_opt(const nlohmann::json& j, const std::string& source) {
  ModelSpec spec;
  ModelConfig& c = spec.config;
  c.architecture = Architecture::kOpt;
  c.vocab_size = get_int(j, "vocab_size", source);
  c.hidden_size = get_int(j, "hidden_size", source);
  c.num_layers = get_int(j, "num_hidden_layers", source);
  c.num_heads = get_int(j, "num_attention_heads", source);
  c.ffn_dim = get_int(j, "ffn_dim", source);
  c.max_position = get_int(j, "max_position_embeddings", source);
  c.word_embed_proj_dim = get_int(j, "word_embed_proj_dim", source, c.hidden_size, false);
  c.do_layer_norm_before = get_bool(j, "do_layer_norm_before", true, source);
  c.layer_norm_eps = 1e-5f;  // nn.LayerNorm default; OPT has no eps field
  c.bos_token_id = get_token_id(j, "bos_token_id");
  c.eos_token_id = get_token_id(j, "eos_token_id");
  c.pad_token_id = get_token_id(j, "pad_token_id");
  spec.activation = parse_activation(j, "activation_function", "relu", source);
  spec.position_offset = 2;
  spec.enable_bias = get_bool(j, "enable_bias", true, source);
  spec.layer_norm_affine = get_bool(j, "layer_norm_elementwise_affine", true, source);
  spec.final_layer_norm = c.do_layer_norm_before && !get_bool(j, "_remove_final_layer_norm", false, source);
  return spec;
}

ModelSpec parse_gpt2(const nlohmann::json& j, const std::string& source) {
  ModelSpec spec;
  ModelConfig& c = spec.config;
  c.architecture = Architecture::kGpt2;
  c.vocab_size = get_int(j, "vocab_size", source);
  c.hidden_size = get_int(j, "n_embd", source);
  c.num_layers = get_int(j, "n_layer", source);
  c.num_heads = get_int(j, "n_head", source);
  c.ffn_dim = get_int(j, "n_inner", source, 4 * c.hidden_size, false);
  c.max_position = get_int(j, "n_positions", source);
  c.word_embed_proj_dim = c.hidden_size;
  c.do_layer_norm_before = true;
  auto eps = j.find("layer_norm_epsilon");
  c.layer_norm_eps = eps != j.end() && eps->is_number() ? eps->get<float>() : 1e-5f;
  c.bos_token_id = get_token_id(j, "bos_token_id");
  c.eos_token_id = get_token_id(j, "eos_token_id");
  c.pad_token_id = get_token_id(j, "pad_token_id");
  spec.activation = parse_activation(j, "activation_function", "gelu_new", source);
  spec.position_offset = 0;
  spec.scale_attn_weights = get_bool(j, "scale_attn_weights", true, source);
  spec.scale_attn_by_inverse_layer_idx = get_bool(j, "scale_attn_by_inverse_layer_idx", false, source);
  if (get_bool(j, "add_cross_attention", false, source)) fail(source, "GPT-2 with cross-attention is not supported");
  return spec;
}

void finish(ModelSpec& spec, const std::string& source) {
  validate(spec, source);
  spec.config.head_dim = spec.config.hidden_size / spec.config.num_heads;
  spec.position_rows = spec.config.max_position + spec.position_offset;
}

}  // namespace

ModelSpec parse_model_config(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "config is not a JSON object");
  std::string model_type = j.value("model_type", std::string());
  if (model_type.empty()) {
    auto arch = j.find("architectures");
    if (arch != j.end() && arch->is_array() && !arch->empty() && (*arch)[0].is_string()) {
      std::string a = (*arch)[0].get<std::string>();
      if (a.rfind("OPT", 0) == 0) model_type = "opt";
      if (a.rfind("GPT2", 0) == 0) model_type = "gpt2";
    }
  }
  ModelSpec spec;
  if (model_type == "opt") {
    spec = parse_opt(j, source);
  } else if (model_type == "gpt2") {
    spec = parse_gpt2(j, source);
  } else {
    fail(source, "unsupported model_type \"" + model_type + "\" (supported: opt, gpt2)");
  }
  finish(spec, source);
  return spec;
}

ModelSpec load_model_config(const std::filesystem::path& folder) {
  std::filesystem::path path = folder / "config.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open model config");
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(path.string() + ": invalid JSON");
  return parse_model_config(j, path.string());
}

ModelSpec dummy_model_spec(const std::string& name) {
  std::string base = name;
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  nlohmann::json j;
  if (base == "opt-125m" || base == "opt-350m") {
    bool small = base == "opt-125m";
    j = {{"model_type", "opt"},
         {"vocab_size", 50272},
         {"hidden_size", small ? 768 : 1024},
         {"num_hidden_layers", small ? 12 : 24},
         {"num_attention_heads", small ? 12 : 16},
         {"ffn_dim", small ? 3072 : 4096},
         {"max_position_embeddings", 2048},
         {"word_embed_proj_dim", small ? 768 : 512},
         {"do_layer_norm_before", small},
         {"bos_token_id", 2},
         {"eos_token_id", 2},
         {"pad_token_id", 1},
         {"activation_function", "relu"}};
  } else if (base == "gpt2" || base == "gpt2-medium") {
    bool small = base == "gpt2";
    j = {{"model_type", "gpt2"},         {"vocab_size", 50257},
         {"n_embd", small ? 768 : 1024}, {"n_layer", small ? 12 : 24},
         {"n_head", small ? 12 : 16},    {"n_positions", 1024},
         {"bos_token_id", 50256},        {"eos_token_id", 50256},
         {"layer_norm_epsilon", 1e-5},   {"activation_function", "gelu_new"}};
  } else {
    throw std::runtime_error("unknown model \"" + name +
                             "\" for load_format dummy (known: opt-125m, opt-350m, gpt2, gpt2-medium)");
  }
  ModelSpec spec = parse_model_config(j, "dummy:" + base);
  spec.config.name = base;
  return spec;
}

}  // namespace llmbench::engine

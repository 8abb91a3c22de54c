#include "engine/weights.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "engine/cpu_thread_pool.h"
#include "engine/safetensors_file.h"

namespace llmbench::engine {

size_t ModelWeights::bytes() const {
  auto vec = [](const std::vector<float>& v) { return v.size() * sizeof(float); };
  auto ln = [&](const LayerNormWeights& l) { return vec(l.weight) + vec(l.bias); };
  auto lin = [&](const LinearWeights& l) { return l.w.bytes() + vec(l.bias); };
  size_t total = lm_head.bytes() + vec(positions) + project_in.bytes() + project_out.bytes() + ln(final_ln);
  for (const auto& l : layers)
    total += ln(l.ln_attn) + lin(l.qkv) + lin(l.out) + ln(l.ln_ffn) + lin(l.fc1) + lin(l.fc2);
  return total;
}

namespace {

enum class Layout : uint8_t { kLinear, kConv1D };  // nn.Linear [out, in]; GPT-2 Conv1D [in, out]
enum class Init : uint8_t { kZero, kOne, kNormal };

// Fills m in parallel over column groups with value(n, k).
template <class F>
void pack(cpu::PackedMatrix& m, cpu::CpuThreadPool& pool, F&& value) {
  pool.run(m.groups(), [&](int g, int) {
    const int n_end = std::min(m.n(), (g + 1) * cpu::PackedMatrix::kGroupColumns);
    for (int n = g * cpu::PackedMatrix::kGroupColumns; n < n_end; ++n) {
      for (int k = 0; k < m.k(); ++k) m.set(n, k, value(n, k));
    }
  });
}

// Where tensors come from: a checkpoint or the dummy generator. Names are without the model prefix.
class Source {
 public:
  virtual ~Source() = default;
  // Rows of several tensors concatenated along the output dimension (fused q/k/v), each [n_each, k].
  virtual cpu::PackedMatrix matrix(const std::vector<std::string>& names, int n_each, int k, Layout layout) = 0;
  virtual std::vector<float> vector(const std::vector<std::string>& names, int n_each, Init init) = 0;
  virtual std::vector<float> table(const std::string& name, int rows, int cols) = 0;
};

class CheckpointSource final : public Source {
 public:
  CheckpointSource(const std::string& folder, std::vector<std::string> prefixes, DType dtype, cpu::CpuThreadPool& pool)
      : folder_(folder),
        ckpt_(SafetensorsCheckpoint::open(folder)),
        prefixes_(std::move(prefixes)),
        dtype_(dtype),
        pool_(pool) {}

  cpu::PackedMatrix matrix(const std::vector<std::string>& names, int n_each, int k, Layout layout) override {
    std::vector<const TensorView*> views;
    for (const auto& name : names) {
      views.push_back(layout == Layout::kLinear ? &get(name, {n_each, k}) : &get(name, {k, n_each}));
    }
    cpu::PackedMatrix m(n_each * static_cast<int>(names.size()), k, dtype_);
    pack(m, pool_, [&](int n, int kk) {
      const TensorView& t = *views[static_cast<size_t>(n / n_each)];
      const size_t r = static_cast<size_t>(n % n_each);
      return layout == Layout::kLinear ? t.at(r * k + kk) : t.at(static_cast<size_t>(kk) * n_each + r);
    });
    return m;
  }

  std::vector<float> vector(const std::vector<std::string>& names, int n_each, Init) override {
    std::vector<float> out(static_cast<size_t>(n_each) * names.size());
    for (size_t i = 0; i < names.size(); ++i) get(names[i], {n_each}).to_float(0, n_each, out.data() + i * n_each);
    return out;
  }

  std::vector<float> table(const std::string& name, int rows, int cols) override {
    std::vector<float> out(static_cast<size_t>(rows) * cols);
    get(name, {rows, cols}).to_float(0, out.size(), out.data());
    return out;
  }

 private:
  const TensorView& get(const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = nullptr;
    for (const auto& p : prefixes_) {
      if ((t = ckpt_.find(p + name)) != nullptr) break;
    }
    if (t == nullptr) {
      throw std::runtime_error(folder_ + ": missing tensor \"" + prefixes_.front() + name + "\"");
    }
    if (t->shape != shape) {
      TensorView expected;
      expected.shape = shape;
      throw std::runtime_error(folder_ + ": tensor \"" + t->name + "\" has shape " + t->shape_string() + ", expected " +
                               expected.shape_string());
    }
    return *t;
  }

  std::string folder_;
  SafetensorsCheckpoint ckpt_;
  std::vector<std::string> prefixes_;
  DType dtype_;
  cpu::CpuThreadPool& pool_;
};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(uint64_t seed, const std::string& name) {
  uint64_t h = splitmix64(seed);
  for (char c : name) h = splitmix64(h ^ static_cast<uint8_t>(c));
  return h;
}

// normal(0, std) from a counter-based generator: value i of stream `key` (Box-Muller).
float normal(uint64_t key, uint64_t i, float std) {
  const uint64_t r = splitmix64(key ^ splitmix64(i));
  const double u1 = (static_cast<double>(r >> 32) + 0.5) / 4294967296.0;
  const double u2 = static_cast<double>(r & 0xffffffffu) / 4294967296.0;
  return static_cast<float>(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

class DummySource final : public Source {
 public:
  DummySource(uint64_t seed, DType dtype, cpu::CpuThreadPool& pool) : seed_(seed), dtype_(dtype), pool_(pool) {}

  cpu::PackedMatrix matrix(const std::vector<std::string>& names, int n_each, int k, Layout) override {
    std::vector<uint64_t> keys;
    for (const auto& name : names) keys.push_back(hash_name(seed_, name));
    cpu::PackedMatrix m(n_each * static_cast<int>(names.size()), k, dtype_);
    uint64_t key = 0;
    for (uint64_t k2 : keys) key = splitmix64(key ^ k2);
    pool_.run(m.groups(), [&](int g, int) { m.fill_group_random(g, key, kStd); });
    return m;
  }

  std::vector<float> vector(const std::vector<std::string>& names, int n_each, Init init) override {
    std::vector<float> out(static_cast<size_t>(n_each) * names.size(), init == Init::kOne ? 1.0f : 0.0f);
    if (init == Init::kNormal) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = normal(hash_name(seed_, names[0]), i, kStd);
    }
    return out;
  }

  std::vector<float> table(const std::string& name, int rows, int cols) override {
    std::vector<float> out(static_cast<size_t>(rows) * cols);
    const uint64_t key = hash_name(seed_, name);
    for (size_t i = 0; i < out.size(); ++i) out[i] = normal(key, i, kStd);
    return out;
  }

 private:
  static constexpr float kStd = 0.02f;  // HF init_std / initializer_range
  uint64_t seed_;
  DType dtype_;
  cpu::CpuThreadPool& pool_;
};

LinearWeights linear(Source& src, const std::vector<std::string>& names, int n_each, int k, Layout layout, bool bias) {
  LinearWeights l;
  l.w = src.matrix(
      [&] {
        std::vector<std::string> w;
        for (const auto& n : names) w.push_back(n + ".weight");
        return w;
      }(),
      n_each, k, layout);
  if (bias) {
    std::vector<std::string> b;
    for (const auto& n : names) b.push_back(n + ".bias");
    l.bias = src.vector(b, n_each, Init::kZero);
  }
  return l;
}

LayerNormWeights layer_norm(Source& src, const std::string& name, int d, bool affine) {
  LayerNormWeights ln;
  if (affine) {
    ln.weight = src.vector({name + ".weight"}, d, Init::kOne);
    ln.bias = src.vector({name + ".bias"}, d, Init::kZero);
  } else {
    ln.weight.assign(d, 1.0f);
    ln.bias.assign(d, 0.0f);
  }
  return ln;
}

ModelWeights build_opt(const ModelSpec& spec, Source& src, DType dtype) {
  const ModelConfig& c = spec.config;
  const int d = c.hidden_size, e = c.word_embed_proj_dim;
  const bool bias = spec.enable_bias;
  ModelWeights w;
  w.spec = spec;
  w.dtype = dtype;
  w.lm_head = src.matrix({"embed_tokens.weight"}, c.vocab_size, e, Layout::kLinear);
  w.positions = src.table("embed_positions.weight", spec.position_rows, d);
  if (spec.project_in_out()) {
    w.project_in = src.matrix({"project_in.weight"}, d, e, Layout::kLinear);
    w.project_out = src.matrix({"project_out.weight"}, e, d, Layout::kLinear);
  }
  if (spec.final_layer_norm) w.final_ln = layer_norm(src, "final_layer_norm", d, spec.layer_norm_affine);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.ln_attn = layer_norm(src, p + "self_attn_layer_norm", d, spec.layer_norm_affine);
    l.qkv = linear(src, {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, d, d, Layout::kLinear,
                   bias);
    l.out = linear(src, {p + "self_attn.out_proj"}, d, d, Layout::kLinear, bias);
    l.ln_ffn = layer_norm(src, p + "final_layer_norm", d, spec.layer_norm_affine);
    l.fc1 = linear(src, {p + "fc1"}, c.ffn_dim, d, Layout::kLinear, bias);
    l.fc2 = linear(src, {p + "fc2"}, d, c.ffn_dim, Layout::kLinear, bias);
    w.layers.push_back(std::move(l));
  }
  return w;
}

ModelWeights build_gpt2(const ModelSpec& spec, Source& src, DType dtype) {
  const ModelConfig& c = spec.config;
  const int d = c.hidden_size;
  ModelWeights w;
  w.spec = spec;
  w.dtype = dtype;
  w.lm_head = src.matrix({"wte.weight"}, c.vocab_size, d, Layout::kLinear);
  w.positions = src.table("wpe.weight", spec.position_rows, d);
  w.final_ln = layer_norm(src, "ln_f", d, true);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    LayerWeights l;
    l.ln_attn = layer_norm(src, p + "ln_1", d, true);
    l.qkv = linear(src, {p + "attn.c_attn"}, 3 * d, d, Layout::kConv1D, true);
    l.out = linear(src, {p + "attn.c_proj"}, d, d, Layout::kConv1D, true);
    l.ln_ffn = layer_norm(src, p + "ln_2", d, true);
    l.fc1 = linear(src, {p + "mlp.c_fc"}, c.ffn_dim, d, Layout::kConv1D, true);
    l.fc2 = linear(src, {p + "mlp.c_proj"}, d, c.ffn_dim, Layout::kConv1D, true);
    w.layers.push_back(std::move(l));
  }
  return w;
}

ModelWeights build(const ModelSpec& spec, Source& src, DType dtype) {
  return spec.config.architecture == Architecture::kOpt ? build_opt(spec, src, dtype) : build_gpt2(spec, src, dtype);
}

DType runtime_dtype(DType dtype) {
  if (dtype == DType::kFloat16) {
    throw std::runtime_error("runtime dtype float16 is not supported on CPU (use float32 or bfloat16)");
  }
  return dtype;
}

}  // namespace

ModelWeights load_weights(const std::string& folder, DType dtype, cpu::CpuThreadPool& pool) {
  if (!std::filesystem::is_directory(folder)) {
    throw std::runtime_error("model folder \"" + folder +
                             "\" does not exist (or pass load_format dummy with a known name)");
  }
  ModelSpec spec = load_model_config(folder);
  spec.config.name = std::filesystem::path(folder).filename().string();
  if (spec.config.name.empty()) spec.config.name = std::filesystem::path(folder).parent_path().filename().string();
  std::vector<std::string> prefixes = spec.config.architecture == Architecture::kOpt
                                          ? std::vector<std::string>{"model.decoder.", "decoder."}
                                          : std::vector<std::string>{"transformer.", ""};
  CheckpointSource src(folder, std::move(prefixes), runtime_dtype(dtype), pool);
  return build(spec, src, runtime_dtype(dtype));
}

ModelWeights dummy_weights(const std::string& name, DType dtype, uint64_t seed, cpu::CpuThreadPool& pool) {
  ModelSpec spec = dummy_model_spec(name);
  DummySource src(seed, runtime_dtype(dtype), pool);
  return build(spec, src, runtime_dtype(dtype));
}

ModelWeights load_model_weights(const LoadOptions& options, cpu::CpuThreadPool& pool) {
  if (options.load_format == "dummy") return dummy_weights(options.model, options.dtype, options.seed, pool);
  if (options.load_format == "auto" || options.load_format == "safetensors") {
    return load_weights(options.model, options.dtype, pool);
  }
  throw std::runtime_error("unknown load_format \"" + options.load_format + "\" (expected auto, safetensors or dummy)");
}

DType kv_cache_dtype_of(const LoadOptions& options) {
  const std::string& kv = options.kv_cache_dtype;
  if (kv == "float32" || kv == "fp32") return DType::kFloat32;
  if (kv == "bfloat16" || kv == "bf16") return DType::kBFloat16;
  if (kv != "auto") throw std::runtime_error("kv_cache_dtype \"" + kv + "\" is not one of auto, float32, bfloat16");
  return options.dtype == DType::kBFloat16 ? DType::kBFloat16 : DType::kFloat32;
}

}  // namespace llmbench::engine

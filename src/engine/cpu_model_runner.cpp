#include "engine/cpu_model_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace llmbench::engine {

CpuModelRunner::CpuModelRunner(ModelWeights weights, std::unique_ptr<cpu::CpuThreadPool> pool, DType kv_dtype)
    : weights_(std::move(weights)), pool_(std::move(pool)), kernels_(&cpu::best_kernels()), kv_dtype_(kv_dtype) {
  if (kv_dtype_ != DType::kFloat32 && kv_dtype_ != DType::kBFloat16)
    throw std::invalid_argument("KV cache dtype must be float32 or bfloat16");
  scores_.resize(static_cast<size_t>(pool_->size()));
}

std::unique_ptr<CpuModelRunner> CpuModelRunner::load(const LoadOptions& options) {
  std::optional<DType> kv_dtype;  // unset: "auto", the stored weights' dtype
  if (options.kv_cache_dtype == "float32" || options.kv_cache_dtype == "fp32") {
    kv_dtype = DType::kFloat32;
  } else if (options.kv_cache_dtype == "bfloat16" || options.kv_cache_dtype == "bf16") {
    kv_dtype = DType::kBFloat16;
  } else if (options.kv_cache_dtype != "auto") {
    throw std::runtime_error("kv_cache_dtype \"" + options.kv_cache_dtype + "\" is not one of auto, float32, bfloat16");
  }
  auto pool = std::make_unique<cpu::CpuThreadPool>(options.num_threads);
  ModelWeights weights;
  if (options.load_format == "dummy") {
    weights = dummy_weights(options.model, options.dtype, options.seed, *pool);
  } else if (options.load_format == "auto" || options.load_format == "safetensors") {
    weights = load_weights(options.model, options.dtype, *pool);
  } else {
    throw std::runtime_error("unknown load_format \"" + options.load_format +
                             "\" (expected auto, safetensors or dummy)");
  }
  if (!kv_dtype) kv_dtype = weights.dtype == DType::kBFloat16 ? DType::kBFloat16 : DType::kFloat32;
  return std::make_unique<CpuModelRunner>(std::move(weights), std::move(pool), *kv_dtype);
}

std::unique_ptr<ModelRunner> load_cpu_model(const LoadOptions& options) {
  return CpuModelRunner::load(options);
}

size_t CpuModelRunner::kv_bytes_per_block(int block_size) const {
  const ModelConfig& c = config();
  return PagedKvCache::bytes_per_block(c.num_layers, block_size, c.num_heads, c.head_dim, kv_dtype_);
}

void CpuModelRunner::allocate_kv_cache(int num_blocks, int block_size) {
  const ModelConfig& c = config();
  kv_.allocate(c.num_layers, num_blocks, block_size, c.num_heads, c.head_dim, kv_dtype_);
}

size_t CpuModelRunner::weight_bytes_per_step() const {
  size_t total = weights_.lm_head.bytes() + weights_.project_in.bytes() + weights_.project_out.bytes();
  for (const auto& l : weights_.layers) total += l.qkv.w.bytes() + l.out.w.bytes() + l.fc1.w.bytes() + l.fc2.w.bytes();
  return total;
}

void CpuModelRunner::forward(std::span<const SequenceSlice> slices, float* logits_out) {
  run(slices, logits_out, false);
}

void CpuModelRunner::forward_all_logits(std::span<const SequenceSlice> slices, float* logits_out) {
  run(slices, logits_out, true);
}

int CpuModelRunner::validate(std::span<const SequenceSlice> slices) const {
  if (!kv_.allocated()) throw std::logic_error("forward() before allocate_kv_cache()");
  const ModelConfig& c = config();
  const int bs = kv_.block_size();
  int total = 0;
  for (size_t s = 0; s < slices.size(); ++s) {
    const SequenceSlice& sl = slices[s];
    const std::string where = "slice " + std::to_string(s) + ": ";
    if (sl.tokens.empty()) {
      if (sl.want_logits) throw std::invalid_argument(where + "logits requested for a slice without tokens");
      continue;
    }
    if (sl.start_pos < 0) throw std::invalid_argument(where + "negative start_pos");
    const int64_t end = static_cast<int64_t>(sl.start_pos) + static_cast<int64_t>(sl.tokens.size());
    if (end > c.max_position) {
      throw std::invalid_argument(where + "position " + std::to_string(end - 1) + " exceeds the model's " +
                                  std::to_string(c.max_position) + " positions");
    }
    const int64_t blocks_needed = (end + bs - 1) / bs;
    if (static_cast<int64_t>(sl.block_table.size()) < blocks_needed) {
      throw std::invalid_argument(where + "block table has " + std::to_string(sl.block_table.size()) +
                                  " blocks, positions up to " + std::to_string(end - 1) + " need " +
                                  std::to_string(blocks_needed));
    }
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = sl.block_table[static_cast<size_t>(b)];
      if (id < 0 || id >= kv_.num_blocks()) {
        throw std::invalid_argument(where + "block id " + std::to_string(id) + " out of range [0, " +
                                    std::to_string(kv_.num_blocks()) + ")");
      }
    }
    for (int32_t t : sl.tokens) {
      if (t < 0 || t >= c.vocab_size) {
        throw std::invalid_argument(where + "token id " + std::to_string(t) + " out of range [0, " +
                                    std::to_string(c.vocab_size) + ")");
      }
    }
    total += static_cast<int>(sl.tokens.size());
  }
  return total;
}

template <class F>
void CpuModelRunner::for_rows(int rows, F&& fn) {
  constexpr int kRowsPerTask = 16;
  if (rows < 2 * kRowsPerTask || pool_->size() == 1) {
    fn(0, rows);
    return;
  }
  const int tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  pool_->run(tasks, [&](int t, int) { fn(t * kRowsPerTask, std::min(rows, (t + 1) * kRowsPerTask)); });
}

void CpuModelRunner::linear(const cpu::PackedMatrix& w, const std::vector<float>& bias, const float* x, int rows,
                            float* y, int ldy, cpu::Epilogue epilogue, bool accumulate) {
  cpu::GemmArgs args;
  args.rows = rows;
  args.w = &w;
  args.bias = bias.empty() ? nullptr : bias.data();
  args.y = y;
  args.ldy = ldy;
  args.epilogue = epilogue;
  args.accumulate = accumulate;
  auto gemm = kernels_->gemm_f32;
  if (w.dtype() == DType::kBFloat16) {
    const int pairs = w.k_pad() / 2;
    if (x_bf16_.size() < static_cast<size_t>(rows) * pairs) x_bf16_.resize(static_cast<size_t>(rows) * pairs);
    for_rows(rows, [&](int r0, int r1) {
      kernels_->pack_bf16(x + static_cast<size_t>(r0) * w.k(), r1 - r0, w.k(), w.k(),
                          x_bf16_.data() + static_cast<size_t>(r0) * pairs, w.k_pad());
    });
    args.x = x_bf16_.data();
    args.ldx = pairs;
    gemm = kernels_->gemm_bf16;
  } else {
    args.x = x;
    args.ldx = w.k();
  }
  const int groups = w.groups();
  const int threads = pool_->size();
  const int per_task = std::max(1, (groups + threads * 4 - 1) / (threads * 4));
  const int tasks = (groups + per_task - 1) / per_task;
  pool_->run(tasks, [&](int t, int) {
    cpu::GemmArgs a = args;
    a.group_begin = t * per_task;
    a.group_end = std::min(groups, (t + 1) * per_task);
    gemm(a);
  });
}

void CpuModelRunner::layer_norm(const LayerNormWeights& ln, const float* x, float* y, int rows) {
  const int d = config().hidden_size;
  const float eps = config().layer_norm_eps;
  for_rows(rows, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* xr = x + static_cast<size_t>(r) * d;
      float* yr = y + static_cast<size_t>(r) * d;
      double sum = 0.0;
      for (int i = 0; i < d; ++i) sum += xr[i];
      const double mean = sum / d;
      double var = 0.0;
      for (int i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      const float inv = static_cast<float>(1.0 / std::sqrt(var / d + eps));
      const float m = static_cast<float>(mean);
      for (int i = 0; i < d; ++i)
        yr[i] = (xr[i] - m) * inv * ln.weight[static_cast<size_t>(i)] + ln.bias[static_cast<size_t>(i)];
    }
  });
}

void CpuModelRunner::attention(int layer, std::span<const SequenceSlice> slices) {
  const ModelConfig& c = config();
  const int d = c.hidden_size, heads = c.num_heads, hd = c.head_dim;
  float scale = weights_.spec.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(hd)) : 1.0f;
  if (weights_.spec.scale_attn_by_inverse_layer_idx) scale /= static_cast<float>(layer + 1);
  const int num_slices = static_cast<int>(slices.size());
  for (int s = 0; s < num_slices; ++s) {
    const SequenceSlice& sl = slices[static_cast<size_t>(s)];
    if (sl.tokens.empty()) continue;
    kv_.write(layer, qkv_.data() + static_cast<size_t>(slice_row_[static_cast<size_t>(s)]) * 3 * d,
              3 * static_cast<size_t>(d), sl.start_pos, static_cast<int>(sl.tokens.size()), sl.block_table);
  }
  pool_->run(num_slices * heads, [&](int task, int thread) {
    const int s = task / heads, h = task % heads;
    const SequenceSlice& sl = slices[static_cast<size_t>(s)];
    if (sl.tokens.empty()) return;
    const size_t row = static_cast<size_t>(slice_row_[static_cast<size_t>(s)]);
    paged_attention_head(*kernels_, kv_, layer, h, hd, scale, qkv_.data() + row * 3 * d, 3 * static_cast<size_t>(d),
                         sl.start_pos, static_cast<int>(sl.tokens.size()), sl.block_table, attn_.data() + row * d,
                         static_cast<size_t>(d), scores_[static_cast<size_t>(thread)].data());
  });
}

void CpuModelRunner::run(std::span<const SequenceSlice> slices, float* logits_out, bool all_rows) {
  const int T = validate(slices);
  if (T == 0) return;
  const ModelSpec& spec = weights_.spec;
  const ModelConfig& c = spec.config;
  const int d = c.hidden_size, e = c.word_embed_proj_dim, ffn = c.ffn_dim, V = c.vocab_size;
  const size_t t = static_cast<size_t>(T);

  // Token list, rows and scratch.
  token_ids_.resize(t);
  positions_.resize(t);
  slice_row_.resize(slices.size());
  int max_context = 0;
  int row = 0;
  for (size_t s = 0; s < slices.size(); ++s) {
    slice_row_[s] = row;
    const SequenceSlice& sl = slices[s];
    for (size_t i = 0; i < sl.tokens.size(); ++i, ++row) {
      token_ids_[static_cast<size_t>(row)] = sl.tokens[i];
      positions_[static_cast<size_t>(row)] = sl.start_pos + static_cast<int32_t>(i);
    }
    max_context = std::max(max_context, sl.start_pos + static_cast<int>(sl.tokens.size()));
  }
  auto grow = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(x_, t * d);
  grow(h_, t * d);
  grow(qkv_, t * 3 * d);
  grow(attn_, t * d);
  grow(ffn_, t * ffn);
  for (auto& sc : scores_) grow(sc, static_cast<size_t>(max_context));

  // Embeddings: token (from the tied LM head; OPT project_in when E != d) + position.
  const bool project = spec.project_in_out();
  if (project) grow(emb_, t * e);
  float* tok_dst = project ? emb_.data() : x_.data();
  for_rows(T, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      weights_.lm_head.row(token_ids_[static_cast<size_t>(r)], tok_dst + static_cast<size_t>(r) * e);
  });
  if (project) linear(weights_.project_in, {}, emb_.data(), T, x_.data(), d, cpu::Epilogue::kNone, false);
  for (int r = 0; r < T; ++r) {
    const float* p =
        weights_.positions.data() + static_cast<size_t>(positions_[static_cast<size_t>(r)] + spec.position_offset) * d;
    float* xr = x_.data() + static_cast<size_t>(r) * d;
    for (int i = 0; i < d; ++i) xr[i] += p[i];
  }

  const bool pre_ln = c.do_layer_norm_before;
  const cpu::Epilogue fc1_epilogue = spec.activation == Activation::kRelu ? cpu::Epilogue::kRelu : cpu::Epilogue::kNone;
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& lw = weights_.layers[static_cast<size_t>(l)];
    // Attention block.
    const float* in = x_.data();
    if (pre_ln) {
      layer_norm(lw.ln_attn, x_.data(), h_.data(), T);
      in = h_.data();
    }
    linear(lw.qkv.w, lw.qkv.bias, in, T, qkv_.data(), 3 * d, cpu::Epilogue::kNone, false);
    attention(l, slices);
    linear(lw.out.w, lw.out.bias, attn_.data(), T, x_.data(), d, cpu::Epilogue::kNone, true);  // x += attn
    if (!pre_ln) layer_norm(lw.ln_attn, x_.data(), x_.data(), T);
    // Feed-forward block.
    in = x_.data();
    if (pre_ln) {
      layer_norm(lw.ln_ffn, x_.data(), h_.data(), T);
      in = h_.data();
    }
    linear(lw.fc1.w, lw.fc1.bias, in, T, ffn_.data(), ffn, fc1_epilogue, false);
    if (spec.activation == Activation::kGeluTanh) {
      for_rows(T, [&](int r0, int r1) {
        kernels_->gelu_tanh(ffn_.data() + static_cast<size_t>(r0) * ffn, static_cast<size_t>(r1 - r0) * ffn);
      });
    } else if (spec.activation == Activation::kGeluErf) {
      for (size_t i = 0; i < t * ffn; ++i) ffn_[i] = 0.5f * ffn_[i] * (1.0f + std::erf(ffn_[i] * 0.7071067811865476f));
    }
    linear(lw.fc2.w, lw.fc2.bias, ffn_.data(), T, x_.data(), d, cpu::Epilogue::kNone, true);  // x += ffn
    if (!pre_ln) layer_norm(lw.ln_ffn, x_.data(), x_.data(), T);
  }

  // Output rows: the last token of each slice that wants logits, or every row.
  int rows = 0;
  grow(out_rows_, t * d);
  for (size_t s = 0; s < slices.size(); ++s) {
    const SequenceSlice& sl = slices[s];
    if (sl.tokens.empty()) continue;
    const int first =
        all_rows ? slice_row_[s] : (sl.want_logits ? slice_row_[s] + static_cast<int>(sl.tokens.size()) - 1 : -1);
    if (first < 0) continue;
    const int last = slice_row_[s] + static_cast<int>(sl.tokens.size());
    for (int r = first; r < last; ++r, ++rows) {
      std::memcpy(out_rows_.data() + static_cast<size_t>(rows) * d, x_.data() + static_cast<size_t>(r) * d,
                  sizeof(float) * d);
    }
  }
  if (rows == 0) return;
  if (!weights_.final_ln.weight.empty()) layer_norm(weights_.final_ln, out_rows_.data(), out_rows_.data(), rows);
  const float* head_in = out_rows_.data();
  if (project) {
    grow(out_proj_, static_cast<size_t>(rows) * e);
    linear(weights_.project_out, {}, out_rows_.data(), rows, out_proj_.data(), e, cpu::Epilogue::kNone, false);
    head_in = out_proj_.data();
  }
  linear(weights_.lm_head, {}, head_in, rows, logits_out, V, cpu::Epilogue::kNone, false);
}

}  // namespace llmbench::engine

#include "engine/cpu_model_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/clock.h"

namespace llmbench::engine {

CpuModelRunner::CpuModelRunner(ModelWeights weights, std::unique_ptr<cpu::CpuThreadPool> pool, DType kv_dtype)
    : weights_(std::move(weights)), pool_(std::move(pool)), kernels_(&cpu::best_kernels()), kv_dtype_(kv_dtype) {
  if (kv_dtype_ != DType::kFloat32 && kv_dtype_ != DType::kBFloat16)
    throw std::invalid_argument("KV cache dtype must be float32 or bfloat16");
  scores_.resize(static_cast<size_t>(pool_->size()));
}

std::unique_ptr<CpuModelRunner> CpuModelRunner::load(const LoadOptions& options) {
  const DType kv_dtype = kv_cache_dtype_of(options);  // a bad name fails before the weights load
  auto pool = std::make_unique<cpu::CpuThreadPool>(options.num_threads);
  ModelWeights weights = load_model_weights(options, *pool);
  return std::make_unique<CpuModelRunner>(std::move(weights), std::move(pool), kv_dtype);
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
  return validate_slices(slices, config(), kv_.num_blocks(), kv_.block_size());
}

template <class F>
void CpuModelRunner::for_rows(int rows, F&& fn) {
  // Row-wise passes (layer norm, embeddings) are short: at least 4 rows a task, at most one task
  // per thread, so 32 decode rows keep 8 of 16 threads busy rather than 2.
  constexpr int kMinRowsPerTask = 4;
  const int tasks = std::min(pool_->size(), rows / kMinRowsPerTask);
  if (tasks <= 1) {
    fn(0, rows);
    return;
  }
  const int per_task = (rows + tasks - 1) / tasks;
  pool_->run(tasks, [&](int t, int) { fn(std::min(rows, t * per_task), std::min(rows, (t + 1) * per_task)); });
}

CpuModelRunner::GemmInput CpuModelRunner::gemm_input(const cpu::PackedMatrix& w, const float* x, int rows,
                                                     std::vector<uint32_t>& packed) {
  if (w.dtype() != DType::kBFloat16) return {x, w.k()};
  const int pairs = w.k_pad() / 2;
  if (packed.size() < static_cast<size_t>(rows) * pairs) packed.resize(static_cast<size_t>(rows) * pairs);
  for_rows(rows, [&](int r0, int r1) {
    kernels_->pack_bf16(x + static_cast<size_t>(r0) * w.k(), r1 - r0, w.k(), w.k(),
                        packed.data() + static_cast<size_t>(r0) * pairs, w.k_pad());
  });
  return {packed.data(), pairs};
}

CpuModelRunner::GemmInput CpuModelRunner::layer_norm_input(const LayerNormWeights& ln, const cpu::PackedMatrix& w,
                                                           const float* x, int rows) {
  const int d = config().hidden_size;
  const float eps = config().layer_norm_eps;
  const bool bf16 = w.dtype() == DType::kBFloat16;
  const int pairs = w.k_pad() / 2;
  if (bf16 && x_bf16_.size() < static_cast<size_t>(rows) * pairs) x_bf16_.resize(static_cast<size_t>(rows) * pairs);
  for_rows(rows, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      float* hr = h_.data() + static_cast<size_t>(r) * d;
      kernels_->layer_norm(x + static_cast<size_t>(r) * d, d, ln.weight.data(), ln.bias.data(), eps, hr);
      if (bf16) kernels_->pack_bf16(hr, 1, d, d, x_bf16_.data() + static_cast<size_t>(r) * pairs, w.k_pad());
    }
  });
  if (bf16) return {x_bf16_.data(), pairs};
  return {h_.data(), d};
}

void CpuModelRunner::gemm(const cpu::PackedMatrix& w, const std::vector<float>& bias, GemmInput in, int rows, float* y,
                          int ldy, cpu::Epilogue epilogue, bool accumulate, uint16_t* y_bf16, int ldy_bf16) {
  cpu::GemmArgs args;
  args.x = in.x;
  args.ldx = in.ldx;
  args.rows = rows;
  args.w = &w;
  args.bias = bias.empty() ? nullptr : bias.data();
  args.y = y;
  args.ldy = ldy;
  args.epilogue = epilogue;
  args.accumulate = accumulate;
  args.y_bf16 = y_bf16;
  args.ldy_bf16 = ldy_bf16;
  const auto kernel = w.dtype() == DType::kBFloat16 ? kernels_->gemm_bf16 : kernels_->gemm_f32;
  const int groups = w.groups();
  const int threads = pool_->size();
  if (groups % threads != 0 && groups < 4 * threads) {
    // Too few groups to share evenly (768 columns are 12 groups, for 16 threads): one task per
    // thread, each an equal run of panels, so no thread idles while others take a second group.
    const int panels = w.panels();
    const int tasks = std::min(threads, panels);
    pool_->run(tasks, [&](int t, int) {
      cpu::GemmArgs a = args;
      a.set_panel_window(panels * t / tasks, panels * (t + 1) / tasks);
      kernel(a);
    });
    return;
  }
  const int per_task = std::max(1, (groups + threads * 4 - 1) / (threads * 4));
  const int tasks = (groups + per_task - 1) / per_task;
  pool_->run(tasks, [&](int t, int) {
    cpu::GemmArgs a = args;
    a.group_begin = t * per_task;
    a.group_end = std::min(groups, (t + 1) * per_task);
    kernel(a);
  });
}

void CpuModelRunner::linear(const cpu::PackedMatrix& w, const std::vector<float>& bias, const float* x, int rows,
                            float* y, int ldy, cpu::Epilogue epilogue, bool accumulate) {
  gemm(w, bias, gemm_input(w, x, rows, x_bf16_), rows, y, ldy, epilogue, accumulate);
}

void CpuModelRunner::layer_norm(const LayerNormWeights& ln, const float* x, float* y, int rows) {
  const int d = config().hidden_size;
  const float eps = config().layer_norm_eps;
  for_rows(rows, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      kernels_->layer_norm(x + static_cast<size_t>(r) * d, d, ln.weight.data(), ln.bias.data(), eps,
                           y + static_cast<size_t>(r) * d);
    }
  });
}

void CpuModelRunner::attention(int layer, std::span<const SequenceSlice> slices, bool pack_out) {
  const ModelConfig& c = config();
  const int d = c.hidden_size, heads = c.num_heads, hd = c.head_dim;
  float scale = weights_.spec.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(hd)) : 1.0f;
  if (weights_.spec.scale_attn_by_inverse_layer_idx) scale /= static_cast<float>(layer + 1);
  // Tasks: a decode slice (one token) runs its heads together, block by block (see
  // paged_attention_decode), split into head groups only when there are too few decode sequences
  // for the threads (at least two tasks per thread: one sequence on 16 threads runs 12 one-head
  // tasks); a prompt chunk runs per (sequence, head). Each task first stores its own new K/V.
  int decode_slices = 0;
  for (const SequenceSlice& sl : slices) decode_slices += sl.tokens.size() == 1 ? 1 : 0;
  const int head_groups =
      decode_slices == 0 ? 1 : std::clamp((2 * pool_->size() + decode_slices - 1) / decode_slices, 1, heads);
  attention_tasks_.clear();
  for (int s = 0; s < static_cast<int>(slices.size()); ++s) {
    const size_t n = slices[static_cast<size_t>(s)].tokens.size();
    if (n == 1) {
      for (int g = 0; g < head_groups; ++g)
        attention_tasks_.push_back({s, g * heads / head_groups, (g + 1) * heads / head_groups, true});
    } else if (n > 1) {
      for (int h = 0; h < heads; ++h) attention_tasks_.push_back({s, h, h + 1, false});
    }
  }
  const size_t qkv_ld = 3 * static_cast<size_t>(d);
  const size_t pairs = static_cast<size_t>(d) / 2;  // pack_out requires an even head_dim, so an even d
  pool_->run(static_cast<int>(attention_tasks_.size()), [&](int task, int thread) {
    const AttentionTask at = attention_tasks_[static_cast<size_t>(task)];
    const SequenceSlice& sl = slices[static_cast<size_t>(at.slice)];
    const size_t row = static_cast<size_t>(slice_row_[static_cast<size_t>(at.slice)]);
    const float* qkv = qkv_.data() + row * qkv_ld;
    float* out = attn_.data() + row * d;
    const int count = static_cast<int>(sl.tokens.size());
    float* scores = scores_[static_cast<size_t>(thread)].data();
    kv_.write(*kernels_, layer, qkv, qkv_ld, sl.start_pos, count, sl.block_table, at.head_begin, at.head_end);
    if (at.decode) {
      paged_attention_decode(*kernels_, kv_, layer, scale, qkv, sl.start_pos + 1, sl.block_table, out, scores,
                             at.head_begin, at.head_end);
    } else {
      paged_attention_head(*kernels_, kv_, layer, at.head_begin, hd, scale, qkv, qkv_ld, sl.start_pos, count,
                           sl.block_table, out, static_cast<size_t>(d), scores);
    }
    const size_t first = static_cast<size_t>(at.head_begin) * hd, width = (at.head_end - at.head_begin) * hd;
    for (int i = 0; pack_out && i < count; ++i) {  // this task's heads of its rows, as bf16 pairs
      const size_t r = row + static_cast<size_t>(i);
      kernels_->pack_bf16(attn_.data() + r * d + first, 1, static_cast<int>(width), static_cast<int>(width),
                          attn_bf16_.data() + r * pairs + first / 2, static_cast<int>(width));
    }
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
  auto grow = [](auto& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(x_, t * d);
  grow(h_, t * d);
  grow(qkv_, t * 3 * d);
  grow(attn_, t * d);
  grow(ffn_, t * ffn);
  const size_t scores_floats = std::max(prefill_scratch_floats(max_context, c.head_dim),
                                        decode_scratch_floats(c.num_heads, c.head_dim, kv_.block_size()));
  for (auto& sc : scores_) grow(sc, scores_floats);

  using Phase = ForwardProfile::Phase;
  int64_t mark_ns = profiling_ ? now_ns() : 0;
  auto mark = [&](Phase phase) {
    if (!profiling_) return;
    const int64_t t_ns = now_ns();
    profile_.ns[phase] += t_ns - mark_ns;
    mark_ns = t_ns;
  };
  if (profiling_) ++profile_.forwards;

  // Embeddings: token (from the tied LM head; OPT project_in when E != d) + position.
  const bool project = spec.project_in_out();
  if (project) grow(emb_, t * e);
  float* tok_dst = project ? emb_.data() : x_.data();
  auto add_positions = [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const float* p = weights_.positions.data() +
                       static_cast<size_t>(positions_[static_cast<size_t>(r)] + spec.position_offset) * d;
      float* xr = x_.data() + static_cast<size_t>(r) * d;
      for (int i = 0; i < d; ++i) xr[i] += p[i];
    }
  };
  for_rows(T, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      weights_.lm_head.row(token_ids_[static_cast<size_t>(r)], tok_dst + static_cast<size_t>(r) * e);
    if (!project) add_positions(r0, r1);
  });
  if (project) {
    linear(weights_.project_in, {}, emb_.data(), T, x_.data(), d, cpu::Epilogue::kNone, false);
    for_rows(T, add_positions);
  }
  mark(Phase::kEmbed);

  const bool pre_ln = c.do_layer_norm_before;
  cpu::Epilogue fc1_epilogue = cpu::Epilogue::kNone;
  if (spec.activation == Activation::kRelu) fc1_epilogue = cpu::Epilogue::kRelu;
  if (spec.activation == Activation::kGeluTanh) fc1_epilogue = cpu::Epilogue::kGeluTanh;
  const LayerWeights& first = weights_.layers.front();
  // Fused bf16 hand-offs: attention tasks round their own output rows for the output projection,
  // and fc1 writes its activated output as fc2's bf16 input (no fp32 round trip, no extra pass).
  const bool pack_attn = first.out.w.dtype() == DType::kBFloat16 && c.head_dim % 2 == 0;
  const bool fc1_to_bf16 =
      first.fc2.w.dtype() == DType::kBFloat16 && first.fc2.w.k_pad() == ffn && spec.activation != Activation::kGeluErf;
  if (pack_attn) grow(attn_bf16_, t * d / 2);
  if (fc1_to_bf16) grow(ffn_bf16_, t * ffn / 2);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& lw = weights_.layers[static_cast<size_t>(l)];
    // Attention block.
    const GemmInput qkv_in =
        pre_ln ? layer_norm_input(lw.ln_attn, lw.qkv.w, x_.data(), T) : gemm_input(lw.qkv.w, x_.data(), T, x_bf16_);
    mark(Phase::kLayerNorm);
    gemm(lw.qkv.w, lw.qkv.bias, qkv_in, T, qkv_.data(), 3 * d, cpu::Epilogue::kNone, false);
    mark(Phase::kQkv);
    attention(l, slices, pack_attn);
    mark(Phase::kAttention);
    const GemmInput out_in =
        pack_attn ? GemmInput{attn_bf16_.data(), d / 2} : gemm_input(lw.out.w, attn_.data(), T, x_bf16_);
    gemm(lw.out.w, lw.out.bias, out_in, T, x_.data(), d, cpu::Epilogue::kNone, true);  // x += attn
    mark(Phase::kOutProj);
    if (!pre_ln) layer_norm(lw.ln_attn, x_.data(), x_.data(), T);
    // Feed-forward block.
    const GemmInput fc1_in =
        pre_ln ? layer_norm_input(lw.ln_ffn, lw.fc1.w, x_.data(), T) : gemm_input(lw.fc1.w, x_.data(), T, x_bf16_);
    mark(Phase::kLayerNorm);
    GemmInput fc2_in{};
    if (fc1_to_bf16) {
      gemm(lw.fc1.w, lw.fc1.bias, fc1_in, T, nullptr, 0, fc1_epilogue, false,
           reinterpret_cast<uint16_t*>(ffn_bf16_.data()), ffn);
      fc2_in = {ffn_bf16_.data(), ffn / 2};
    } else {
      gemm(lw.fc1.w, lw.fc1.bias, fc1_in, T, ffn_.data(), ffn, fc1_epilogue, false);
      if (spec.activation == Activation::kGeluErf) {
        for (size_t i = 0; i < t * ffn; ++i)
          ffn_[i] = 0.5f * ffn_[i] * (1.0f + std::erf(ffn_[i] * 0.7071067811865476f));
      }
      fc2_in = gemm_input(lw.fc2.w, ffn_.data(), T, ffn_bf16_);
    }
    mark(Phase::kFc1);
    gemm(lw.fc2.w, lw.fc2.bias, fc2_in, T, x_.data(), d, cpu::Epilogue::kNone, true);  // x += ffn
    mark(Phase::kFc2);
    if (!pre_ln) layer_norm(lw.ln_ffn, x_.data(), x_.data(), T);
    mark(Phase::kLayerNorm);
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
  mark(Phase::kLmHead);
}

}  // namespace llmbench::engine

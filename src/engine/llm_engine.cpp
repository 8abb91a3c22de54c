#include "engine/llm_engine.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/clock.h"

namespace llmbench::engine {

const char* to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kNone:
      break;
  }
  return "none";
}

KvCachePlan plan_kv_cache(const EngineOptions& options, const ModelConfig& config, size_t bytes_per_block) {
  if (options.block_size <= 0) {
    throw std::invalid_argument("block_size must be positive (got " + std::to_string(options.block_size) + ")");
  }
  if (config.max_position <= 0) throw std::invalid_argument("model has no max_position");
  if (bytes_per_block == 0) throw std::invalid_argument("model reports 0 bytes per KV block");
  KvCachePlan plan;
  plan.bytes_per_block = bytes_per_block;
  plan.max_model_len =
      options.max_model_len > 0 ? std::min(options.max_model_len, config.max_position) : config.max_position;
  const int64_t blocks_per_seq = (plan.max_model_len + options.block_size - 1) / options.block_size;
  int64_t blocks = 0;
  if (options.num_kv_blocks > 0) {
    blocks = options.num_kv_blocks;
  } else if (options.kv_cache_memory_bytes > 0) {
    blocks = static_cast<int64_t>(options.kv_cache_memory_bytes / bytes_per_block);
  } else {
    const int64_t wanted = std::min(std::max(options.max_num_seqs, 1), 64) * blocks_per_seq;
    const int64_t cap = static_cast<int64_t>(kDefaultKvCacheBytes / bytes_per_block);
    blocks = std::max(std::min(wanted, cap), blocks_per_seq);
  }
  if (blocks < blocks_per_seq) {
    const double mib = 1.0 / (1024.0 * 1024.0);
    throw std::invalid_argument(
        "KV cache too small: " + std::to_string(blocks) + " blocks of " + std::to_string(options.block_size) +
        " tokens (" + std::to_string(static_cast<double>(blocks) * static_cast<double>(bytes_per_block) * mib) +
        " MiB) cannot hold one sequence of max_model_len " + std::to_string(plan.max_model_len) + " tokens (needs " +
        std::to_string(blocks_per_seq) + " blocks, " +
        std::to_string(static_cast<double>(blocks_per_seq) * static_cast<double>(bytes_per_block) * mib) +
        " MiB); raise the KV cache memory or lower max_model_len");
  }
  if (blocks > (int64_t{1} << 30)) throw std::invalid_argument("KV cache block count overflows");
  plan.num_blocks = static_cast<int>(blocks);
  return plan;
}

LlmEngine::LlmEngine(const EngineOptions& options, std::unique_ptr<ModelRunner> model,
                     std::shared_ptr<const tokenizer::Tokenizer> tokenizer)
    : options_(options), model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  if (!model_) throw std::invalid_argument("LlmEngine: no model");
  if (options_.max_num_seqs <= 0) throw std::invalid_argument("max_num_seqs must be positive");
  if (options_.max_num_batched_tokens <= 0) throw std::invalid_argument("max_num_batched_tokens must be positive");
  if (options_.max_waiting <= 0) throw std::invalid_argument("max_waiting must be positive");
  config_ = model_->config();
  if (config_.vocab_size <= 0) throw std::invalid_argument("model has vocab_size 0");
  const KvCachePlan plan = plan_kv_cache(options_, config_, model_->kv_bytes_per_block(options_.block_size));
  max_model_len_ = plan.max_model_len;
  eos_token_id_ = config_.eos_token_id;
  if (eos_token_id_ < 0 && tokenizer_) eos_token_id_ = tokenizer_->eos_id().value_or(-1);

  SchedulerConfig sched;
  sched.max_num_seqs = options_.max_num_seqs;
  sched.enable_chunked_prefill = options_.enable_chunked_prefill;
  // Without chunked prefill a whole prompt (up to max_model_len, including a recomputed one after a
  // preemption) must fit in one step's budget, so the budget is raised to max_model_len (vLLM refuses
  // such a configuration instead).
  sched.max_num_batched_tokens = options_.enable_chunked_prefill
                                     ? options_.max_num_batched_tokens
                                     : std::max(options_.max_num_batched_tokens, max_model_len_);
  model_->allocate_kv_cache(plan.num_blocks, options_.block_size);
  blocks_ = std::make_unique<BlockManager>(plan.num_blocks, options_.block_size);
  scheduler_ = std::make_unique<Scheduler>(sched, *blocks_);
  samplers_.resize(static_cast<size_t>(std::max(1, model_->num_workers())));
  std::random_device entropy;
  seed_source_.seed((static_cast<uint64_t>(entropy()) << 32) ^ entropy());
  publish_stats();
  thread_ = std::thread([this] { loop(); });
}

LlmEngine::~LlmEngine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LlmEngine::validate(const GenerationRequest& request) const {
  const auto& p = request.params;
  const auto fail = [](const std::string& message) { throw std::invalid_argument(message); };
  const int64_t prompt = static_cast<int64_t>(request.prompt_tokens.size());
  if (prompt == 0) fail("the prompt is empty");
  for (int32_t id : request.prompt_tokens) {
    if (id < 0 || id >= config_.vocab_size) {
      fail("prompt token " + std::to_string(id) + " is outside the vocabulary (size " +
           std::to_string(config_.vocab_size) + ")");
    }
  }
  if (p.max_tokens < 1) fail("max_tokens must be at least 1 (got " + std::to_string(p.max_tokens) + ")");
  if (prompt + p.max_tokens > max_model_len_) {
    fail("the prompt (" + std::to_string(prompt) + " tokens) plus max_tokens (" + std::to_string(p.max_tokens) +
         ") exceeds max_model_len (" + std::to_string(max_model_len_) + ")");
  }
  if (p.min_tokens < 0 || p.min_tokens > p.max_tokens) {
    fail("min_tokens must be between 0 and max_tokens (got " + std::to_string(p.min_tokens) + ")");
  }
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) fail("temperature must be >= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail("top_p must be in (0, 1]");
  if (p.top_k < -1) fail("top_k must be -1 (off) or positive");
}

std::optional<uint64_t> LlmEngine::submit(GenerationRequest request) {
  validate(request);
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return std::nullopt;
    if (static_cast<int64_t>(inbox_.requests.size()) + scheduler_waiting_ >= options_.max_waiting) {
      return std::nullopt;
    }
    id = next_id_++;
    inbox_.requests.emplace_back(id, std::move(request));
  }
  wake_.notify_one();
  return id;
}

void LlmEngine::abort(uint64_t request_id) {
  {
    std::lock_guard lock(mutex_);
    inbox_.aborts.push_back(request_id);
  }
  wake_.notify_one();
}

EngineStats LlmEngine::stats() const {
  std::lock_guard lock(mutex_);
  EngineStats s = stats_;
  s.waiting += static_cast<int>(inbox_.requests.size());
  return s;
}

void LlmEngine::publish_stats() {
  EngineStats s;
  s.running = scheduler_ ? scheduler_->num_running() : 0;
  s.waiting = scheduler_ ? scheduler_->num_waiting() : 0;
  s.kv_cache_usage = blocks_ ? blocks_->usage() : 0.0;
  s.num_blocks = blocks_ ? blocks_->num_blocks() : 0;
  s.block_size = options_.block_size;
  s.prompt_tokens_total = prompt_tokens_total_;
  s.generation_tokens_total = generation_tokens_total_;
  s.preemptions_total = preemptions_total_;
  s.requests_finished_total = requests_finished_total_;
  s.steps_total = steps_total_;
  std::lock_guard lock(mutex_);
  stats_ = s;
  scheduler_waiting_ = s.waiting;
}

void LlmEngine::loop() {
  for (;;) {
    Inbox work;
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] {
        return stopping_ || !inbox_.requests.empty() || !inbox_.aborts.empty() || scheduler_->has_work();
      });
      std::swap(work, inbox_);
      stop = stopping_;
    }
    for (auto& [id, request] : work.requests) {
      auto seq = std::make_unique<Sequence>(id, std::move(request), tokenizer_, seed_source_());
      if (!seq->params.ignore_eos && eos_token_id_ >= 0) seq->banned_until_min_tokens.push_back(eos_token_id_);
      for (int32_t t : seq->params.stop_token_ids) seq->banned_until_min_tokens.push_back(t);
      scheduler_->add(seq.get());
      sequences_.emplace(id, std::move(seq));
    }
    for (uint64_t id : work.aborts) {
      auto it = sequences_.find(id);
      if (it != sequences_.end()) finish_and_remove(*it->second, FinishReason::kAbort, "");
    }
    if (stop) {
      abort_all("");
      publish_stats();
      return;
    }
    if (scheduler_->has_work()) {
      try {
        step();
      } catch (const std::exception& e) {
        abort_all(std::string("engine error: ") + e.what());
      }
    }
    publish_stats();
  }
}

void LlmEngine::step() {
  SchedulerOutput out = scheduler_->schedule();
  preemptions_total_ += out.preempted.size();
  if (out.empty()) {
    // Cannot happen while the cache holds one max_model_len sequence and every sequence fits in
    // max_model_len; fail the head of the queue rather than spin.
    if (!scheduler_->waiting().empty()) {
      finish_and_remove(*scheduler_->waiting().front(), FinishReason::kAbort,
                        "engine error: the request could not be scheduled");
    }
    return;
  }
  ++steps_total_;
  const int64_t now = now_ns();
  slices_.clear();
  size_t num_logits = 0;
  for (const auto& s : out.scheduled) {
    Sequence& seq = *s.seq;
    if (seq.first_scheduled_ns == 0) {
      seq.first_scheduled_ns = now;
      prompt_tokens_total_ += static_cast<uint64_t>(seq.num_prompt_tokens);
    }
    SequenceSlice slice;
    slice.tokens =
        std::span<const int32_t>(seq.token_ids.data() + seq.num_computed_tokens, static_cast<size_t>(s.num_tokens));
    slice.start_pos = seq.num_computed_tokens;
    slice.block_table = seq.block_table;
    slice.want_logits = s.sample;
    slices_.push_back(slice);
    if (s.sample) ++num_logits;
  }
  const size_t vocab = static_cast<size_t>(config_.vocab_size);
  if (logits_.size() < num_logits * vocab) logits_.resize(num_logits * vocab);
  try {
    model_->forward(slices_, logits_.data());
  } catch (const std::exception& e) {
    const std::string reason = std::string("model error: ") + e.what();
    for (const auto& s : out.scheduled) finish_and_remove(*s.seq, FinishReason::kAbort, reason);
    return;
  }
  scheduler_->on_step_done(out);

  // Sample every sequence that needs a token on the model's threads (each sequence draws from its
  // own generator, so its tokens do not depend on the thread or the batch), then append, check
  // stops and emit in schedule order on this thread.
  sample_jobs_.clear();
  size_t row = 0;
  for (const auto& s : out.scheduled) {
    if (s.sample) sample_jobs_.push_back({s.seq, row++, 0});
  }
  auto sample_one = [this, vocab](int task, int worker) {
    SampleJob& job = sample_jobs_[static_cast<size_t>(task)];
    Sequence& seq = *job.seq;
    std::span<float> logits(logits_.data() + job.logits_row * vocab, vocab);
    const bool suppress = seq.num_output_tokens() < seq.params.min_tokens;
    job.token = samplers_[static_cast<size_t>(worker)].sample(
        logits, seq.params,
        suppress ? std::span<const int32_t>(seq.banned_until_min_tokens) : std::span<const int32_t>(), seq.rng);
  };
  model_->run_tasks(
      static_cast<int>(sample_jobs_.size()),
      [](void* ctx, int task, int worker) { (*static_cast<decltype(sample_one)*>(ctx))(task, worker); }, &sample_one);
  for (const SampleJob& job : sample_jobs_) {
    Sequence& seq = *job.seq;
    if (process_token(seq, job.token)) {
      finish_and_remove(seq, seq.finish_reason, "");
    } else {
      emit(seq, false);
    }
  }
}

bool LlmEngine::process_token(Sequence& seq, int32_t token) {
  seq.token_ids.push_back(token);
  seq.pending_token_ids.push_back(token);
  ++generation_tokens_total_;
  if (seq.first_token_ns == 0) seq.first_token_ns = now_ns();
  const auto& p = seq.params;
  const int num_output = seq.num_output_tokens();
  const bool min_reached = num_output >= p.min_tokens;

  bool stop_token = false;
  if (min_reached) {
    if (!p.ignore_eos && token == eos_token_id_) {
      seq.finish_reason = FinishReason::kStop;
      stop_token = true;
    } else if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end()) {
      seq.finish_reason = FinishReason::kStop;
      seq.stop_reason = std::to_string(token);
      stop_token = true;
    }
  }
  if (seq.finish_reason == FinishReason::kNone && (num_output >= p.max_tokens || seq.num_tokens() >= max_model_len_)) {
    seq.finish_reason = FinishReason::kLength;
  }
  const bool finishing = seq.finish_reason != FinishReason::kNone;

  // The text of a stop token (EOS or stop_token_ids) is not part of the output, as in vLLM.
  delta_.clear();
  if (seq.detokenizer) {
    if (!stop_token) delta_ += seq.detokenizer->push(token);
    if (finishing) delta_ += seq.detokenizer->flush();
  }
  if (auto matched = seq.stop_checker.append(delta_, min_reached, seq.pending_text)) {
    if (!stop_token) {
      seq.finish_reason = FinishReason::kStop;
      seq.stop_reason = *matched;
    }
    return true;
  }
  if (finishing) seq.stop_checker.flush(seq.pending_text);
  return finishing;
}

void LlmEngine::emit(Sequence& seq, bool finished) {
  RequestOutput& out = output_;
  out.new_token_ids.assign(seq.pending_token_ids.begin(), seq.pending_token_ids.end());
  out.text_delta.assign(seq.pending_text);
  out.finish_reason = finished ? seq.finish_reason : FinishReason::kNone;
  out.finished = finished;
  out.stop_reason = finished ? seq.stop_reason : std::string();
  out.error = finished ? seq.error : std::string();
  out.prompt_tokens = seq.num_prompt_tokens;
  out.completion_tokens = seq.num_output_tokens();
  out.first_scheduled_ns = seq.first_scheduled_ns;
  out.first_token_ns = seq.first_token_ns;
  seq.pending_token_ids.clear();
  seq.pending_text.clear();
  if (!seq.on_output) return;
  try {
    seq.on_output(out);
  } catch (...) {
    // A callback must not throw; the engine thread survives one that does.
  }
}

void LlmEngine::finish_and_remove(Sequence& seq, FinishReason reason, const std::string& error) {
  seq.finish_reason = reason;
  if (!error.empty()) seq.error = error;
  scheduler_->finish(&seq);
  ++requests_finished_total_;
  // Published before the final output: a client that has every final output and then reads
  // /metrics sees its requests gone and their KV blocks free, however the threads interleave.
  publish_stats();
  emit(seq, true);
  const uint64_t id = seq.id;
  sequences_.erase(id);  // destroys seq
}

void LlmEngine::abort_all(const std::string& error) {
  std::vector<Sequence*> all;
  all.reserve(sequences_.size());
  for (auto& [id, seq] : sequences_) all.push_back(seq.get());
  for (Sequence* seq : all) finish_and_remove(*seq, FinishReason::kAbort, error);
}

}  // namespace llmbench::engine

#include "engine/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace llmbench::engine {

Scheduler::Scheduler(const SchedulerConfig& config, BlockManager& blocks) : config_(config), blocks_(blocks) {
  if (config_.max_num_seqs <= 0 || config_.max_num_batched_tokens <= 0) {
    throw std::invalid_argument("Scheduler: max_num_seqs and max_num_batched_tokens must be positive");
  }
}

void Scheduler::add(Sequence* seq) {
  seq->status = SequenceStatus::kWaiting;
  waiting_.push_back(seq);
}

void Scheduler::preempt(Sequence* seq) {
  blocks_.free(seq->block_table);
  seq->num_computed_tokens = 0;
  seq->status = SequenceStatus::kWaiting;
  ++seq->num_preemptions;
  waiting_.push_front(seq);
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int budget = config_.max_num_batched_tokens;

  // 1. Running sequences, in admission order.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* seq = running_[i];
    int num_new = seq->num_uncomputed_tokens();
    if (num_new <= 0) {  // nothing to compute (cannot happen while the engine appends a token per sample)
      ++i;
      continue;
    }
    if (num_new > budget) {
      if (!config_.enable_chunked_prefill) break;
      num_new = budget;
    }
    bool scheduled = true;
    while (!blocks_.ensure_capacity(seq->block_table, seq->num_computed_tokens + num_new)) {
      Sequence* victim = running_.back();
      running_.pop_back();
      preempt(victim);
      out.preempted.push_back(victim);
      if (victim == seq) {
        scheduled = false;
        break;
      }
    }
    if (!scheduled) break;  // seq was the last running sequence; everything after it is gone too
    out.scheduled.push_back({seq, num_new, num_new == seq->num_uncomputed_tokens()});
    budget -= num_new;
    ++i;
  }

  // 2. Waiting sequences, first come first served; none while this step had to preempt.
  if (out.preempted.empty()) {
    while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < config_.max_num_seqs) {
      Sequence* seq = waiting_.front();
      int num_new = seq->num_uncomputed_tokens();
      if (num_new > budget) {
        if (!config_.enable_chunked_prefill) break;
        num_new = budget;
      }
      if (!blocks_.ensure_capacity(seq->block_table, seq->num_computed_tokens + num_new)) break;
      waiting_.pop_front();
      seq->status = SequenceStatus::kRunning;
      running_.push_back(seq);
      out.scheduled.push_back({seq, num_new, num_new == seq->num_uncomputed_tokens()});
      budget -= num_new;
    }
  }
  out.num_batched_tokens = config_.max_num_batched_tokens - budget;
  return out;
}

void Scheduler::on_step_done(const SchedulerOutput& output) {
  for (const auto& s : output.scheduled) s.seq->num_computed_tokens += s.num_tokens;
}

void Scheduler::finish(Sequence* seq) {
  auto erase_from = [seq](std::deque<Sequence*>& queue) {
    auto it = std::find(queue.begin(), queue.end(), seq);
    if (it == queue.end()) return false;
    queue.erase(it);
    return true;
  };
  if (!erase_from(running_)) erase_from(waiting_);
  blocks_.free(seq->block_table);
  seq->status = SequenceStatus::kFinished;
}

}  // namespace llmbench::engine

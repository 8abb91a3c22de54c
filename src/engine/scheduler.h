#pragma once
// Continuous batching with chunked prefill and preemption by recomputation (after vLLM v1's
// scheduler): each step first gives every running sequence its next tokens (one for a decode, the
// rest of the prompt, up to the budget, for a partially prefilled one), then admits waiting
// sequences first-come-first-served while the token budget (max_num_batched_tokens), the sequence
// limit (max_num_seqs) and free KV blocks allow. When a running sequence needs a block and none is
// free, the most recently admitted running sequence is preempted: its blocks are freed and it goes
// back to the front of the waiting queue, to be recomputed from its prompt plus generated tokens.
// The scheduler alone changes a sequence's status and block table. Engine thread only.
#include <cstdint>
#include <deque>
#include <vector>

#include "engine/block_manager.h"
#include "engine/sequence.h"

namespace llmbench::engine {

struct SchedulerConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  bool enable_chunked_prefill = true;
};

struct ScheduledSequence {
  Sequence* seq = nullptr;
  int num_tokens = 0;   // tokens computed this step, starting at seq->num_computed_tokens
  bool sample = false;  // the step reaches the end of the sequence's tokens: sample the next one
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;  // running (admission order) first, then newly admitted
  std::vector<Sequence*> preempted;
  int num_batched_tokens = 0;
  bool empty() const { return scheduled.empty(); }
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, BlockManager& blocks);

  void add(Sequence* seq);  // to the back of the waiting queue
  SchedulerOutput schedule();
  // Marks the scheduled tokens as computed (after the model ran them).
  void on_step_done(const SchedulerOutput& output);
  // Removes a sequence from whichever queue holds it and frees its blocks (finish or abort).
  void finish(Sequence* seq);

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::deque<Sequence*>& running() const { return running_; }
  const BlockManager& blocks() const { return blocks_; }

 private:
  void preempt(Sequence* seq);

  SchedulerConfig config_;
  BlockManager& blocks_;
  std::deque<Sequence*> waiting_;
  std::deque<Sequence*> running_;  // in admission order: the back is preempted first
};

}  // namespace llmbench::engine

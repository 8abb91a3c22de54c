#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>

namespace llmbench::engine {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  Sequence* make(int prompt_len, uint64_t id = 0) {
    GenerationRequest r;
    r.prompt_tokens.assign(static_cast<size_t>(prompt_len), 7);
    r.params.max_tokens = 100;
    seqs_.push_back(std::make_unique<Sequence>(id ? id : seqs_.size() + 1, std::move(r), nullptr, 1));
    return seqs_.back().get();
  }
  // Completes a step as the engine does: computed tokens advance, sampled sequences get a token.
  static void complete(Scheduler& s, const SchedulerOutput& out) {
    s.on_step_done(out);
    for (const auto& x : out.scheduled) {
      if (x.sample) x.seq->token_ids.push_back(9);
    }
  }
  std::vector<std::unique_ptr<Sequence>> seqs_;
};

TEST_F(SchedulerTest, ChunkedPrefillSplitsWithinTheTokenBudget) {
  BlockManager blocks(64, 4);
  Scheduler s({.max_num_seqs = 8, .max_num_batched_tokens = 16, .enable_chunked_prefill = true}, blocks);
  Sequence* a = make(10);
  Sequence* b = make(10);
  Sequence* c = make(10);
  s.add(a);
  s.add(b);
  s.add(c);

  auto out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  EXPECT_EQ(out.scheduled[0].num_tokens, 10);
  EXPECT_TRUE(out.scheduled[0].sample);
  EXPECT_EQ(out.scheduled[1].seq, b);
  EXPECT_EQ(out.scheduled[1].num_tokens, 6);  // a chunk of b's prompt
  EXPECT_FALSE(out.scheduled[1].sample);
  EXPECT_EQ(out.num_batched_tokens, 16);
  EXPECT_EQ(s.num_running(), 2);
  EXPECT_EQ(s.num_waiting(), 1);
  EXPECT_EQ(a->block_table.size(), 3u);
  EXPECT_EQ(b->block_table.size(), 2u);
  complete(s, out);

  out = s.schedule();  // a decodes, b finishes its prompt, c gets the rest of the budget
  ASSERT_EQ(out.scheduled.size(), 3u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  EXPECT_EQ(out.scheduled[0].num_tokens, 1);
  EXPECT_TRUE(out.scheduled[0].sample);
  EXPECT_EQ(out.scheduled[1].seq, b);
  EXPECT_EQ(out.scheduled[1].num_tokens, 4);
  EXPECT_TRUE(out.scheduled[1].sample);
  EXPECT_EQ(out.scheduled[2].seq, c);
  EXPECT_EQ(out.scheduled[2].num_tokens, 10);
  EXPECT_TRUE(out.scheduled[2].sample);
  EXPECT_EQ(out.num_batched_tokens, 15);
}

TEST_F(SchedulerTest, WithoutChunkingAPromptWaitsForRoom) {
  BlockManager blocks(64, 4);
  Scheduler s({.max_num_seqs = 8, .max_num_batched_tokens = 16, .enable_chunked_prefill = false}, blocks);
  Sequence* a = make(10);
  Sequence* b = make(10);
  s.add(a);
  s.add(b);
  auto out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  complete(s, out);
  out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(out.scheduled[1].seq, b);
  EXPECT_EQ(out.scheduled[1].num_tokens, 10);
}

TEST_F(SchedulerTest, MaxNumSeqsLimitsTheBatch) {
  BlockManager blocks(64, 4);
  Scheduler s({.max_num_seqs = 2, .max_num_batched_tokens = 100, .enable_chunked_prefill = true}, blocks);
  for (int i = 0; i < 4; ++i) s.add(make(3));
  auto out = s.schedule();
  EXPECT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(s.num_running(), 2);
  EXPECT_EQ(s.num_waiting(), 2);
}

TEST_F(SchedulerTest, PreemptsTheMostRecentlyAdmittedWhenBlocksRunOut) {
  BlockManager blocks(4, 4);  // 16 token slots
  Scheduler s({.max_num_seqs = 8, .max_num_batched_tokens = 64, .enable_chunked_prefill = true}, blocks);
  Sequence* a = make(8);
  Sequence* b = make(8);
  s.add(a);
  s.add(b);
  auto out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(blocks.num_free_blocks(), 0);
  complete(s, out);  // both now hold 9 tokens: each needs a third block

  out = s.schedule();
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], b);
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  EXPECT_EQ(b->status, SequenceStatus::kWaiting);
  EXPECT_EQ(b->num_computed_tokens, 0);
  EXPECT_TRUE(b->block_table.empty());
  EXPECT_EQ(b->num_preemptions, 1);
  EXPECT_EQ(s.waiting().front(), b);
  EXPECT_EQ(a->block_table.size(), 3u);
  complete(s, out);

  // b comes back (prompt + its generated token recomputed) once a finishes.
  s.finish(a);
  EXPECT_EQ(blocks.num_free_blocks(), 4);
  out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, b);
  EXPECT_EQ(out.scheduled[0].num_tokens, 9);
  EXPECT_TRUE(out.scheduled[0].sample);
}

TEST_F(SchedulerTest, PreemptsItselfWhenItIsTheLastRunning) {
  BlockManager blocks(3, 4);
  Scheduler s({.max_num_seqs = 8, .max_num_batched_tokens = 64, .enable_chunked_prefill = true}, blocks);
  Sequence* a = make(4);
  Sequence* b = make(8);
  s.add(a);
  s.add(b);
  auto out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 2u);
  complete(s, out);  // a: 5 tokens needs 2 blocks; b: 9 tokens needs 3; 0 free
  out = s.schedule();
  // a needs a block: b (the newest) is preempted, freeing 2; a proceeds. No admission this step.
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], b);
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, a);
  EXPECT_EQ(s.num_waiting(), 1);
}

TEST_F(SchedulerTest, FinishRemovesFromEitherQueue) {
  BlockManager blocks(8, 4);
  Scheduler s({.max_num_seqs = 1, .max_num_batched_tokens = 64, .enable_chunked_prefill = true}, blocks);
  Sequence* a = make(4);
  Sequence* b = make(4);
  s.add(a);
  s.add(b);
  auto out = s.schedule();
  ASSERT_EQ(out.scheduled.size(), 1u);
  s.finish(b);  // still waiting
  EXPECT_EQ(s.num_waiting(), 0);
  s.finish(a);
  EXPECT_EQ(s.num_running(), 0);
  EXPECT_FALSE(s.has_work());
  EXPECT_EQ(blocks.num_free_blocks(), 8);
}

}  // namespace
}  // namespace llmbench::engine

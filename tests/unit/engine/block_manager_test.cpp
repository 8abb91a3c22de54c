#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace llmbench::engine {
namespace {

TEST(BlockManager, AllocatesOnDemandAndFrees) {
  BlockManager blocks(4, 16);
  EXPECT_EQ(blocks.blocks_for_tokens(0), 0);
  EXPECT_EQ(blocks.blocks_for_tokens(1), 1);
  EXPECT_EQ(blocks.blocks_for_tokens(16), 1);
  EXPECT_EQ(blocks.blocks_for_tokens(17), 2);

  std::vector<int32_t> a;
  ASSERT_TRUE(blocks.ensure_capacity(a, 17));
  EXPECT_EQ(a.size(), 2u);
  ASSERT_TRUE(blocks.ensure_capacity(a, 32));  // already covered
  EXPECT_EQ(a.size(), 2u);
  EXPECT_DOUBLE_EQ(blocks.usage(), 0.5);

  std::vector<int32_t> b;
  EXPECT_FALSE(blocks.ensure_capacity(b, 48));  // needs 3, 2 free: all or nothing
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(blocks.num_free_blocks(), 2);
  ASSERT_TRUE(blocks.ensure_capacity(b, 20));
  std::set<int32_t> distinct(a.begin(), a.end());
  distinct.insert(b.begin(), b.end());
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_DOUBLE_EQ(blocks.usage(), 1.0);

  blocks.free(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(blocks.num_free_blocks(), 2);
  blocks.free(b);
  EXPECT_DOUBLE_EQ(blocks.usage(), 0.0);
}

TEST(BlockManager, DoubleFreeIsCaught) {
  BlockManager blocks(2, 4);
  std::vector<int32_t> a;
  ASSERT_TRUE(blocks.ensure_capacity(a, 4));
  std::vector<int32_t> copy = a;
  blocks.free(a);
  EXPECT_THROW(blocks.free(copy), std::logic_error);
}

TEST(BlockManager, RejectsBadSizes) {
  EXPECT_THROW(BlockManager(0, 16), std::invalid_argument);
  EXPECT_THROW(BlockManager(4, 0), std::invalid_argument);
}

}  // namespace
}  // namespace llmbench::engine

#include "engine/cpu_thread_pool.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace llmbench::engine::cpu {
namespace {

inline void cpu_relax() {
  __builtin_ia32_pause();
}
constexpr int kSpinIterations = 20000;  // a fraction of a millisecond of pause before sleeping

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

CpuThreadPool::CpuThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

CpuThreadPool::~CpuThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(generation_);
  for (auto& t : workers_) t.join();
}

// The claim word packs the job's generation (24 bits), its task count and the next task index
// (20 bits each). A successful compare-and-swap therefore proves that the task exists in *that*
// job, and the job cannot finish (nor its caller return and reuse ctx's stack frame) until the
// task is done. With the count in a separate atomic, a worker still in an old job could read the
// next job's larger count, claim a task index the old job never had and call the old, dead ctx.
namespace {
constexpr uint64_t kFieldMask = (uint64_t{1} << 20) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << 24) - 1;
inline uint64_t pack_claim(uint32_t generation, int num_tasks) {
  return (static_cast<uint64_t>(generation) & kGenerationMask) << 40 | static_cast<uint64_t>(num_tasks) << 20;
}
}  // namespace

void CpuThreadPool::work(uint32_t generation, int thread) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((v >> 40) != (static_cast<uint64_t>(generation) & kGenerationMask)) return;
    const uint64_t num_tasks = (v >> 20) & kFieldMask;
    const int task = static_cast<int>(v & kFieldMask);
    if (static_cast<uint64_t>(task) >= num_tasks) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    call_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), task, thread);
    done_.fetch_add(1, std::memory_order_release);
    v = claim_.load(std::memory_order_acquire);
  }
}

void CpuThreadPool::run_impl(int num_tasks, Call call, void* ctx) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t) call(ctx, t, 0);
    return;
  }
  if (static_cast<uint64_t>(num_tasks) > kFieldMask) throw std::invalid_argument("CpuThreadPool: too many tasks");
  const uint32_t generation = ++last_generation_;
  call_.store(call, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(pack_claim(generation, num_tasks), std::memory_order_release);
  generation_.store(generation, std::memory_order_release);
  if (sleepers_.load(std::memory_order_acquire) > 0) futex_wake_all(generation_);
  work(generation, 0);
  // Only tasks a worker is running right now remain.
  for (int spin = 0; done_.load(std::memory_order_acquire) < num_tasks; ++spin) {
    if (spin < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void CpuThreadPool::worker_loop(int thread) {
  uint32_t seen = 0;  // the generation at construction: a job posted before this thread ran is not missed
  for (;;) {
    uint32_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen; ++spin) {
      if (spin < kSpinIterations) {
        cpu_relax();
      } else {
        sleepers_.fetch_add(1, std::memory_order_acq_rel);
        futex_wait(generation_, seen);
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      }
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    work(g, thread);
  }
}

}  // namespace llmbench::engine::cpu

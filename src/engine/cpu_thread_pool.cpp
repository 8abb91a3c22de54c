#include "engine/cpu_thread_pool.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

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

// Claims tasks of job `generation` until none is left or a newer job has started. A successful
// claim proves the job fields read before it belong to this job: the caller cannot start the next
// job before every task of this one is claimed and done.
void CpuThreadPool::work(uint32_t generation, int thread) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(v >> 32) != generation) return;
    const int task = static_cast<int>(v & 0xffffffffu);
    if (task >= num_tasks_.load(std::memory_order_relaxed)) return;
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
  const uint32_t generation = ++last_generation_;
  num_tasks_.store(num_tasks, std::memory_order_relaxed);
  call_.store(call, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
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

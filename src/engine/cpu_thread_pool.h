#pragma once
// A small persistent thread pool for the model's kernels: run(n, fn) calls fn(task, thread) for
// every task in [0, n) on the caller plus the workers and returns when all are done. Cheap per
// call (no allocation; workers spin briefly after a job before sleeping on a futex), since one
// decode step issues ~50 of them. Tasks are claimed through one atomic word holding the job's
// generation, task count and next task index, so the caller never waits for a worker that has not
// woken up yet (on a loaded machine it simply runs the tasks itself) and a late worker can never
// run a task of a job that has ended.
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmbench::engine::cpu {

class CpuThreadPool {
 public:
  // num_threads counts the caller; 0 = hardware threads.
  explicit CpuThreadPool(int num_threads);
  ~CpuThreadPool();
  CpuThreadPool(const CpuThreadPool&) = delete;
  CpuThreadPool& operator=(const CpuThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  template <class F>
  void run(int num_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_impl(
        num_tasks, [](void* ctx, int task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Call = void (*)(void*, int, int);
  void run_impl(int num_tasks, Call call, void* ctx);
  void work(uint32_t generation, int thread);
  void worker_loop(int thread);

  std::vector<std::thread> workers_;
  uint32_t last_generation_ = 0;         // caller only
  std::atomic<uint64_t> claim_{0};       // generation (24 bits) | task count (20) | next task index (20)
  std::atomic<uint32_t> generation_{0};  // futex word the workers sleep on
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<int> done_{0};
  std::atomic<Call> call_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<bool> stop_{false};
};

}  // namespace llmbench::engine::cpu

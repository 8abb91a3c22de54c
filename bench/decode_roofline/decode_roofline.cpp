// Decode roofline of the CPU model backend: memory read bandwidth of this machine (a streaming
// read on all threads), then dummy opt-125m decode steps (fp32 and bf16 weights) compared with
// the time to stream their weights once at that bandwidth; batched decode and prefill throughput.
// With --device cuda (a build with the CUDA backend), the same step timings of the CUDA runner
// (each forward() from the host's call to its logits on the host), without the CPU roofline.
//
//   decode_roofline [--model opt-125m] [--threads N] [--steps N] [--context N] [--profile 1]
//                   [--device cpu|cuda] [--enforce-eager 1]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/clock.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_model_runner.h"
#include "engine/cpu_thread_pool.h"

using namespace llmbench;
using namespace llmbench::engine;

namespace {

struct Options {
  std::string model = "opt-125m";
  int threads = 0;
  int steps = 40;
  int context = 128;
  bool profile = false;  // --profile 1: where a 32-sequence decode step and a 32-prompt prefill go
  std::string device = "cpu";
  bool enforce_eager = false;  // --enforce-eager 1: CUDA without graph replay
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// GB/s of a streaming read of a 1 GiB buffer split across the pool's threads (best of 5).
double measure_read_bandwidth(int threads) {
  const size_t n = (size_t{1} << 30) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  cpu::CpuThreadPool pool(threads);
  const cpu::Kernels& k = cpu::best_kernels();
  const int tasks = pool.size() * 8;
  std::vector<float> sums(static_cast<size_t>(tasks));
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    const int64_t t0 = now_ns();
    pool.run(tasks, [&](int t, int) {
      const size_t chunk = n / tasks;
      sums[static_cast<size_t>(t)] = k.stream_sum(buf.data() + chunk * t, chunk);
    });
    const double s = ns_to_s(now_ns() - t0);
    best = std::max(best, static_cast<double>(n * sizeof(float)) / s / 1e9);
  }
  if (std::accumulate(sums.begin(), sums.end(), 0.0f) <= 0.0f) std::printf("(unexpected sum)\n");
  return best;
}

struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<int32_t> table;
};

class Bench {
 public:
  Bench(const Options& o, DType dtype) : o_(o) {
    LoadOptions lo;
    lo.model = o.model;
    lo.load_format = "dummy";
    lo.dtype = dtype;
    lo.num_threads = o.threads;
    lo.seed = 1;
    lo.device = o.device;
    lo.enforce_eager = o.enforce_eager;
    if (o.device == "cpu") {
      auto cpu = CpuModelRunner::load(lo);
      cpu_ = cpu.get();
      runner_ = std::move(cpu);
    } else {
      runner_ = load_model(lo);
    }
    vocab_ = runner_->config().vocab_size;
    runner_->allocate_kv_cache(kBlocks, kBlockSize);
  }
  CpuModelRunner* cpu() { return cpu_; }  // null on another device

  // `count` sequences whose first `context` tokens are in the cache.
  std::vector<Sequence> make_sequences(int count, int context) {
    std::vector<Sequence> seqs(static_cast<size_t>(count));
    const int blocks_each = (o_.context + o_.steps + 16 + kBlockSize - 1) / kBlockSize;
    if (count * blocks_each > kBlocks) std::abort();
    for (int s = 0; s < count; ++s) {
      auto& q = seqs[static_cast<size_t>(s)];
      for (int i = 0; i < context; ++i) q.tokens.push_back((s * 7919 + i * 104729) % (vocab_ - 4) + 4);
      for (int b = 0; b < blocks_each; ++b) q.table.push_back(s * blocks_each + b);
    }
    std::vector<float> sink(static_cast<size_t>(vocab_) * 8);
    for (int s = 0; s < count; s += 4) {  // prefill 4 sequences per step
      std::vector<SequenceSlice> slices;
      for (int j = s; j < std::min(count, s + 4); ++j) {
        slices.push_back({seqs[static_cast<size_t>(j)].tokens, 0, seqs[static_cast<size_t>(j)].table, true});
      }
      runner_->forward(slices, sink.data());
    }
    return seqs;
  }

  // Median seconds of one decode step over `batch` sequences (each appends one token per step).
  double decode_step_s(std::vector<Sequence>& seqs, int steps) {
    std::vector<float> logits(static_cast<size_t>(vocab_) * seqs.size());
    std::vector<double> times;
    std::vector<SequenceSlice> slices(seqs.size());
    for (int step = 0; step < steps + 3; ++step) {
      for (size_t s = 0; s < seqs.size(); ++s) {
        auto& q = seqs[s];
        q.tokens.push_back(static_cast<int32_t>((q.tokens.back() * 31 + 7) % (vocab_ - 4) + 4));
        slices[s] = {std::span<const int32_t>(&q.tokens.back(), 1), static_cast<int32_t>(q.tokens.size() - 1), q.table,
                     true};
      }
      const int64_t t0 = now_ns();
      runner_->forward(slices, logits.data());
      if (step >= 3) times.push_back(ns_to_s(now_ns() - t0));  // first steps: warm-up
    }
    return median(times);
  }

  // Median seconds of one step that prefills `count` fresh prompts of `tokens` tokens each, as a
  // wave of new requests arrives in the batching benchmark (32 prompts of 32 tokens).
  double batched_prefill_s(int count, int tokens, int reps) {
    const int blocks_each = (tokens + kBlockSize - 1) / kBlockSize;
    if (count * blocks_each > kBlocks) std::abort();
    std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(count)), tables(static_cast<size_t>(count));
    std::vector<SequenceSlice> slices;
    for (int s = 0; s < count; ++s) {
      for (int i = 0; i < tokens; ++i) prompts[s].push_back((s * 7919 + i * 104729) % (vocab_ - 4) + 4);
      for (int b = 0; b < blocks_each; ++b) tables[s].push_back(s * blocks_each + b);
      slices.push_back({prompts[s], 0, tables[s], true});
    }
    std::vector<float> logits(static_cast<size_t>(vocab_) * count);
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      const int64_t t0 = now_ns();
      runner_->forward(slices, logits.data());
      times.push_back(ns_to_s(now_ns() - t0));
    }
    return median(times);
  }

  double prefill_s(int tokens, int reps) {
    std::vector<int32_t> prompt(static_cast<size_t>(tokens));
    for (int i = 0; i < tokens; ++i) prompt[static_cast<size_t>(i)] = (i * 104729) % (vocab_ - 4) + 4;
    std::vector<int32_t> table((tokens + kBlockSize - 1) / kBlockSize);
    std::iota(table.begin(), table.end(), 0);
    std::vector<float> logits(static_cast<size_t>(vocab_));
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      SequenceSlice s{prompt, 0, table, true};
      const int64_t t0 = now_ns();
      runner_->forward({&s, 1}, logits.data());
      times.push_back(ns_to_s(now_ns() - t0));
    }
    return median(times);
  }

 private:
  static constexpr int kBlocks = 1024;
  static constexpr int kBlockSize = 16;
  Options o_;
  std::unique_ptr<ModelRunner> runner_;
  CpuModelRunner* cpu_ = nullptr;
  int vocab_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--model") {
      o.model = argv[i + 1];
    } else if (flag == "--threads") {
      o.threads = std::atoi(argv[i + 1]);
    } else if (flag == "--steps") {
      o.steps = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--profile") {
      o.profile = std::atoi(argv[i + 1]) != 0;
    } else if (flag == "--context") {
      o.context = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--device") {
      o.device = argv[i + 1];
    } else if (flag == "--enforce-eager") {
      o.enforce_eager = std::atoi(argv[i + 1]) != 0;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  const bool on_cpu = o.device == "cpu";
  double bw = 0.0;
  if (on_cpu) {
    cpu::CpuFeatures f = cpu::detect_cpu_features();
    std::printf("kernels: %s (avx512=%d avx512_bf16=%d amx_bf16=%d)\n", cpu::best_kernels().name, f.avx512,
                f.avx512_bf16, f.amx_bf16);
    bw = measure_read_bandwidth(o.threads);
    std::printf("memory read bandwidth (1 GiB streaming read, all threads, best of 5): %.1f GB/s\n\n", bw);
    std::printf("| model | weights | threads | MB read/step | roofline ms | measured ms | ratio |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
  } else {
    std::printf("device: %s (model %s, dummy weights%s)\n", o.device.c_str(), o.model.c_str(),
                o.enforce_eager ? ", eager" : ", decode steps from CUDA graphs");
  }
  struct Row {
    std::string dtype;
    double t1, t8, t32, p128, p1024, p32x32;
  };
  std::vector<Row> rows;
  std::vector<std::pair<std::string, ForwardProfile>> profiles;
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    Bench b(o, dt);
    const char* name = dt == DType::kFloat32 ? "fp32" : "bf16";
    auto one = b.make_sequences(1, o.context);
    const double step = b.decode_step_s(one, o.steps);
    if (CpuModelRunner* cpu = b.cpu()) {
      const double bytes = static_cast<double>(cpu->weight_bytes_per_step());
      const double roof = bytes / (bw * 1e9);
      std::printf("| %s | %s | %d | %.1f | %.2f | %.2f | %.2fx |\n", o.model.c_str(), name, cpu->num_threads(),
                  bytes / 1e6, roof * 1e3, step * 1e3, step / roof);
      std::fflush(stdout);
    }
    Row r{name, step, 0, 0, 0, 0, 0};
    auto eight = b.make_sequences(8, o.context);
    r.t8 = b.decode_step_s(eight, std::max(5, o.steps / 4));
    auto many = b.make_sequences(32, o.context);
    CpuModelRunner* profiled = o.profile ? b.cpu() : nullptr;
    if (profiled) {
      profiled->set_profiling(true);
      profiled->reset_profile();
    }
    r.t32 = b.decode_step_s(many, std::max(5, o.steps / 8));
    if (profiled) {
      profiles.emplace_back(std::string(name) + " decode T=32", profiled->profile());
      profiled->reset_profile();
    }
    r.p32x32 = b.batched_prefill_s(32, 32, 5);
    if (profiled) {
      profiles.emplace_back(std::string(name) + " prefill 32x32", profiled->profile());
      profiled->set_profiling(false);
    }
    r.p128 = b.prefill_s(128, 3);
    r.p1024 = b.prefill_s(1024, 2);
    rows.push_back(r);
  }
  std::printf(
      "\n| weights | decode T=1 ms (tok/s) | T=8 ms (tok/s) | T=32 ms (tok/s) | prefill 128 ms (tok/s) | "
      "prefill 1024 ms (tok/s) | prefill 32 x 32 ms (tok/s) |\n|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %.1f (%.0f) | %.1f (%.0f) | %.1f (%.0f) | %.0f (%.0f) | %.0f (%.0f) | %.1f (%.0f) |\n",
                r.dtype.c_str(), r.t1 * 1e3, 1 / r.t1, r.t8 * 1e3, 8 / r.t8, r.t32 * 1e3, 32 / r.t32, r.p128 * 1e3,
                128 / r.p128, r.p1024 * 1e3, 1024 / r.p1024, r.p32x32 * 1e3, 1024 / r.p32x32);
  }
  for (const auto& [name, p] : profiles) {  // includes the warm-up steps; shares are what matter
    int64_t total = 0;
    for (int64_t ns : p.ns) total += ns;
    std::printf("\n%s, ms per step (share):", name.c_str());
    for (int i = 0; i < ForwardProfile::kCount; ++i) {
      std::printf(" %s %.2f (%.0f%%)%s", ForwardProfile::kNames[i], static_cast<double>(p.ns[i]) / 1e6 / p.forwards,
                  100.0 * static_cast<double>(p.ns[i]) / static_cast<double>(total),
                  i + 1 < ForwardProfile::kCount ? "," : "\n");
    }
  }
  return 0;
}

// What the engine loop costs around the model: the sampler per token at OPT's vocabulary size, and
// the scheduler + postprocessing per step with a model that does no work. Prints a table; numbers
// go to docs/benchmarks.md ("Engine loop").
#include <fmt/core.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "engine/llm_engine.h"
#include "engine/sampler.h"

namespace {

using namespace llmbench;
using namespace llmbench::engine;

constexpr int kVocab = 50272;  // OPT

// Logits with a realistic long tail: a few strong tokens over Gaussian noise.
std::vector<float> make_logits(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  std::vector<float> logits(kVocab);
  for (float& v : logits) v = noise(rng);
  for (int i = 0; i < 20; ++i) logits[rng() % kVocab] += 8.0f;
  return logits;
}

void bench_sampler() {
  struct Case {
    const char* name;
    SamplingParams params;
  };
  std::vector<Case> cases(4);
  cases[0] = {"greedy", {}};
  cases[0].params.temperature = 0.0f;
  cases[1] = {"temperature 1", {}};
  cases[2] = {"top_k 50", {}};
  cases[2].params.top_k = 50;
  cases[3] = {"top_p 0.9", {}};
  cases[3].params.top_p = 0.9f;
  const auto source = make_logits(1);
  fmt::print("{:<16} {:>12}\n", "sampler", "us/token");
  for (const auto& c : cases) {
    Sampler sampler;
    SamplerRng rng(7);
    std::vector<float> row;
    const int n = 2000;
    int64_t total_ns = 0;
    for (int i = 0; i < n; ++i) {
      row = source;
      const int64_t t0 = now_ns();
      sampler.sample(row, c.params, {}, rng);
      total_ns += now_ns() - t0;
    }
    fmt::print("{:<16} {:>12.1f}\n", c.name, static_cast<double>(total_ns) / n / 1e3);
  }
}

// A model that computes nothing: logits are left as they are (zeros).
class NullModel : public ModelRunner {
 public:
  NullModel() {
    config_.name = "null";
    config_.vocab_size = kVocab;
    config_.max_position = 2048;
    config_.eos_token_id = 2;
  }
  const ModelConfig& config() const override { return config_; }
  size_t kv_bytes_per_block(int block_size) const override { return static_cast<size_t>(block_size); }
  void allocate_kv_cache(int, int) override {}
  void forward(std::span<const SequenceSlice>, float*) override {}
  size_t weight_bytes() const override { return 0; }

 private:
  ModelConfig config_;
};

void bench_loop(int num_seqs, float temperature) {
  EngineOptions options;
  options.max_num_seqs = num_seqs;
  options.max_num_batched_tokens = 8192;
  LlmEngine engine(options, std::make_unique<NullModel>(), nullptr);
  std::mutex mutex;
  std::condition_variable done_cv;
  int done = 0;
  const int max_tokens = 256;
  const int64_t t0 = now_ns();
  for (int i = 0; i < num_seqs; ++i) {
    GenerationRequest r;
    r.prompt_tokens.assign(128, 100 + i);
    r.params.temperature = temperature;
    r.params.max_tokens = max_tokens;
    r.params.ignore_eos = true;
    r.on_output = [&](const RequestOutput& out) {
      if (!out.finished) return;
      std::lock_guard lock(mutex);
      ++done;
      done_cv.notify_all();
    };
    engine.submit(std::move(r));
  }
  std::unique_lock lock(mutex);
  done_cv.wait(lock, [&] { return done == num_seqs; });
  const double seconds = ns_to_s(now_ns() - t0);
  const auto stats = engine.stats();
  fmt::print("{:>6} {:>6.1f} {:>8} {:>14.0f} {:>14.1f}\n", num_seqs, temperature, stats.steps_total,
             static_cast<double>(stats.generation_tokens_total) / seconds,
             seconds / static_cast<double>(stats.steps_total) * 1e6);
}

// The whole engine with a real model (dummy weights): `num_seqs` requests of `prompt_len` tokens
// generating `output_len` each, all submitted at once.
void bench_model(const std::string& model, int num_seqs, int prompt_len, int output_len) {
  EngineOptions options;
  options.load.model = model;
  options.load.load_format = "dummy";
  options.max_model_len = prompt_len + output_len;
  auto engine = Engine::create(options, nullptr);
  std::mutex mutex;
  std::condition_variable done_cv;
  int done = 0;
  int64_t ttft_sum_ns = 0;
  const int64_t t0 = now_ns();
  for (int i = 0; i < num_seqs; ++i) {
    GenerationRequest r;
    r.prompt_tokens.assign(static_cast<size_t>(prompt_len), 100 + i);
    r.params.temperature = 0.0f;
    r.params.max_tokens = output_len;
    r.params.ignore_eos = true;
    r.arrival_ns = now_ns();
    r.on_output = [&, arrival_ns = r.arrival_ns](const RequestOutput& out) {
      if (!out.finished) return;
      std::lock_guard lock(mutex);
      ttft_sum_ns += out.first_token_ns - arrival_ns;
      ++done;
      done_cv.notify_all();
    };
    engine->submit(std::move(r));
  }
  std::unique_lock lock(mutex);
  done_cv.wait(lock, [&] { return done == num_seqs; });
  const double seconds = ns_to_s(now_ns() - t0);
  const auto stats = engine->stats();
  fmt::print("{:>6} {:>7} {:>7} {:>8} {:>12.1f} {:>12.1f}\n", num_seqs, prompt_len, output_len, stats.steps_total,
             static_cast<double>(stats.generation_tokens_total) / seconds,
             ns_to_ms(ttft_sum_ns) / static_cast<double>(num_seqs));
}

}  // namespace

// Usage: bench_engine_loop            the sampler and the loop around a model that does no work
//        bench_engine_loop opt-125m   the engine with that model's dummy weights
int main(int argc, char** argv) {
  if (argc > 1) {
    fmt::print("{:>6} {:>7} {:>7} {:>8} {:>12} {:>12}\n", "seqs", "prompt", "output", "steps", "out tok/s",
               "mean TTFT ms");
    for (int seqs : {1, 8, 32}) bench_model(argv[1], seqs, 128, 64);
    return 0;
  }
  bench_sampler();
  fmt::print("\n{:>6} {:>6} {:>8} {:>14} {:>14}\n", "seqs", "temp", "steps", "tokens/s", "us/step");
  for (int seqs : {1, 16, 64, 256}) bench_loop(seqs, 0.0f);
  for (int seqs : {1, 64}) bench_loop(seqs, 1.0f);
  return 0;
}

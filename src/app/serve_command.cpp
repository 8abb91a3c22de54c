// `llmbench serve`: loads a model into the reference engine and serves it over HTTP with vLLM's
// OpenAI-compatible routes (and TGI's /generate), flags named as `vllm serve` names them.
//
// Chat template: OPT and GPT-2 ship none (vLLM would need --chat-template); llmbench uses one
// "role: content\n" line per message followed by "assistant:" (server/api_protocol.h).
#include "app/serve_command.h"

#include <fmt/core.h>
#include <pthread.h>
#include <signal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "app/command.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::app {
namespace {

struct ServeArgs {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string model;
  std::string served_model_name;
  std::string load_format = "auto";
  std::string dtype = "auto";
  int max_model_len = 0;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  std::string kv_cache_memory;
  std::string kv_cache_dtype = "auto";
  std::string device = "auto";
  bool enforce_eager = false;
  int block_size = 16;
  std::string api_key;
  uint64_t seed = 0;
  int threads = 0;
  int http_threads = 1;
  int max_queue = 4096;
  std::string max_body_bytes = "8MiB";
  std::string tokenizer;
  bool log_requests = false;
};

// "512MiB", "1GiB", "2GB", "4096" → bytes.
size_t parse_bytes(const std::string& text, const char* flag) {
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("{}: '{}' is not a size (e.g. 512MiB, 1GiB, 4096)", flag, text));
  }
  std::string unit = text.substr(pos);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  if (unit == "k" || unit == "kb") scale = 1e3;
  if (unit == "m" || unit == "mb") scale = 1e6;
  if (unit == "g" || unit == "gb") scale = 1e9;
  if (unit == "kib") scale = 1024.0;
  if (unit == "mib") scale = 1024.0 * 1024;
  if (unit == "gib") scale = 1024.0 * 1024 * 1024;
  if (scale == 0 || value < 0) {
    throw std::invalid_argument(fmt::format("{}: '{}' is not a size (e.g. 512MiB, 1GiB, 4096)", flag, text));
  }
  return static_cast<size_t>(value * scale);
}

engine::DType parse_dtype(const std::string& s) {
  if (s == "auto" || s == "float32" || s == "float") return engine::DType::kFloat32;
  if (s == "bfloat16") return engine::DType::kBFloat16;
  if (s == "float16" || s == "half") return engine::DType::kFloat16;
  throw std::invalid_argument(fmt::format("--dtype: '{}' is not one of auto, float32, bfloat16, float16", s));
}

std::shared_ptr<const tokenizer::Tokenizer> load_tokenizer(const ServeArgs& a) {
  namespace fs = std::filesystem;
  if (!a.tokenizer.empty()) {
    if (fs::is_directory(a.tokenizer)) return tokenizer::Tokenizer::from_model_dir(a.tokenizer);
    return tokenizer::Tokenizer::from_tokenizer_json(a.tokenizer);
  }
  if (a.load_format != "dummy" || fs::is_directory(a.model)) {
    fs::path dir(a.model);
    if (fs::exists(dir / "tokenizer.json") || (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"))) {
      return tokenizer::Tokenizer::from_model_dir(a.model);
    }
  }
  return tokenizer::Tokenizer::gpt2();  // GPT-2's vocabulary (also OPT's) shipped with llmbench
}

int run_serve(ServeArgs a) {
  namespace fs = std::filesystem;
  if (a.model.empty()) {
    a.model = "opt-125m";
    a.load_format = "dummy";
  }
  if (a.load_format != "auto" && a.load_format != "dummy") {
    throw std::invalid_argument(fmt::format("--load-format: '{}' is not one of auto, dummy", a.load_format));
  }
  if (a.load_format == "auto" && !fs::is_directory(a.model)) {
    throw std::invalid_argument(fmt::format(
        "--model '{}' is not a folder; pass a Hugging Face model folder, or --load-format dummy for random weights",
        a.model));
  }
  if (a.port < 0 || a.port > 65535) throw std::invalid_argument(fmt::format("--port {} is out of range", a.port));
  if (a.api_key.empty()) {
    if (const char* env = std::getenv("VLLM_API_KEY")) a.api_key = env;
  }

  // SIGINT/SIGTERM are taken by sigwait() below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  engine::EngineOptions eo;
  eo.load.model = a.model;
  eo.load.load_format = a.load_format;
  eo.load.dtype = parse_dtype(a.dtype);
  eo.load.kv_cache_dtype = a.kv_cache_dtype;
  eo.load.seed = a.seed;
  eo.load.num_threads = a.threads;
  eo.load.device = a.device;
  eo.load.enforce_eager = a.enforce_eager;
  eo.max_num_seqs = a.max_num_seqs;
  eo.max_num_batched_tokens = a.max_num_batched_tokens;
  eo.max_model_len = a.max_model_len;
  eo.block_size = a.block_size;
  if (!a.kv_cache_memory.empty()) eo.kv_cache_memory_bytes = parse_bytes(a.kv_cache_memory, "--kv-cache-memory");
  eo.max_waiting = a.max_queue;

  std::shared_ptr<engine::Engine> engine = engine::Engine::create(eo, load_tokenizer(a));

  server::ServerOptions so;
  so.host = a.host;
  so.port = static_cast<uint16_t>(a.port);
  so.served_model_name = a.served_model_name.empty() ? a.model : a.served_model_name;
  so.api_key = a.api_key;
  so.threads = a.http_threads;
  so.max_queue = a.max_queue;
  so.max_body_bytes = parse_bytes(a.max_body_bytes, "--max-body-bytes");
  so.log_requests = a.log_requests;
  auto server = std::make_unique<server::HttpServer>(so, engine);
  server->start();
  auto stats = engine->stats();
  fmt::print("llmbench serve: listening on {} model={} device={} max_model_len={} kv_blocks={} block_size={}\n",
             server->url(), so.served_model_name, eo.load.device == "auto" ? engine::default_device() : eo.load.device,
             engine->max_model_len(), stats.num_blocks, stats.block_size);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  fmt::print(stderr, "llmbench serve: {} received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server->stop();
  server.reset();
  engine.reset();
  return 0;
}

}  // namespace

CLI::App* add_serve_command(CLI::App& root) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = root.add_subcommand(
      "serve",
      "Serve a model with the reference engine over HTTP: OpenAI-compatible /v1/completions, "
      "/v1/chat/completions, /v1/models, /tokenize, /detokenize, /metrics (vLLM names), TGI /generate and "
      "/generate_stream, /health, /version");
  cmd->add_option("--host", args->host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", args->port, "Port to bind (0 = any free port, printed when ready)")->capture_default_str();
  cmd->add_option("--model", args->model,
                  "Hugging Face model folder, or a known name (opt-125m, gpt2, ...) with --load-format dummy "
                  "[default: opt-125m with dummy weights]");
  cmd->add_option("--served-model-name", args->served_model_name, "Name clients send as \"model\" [default: --model]");
  cmd->add_option("--load-format", args->load_format, "auto (safetensors) or dummy (random weights)")
      ->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "auto (float32), float32, bfloat16 or float16")->capture_default_str();
  cmd->add_option("--max-model-len", args->max_model_len, "Context length (0 = the model's)")->capture_default_str();
  cmd->add_option("--max-num-seqs", args->max_num_seqs, "Most sequences in one step")->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", args->max_num_batched_tokens, "Most tokens in one step")
      ->capture_default_str();
  cmd->add_option("--kv-cache-memory", args->kv_cache_memory, "KV cache size in bytes (512MiB, 1GiB, ...)");
  cmd->add_option("--kv-cache-dtype", args->kv_cache_dtype,
                  "KV cache element type: auto (bfloat16 with bf16 weights, else float32), float32 or bfloat16")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16"}))
      ->capture_default_str();
  cmd->add_option("--device", args->device,
                  "Where the model runs: auto (cuda when this build has the CUDA backend and sees a GPU, else "
                  "cpu), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_flag("--enforce-eager", args->enforce_eager,
                "CUDA: launch every kernel of every step instead of replaying CUDA graphs for decode steps");
  cmd->add_option("--block-size", args->block_size, "Tokens per KV-cache block")->capture_default_str();
  cmd->add_option("--api-key", args->api_key, "Require \"Authorization: Bearer <key>\" (or env VLLM_API_KEY)");
  cmd->add_option("--seed", args->seed, "Seed of dummy weights")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Model compute threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--http-threads", args->http_threads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("--max-queue", args->max_queue, "Waiting requests beyond which new ones get 503")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", args->max_body_bytes, "Largest request body (larger gets 413)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "Tokenizer folder or tokenizer.json [default: the model folder's, else GPT-2's vocabulary]");
  cmd->add_flag("--log-requests", args->log_requests, "One access-log line per request on stderr");
  cmd->callback([args]() {
    int rc = 0;
    try {
      rc = run_serve(*args);
    } catch (const std::exception& e) {
      fmt::print(stderr, "llmbench serve: {}\n", e.what());
      throw CliExit(2);
    }
    if (rc != 0) throw CliExit(rc);
  });
  return cmd;
}

}  // namespace llmbench::app

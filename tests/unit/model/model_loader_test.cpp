// Loading: configs, safetensors (single, sharded, bf16/fp16), dummy weights, and clear errors.
#include <gtest/gtest.h>

#include <cctype>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model_config.h"
#include "engine/model_runner.h"
#include "engine/safetensors_file.h"
#include "model_fixture.h"

namespace llmbench::engine {
namespace {

namespace fs = std::filesystem;
using test::fixture_dir;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A scratch copy of a fixture folder that a test may damage.
class TempModel {
 public:
  explicit TempModel(const std::string& fixture) {
    dir_ = fs::temp_directory_path() / ("llmbench_model_test_" + std::to_string(::getpid()) + "_" + fixture);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(fixture_dir(fixture))) fs::copy(e.path(), dir_ / e.path().filename());
  }
  ~TempModel() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }
  fs::path file(const std::string& name) const { return dir_ / name; }

 private:
  fs::path dir_;
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

std::unique_ptr<ModelRunner> load(const std::string& folder) {
  LoadOptions o;
  o.model = folder;
  o.num_threads = 1;
  return load_cpu_model(o);
}

TEST(ModelConfig, ParsesOptAndGpt2) {
  ModelSpec opt = load_model_config(fixture_dir("opt_tiny_postln_proj"));
  EXPECT_EQ(opt.config.architecture, Architecture::kOpt);
  EXPECT_EQ(opt.config.hidden_size, 64);
  EXPECT_EQ(opt.config.word_embed_proj_dim, 32);
  EXPECT_FALSE(opt.config.do_layer_norm_before);
  EXPECT_FALSE(opt.final_layer_norm);
  EXPECT_EQ(opt.position_offset, 2);
  EXPECT_EQ(opt.position_rows, 130);
  EXPECT_EQ(opt.config.eos_token_id, 2);
  ModelSpec gpt2 = load_model_config(fixture_dir("gpt2_tiny"));
  EXPECT_EQ(gpt2.config.architecture, Architecture::kGpt2);
  EXPECT_EQ(gpt2.config.ffn_dim, 256);  // n_inner null -> 4 * n_embd
  EXPECT_EQ(gpt2.config.head_dim, 16);
  EXPECT_EQ(gpt2.activation, Activation::kGeluTanh);
}

TEST(ModelConfig, UnknownArchitectureIsAClearError) {
  nlohmann::json j = {{"model_type", "llama"}, {"hidden_size", 64}};
  EXPECT_NE(error_of([&] { parse_model_config(j, "x/config.json"); }).find("unsupported model_type \"llama\""),
            std::string::npos);
  nlohmann::json missing = {{"model_type", "opt"}, {"hidden_size", 64}};
  EXPECT_NE(error_of([&] { parse_model_config(missing, "x/config.json"); }).find("vocab_size"), std::string::npos);
}

TEST(Loader, LoadsEveryFixture) {
  for (const char* name :
       {"opt_tiny", "opt_tiny_bf16_sharded", "opt_tiny_postln_proj", "gpt2_tiny", "gpt2_tiny_fp16"}) {
    auto runner = load(fixture_dir(name));
    EXPECT_EQ(runner->config().vocab_size, 512) << name;
    EXPECT_EQ(runner->config().num_layers, 2) << name;
    EXPECT_GT(runner->weight_bytes(), 100000u) << name;
  }
}

TEST(Loader, MissingFolderAndFiles) {
  EXPECT_NE(error_of([] { load("/nonexistent/model"); }).find("does not exist"), std::string::npos);
  TempModel m("opt_tiny");
  fs::remove(m.file("model.safetensors"));
  EXPECT_NE(error_of([&] { load(m.path()); }).find("no model.safetensors"), std::string::npos);
  fs::remove(m.file("config.json"));
  EXPECT_NE(error_of([&] { load(m.path()); }).find("config.json"), std::string::npos);
}

TEST(Loader, BadHeaderJson) {
  TempModel m("opt_tiny");
  std::string bytes = read(m.file("model.safetensors"));
  bytes[8] = '[';
  bytes[9] = '!';
  write(m.file("model.safetensors"), bytes);
  EXPECT_NE(error_of([&] { load(m.path()); }).find("not a valid JSON"), std::string::npos);
  write(m.file("model.safetensors"), std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10));
  EXPECT_NE(error_of([&] { load(m.path()); }).find("exceeds the file size"), std::string::npos);
}

TEST(Loader, TruncatedData) {
  TempModel m("opt_tiny");
  std::string bytes = read(m.file("model.safetensors"));
  write(m.file("model.safetensors"), bytes.substr(0, bytes.size() - 1000));
  std::string err = error_of([&] { load(m.path()); });
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST(Loader, WrongShapeNamesTheTensor) {
  TempModel m("opt_tiny");
  std::string bytes = read(m.file("model.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  // Same byte count, transposed shape: only the shape check can catch it.
  header["model.decoder.layers.1.fc1.weight"]["shape"] = {64, 256};
  std::string h = header.dump();
  h.resize(n, ' ');
  write(m.file("model.safetensors"), bytes.substr(0, 8) + h + bytes.substr(8 + n));
  std::string err = error_of([&] { load(m.path()); });
  EXPECT_NE(err.find("model.decoder.layers.1.fc1.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("expected [256, 64]"), std::string::npos) << err;
}

TEST(Loader, MissingTensorIsNamed) {
  TempModel m("opt_tiny_bf16_sharded");
  fs::remove(m.file("model-00003-of-00003.safetensors"));
  EXPECT_NE(error_of([&] { load(m.path()); }).find("model-00003-of-00003.safetensors"), std::string::npos);
}

TEST(Loader, UnknownLoadFormatAndDummyName) {
  LoadOptions o;
  o.model = fixture_dir("opt_tiny");
  o.load_format = "pt";
  EXPECT_NE(error_of([&] { load_cpu_model(o); }).find("unknown load_format"), std::string::npos);
  o.load_format = "dummy";
  o.model = "llama-7b";
  EXPECT_NE(error_of([&] { load_cpu_model(o); }).find("unknown model \"llama-7b\""), std::string::npos);
}

TEST(Loader, DeviceChoosesTheBackend) {
  LoadOptions o;
  o.model = fixture_dir("opt_tiny");
  o.device = "cpu";
  auto cpu = load_model(o);
  EXPECT_EQ(cpu->config().vocab_size, 512);
  o.device = "tpu";
  EXPECT_NE(error_of([&] { load_model(o); }).find("device \"tpu\" is not one of auto, cpu, cuda"), std::string::npos);
  o.device = "cuda";
  if (default_device() == "cpu") {
    // No CUDA backend in this build, or no GPU: a clear refusal, not a fallback to the CPU.
    EXPECT_NE(error_of([&] { load_model(o); }).find("device cuda: "), std::string::npos);
  } else {
    EXPECT_EQ(load_model(o)->config().vocab_size, 512);
  }
  o.device = "auto";
  EXPECT_EQ(load_model(o)->config().vocab_size, 512);
}

TEST(Safetensors, Fp16AndBf16Conversion) {
  EXPECT_EQ(fp16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_float(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.5f)), 1.5f);
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // ties to even
}

struct DummyCase {
  const char* name;
  DType dtype;
  int vocab, hidden, layers;
  double params_millions;
};

class DummyTest : public ::testing::TestWithParam<DummyCase> {};

TEST_P(DummyTest, RealShapesAndWeightBytes) {
  const DummyCase c = GetParam();
  LoadOptions o;
  o.model = c.name;
  o.load_format = "dummy";
  o.dtype = c.dtype;
  o.seed = 7;
  auto runner = load_cpu_model(o);
  EXPECT_EQ(runner->config().vocab_size, c.vocab);
  EXPECT_EQ(runner->config().hidden_size, c.hidden);
  EXPECT_EQ(runner->config().num_layers, c.layers);
  const double bytes_per_param = c.dtype == DType::kFloat32 ? 4.0 : 2.0;
  const double params = static_cast<double>(runner->weight_bytes()) / bytes_per_param / 1e6;
  // Small tensors (biases, LayerNorms, positions) stay fp32, so bf16 counts a little more.
  EXPECT_NEAR(params, c.params_millions, c.params_millions * 0.03) << params;
  runner->allocate_kv_cache(4, 16);
  std::vector<int32_t> tokens = {2, 100, 2000, 30000};
  std::vector<int32_t> table = {3};
  SequenceSlice s{tokens, 0, table, true};
  std::vector<float> logits(c.vocab);
  runner->forward({&s, 1}, logits.data());
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(Dummy, DummyTest,
                         ::testing::Values(DummyCase{"facebook/opt-125m", DType::kFloat32, 50272, 768, 12, 125.2},
                                           DummyCase{"gpt2", DType::kBFloat16, 50257, 768, 12, 124.4}),
                         // Stable test names (ctest discovers them at build time and runs them by name).
                         [](const ::testing::TestParamInfo<DummyCase>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name + (info.param.dtype == DType::kFloat32 ? "_fp32" : "_bf16");
                         });

}  // namespace
}  // namespace llmbench::engine

// `--api-key` end to end with the real binaries: `llmbench serve --api-key K` refuses every route
// but /health without the key (401) and `llmbench load` with it succeeds; and no key (the server's,
// a wrong one, $OPENAI_API_KEY, a credential --header) ever shows in the server's logs,
// llmbench's terminal output, its result JSON or its per-request JSONL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "test_http_client.h"

namespace llmbench::server {
namespace {

namespace fs = std::filesystem;
using testing::http_call;

const std::string kBinary = std::string(LLMBENCH_BINARY_DIR) + "/src/app/llmbench";
// Distinctive values: any of them found in any output is a leak.
const std::string kServerKey = "sk-llmbench-SERVERKEY-7f3a9c";
const std::string kWrongKey = "sk-llmbench-WRONGKEY-51d2e8";
const std::string kEnvKey = "sk-llmbench-ENVKEY-0b6c44";
const std::string kHeaderKey = "hdr-llmbench-HEADERKEY-93ee1f";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout and stderr in files.
struct Child {
  pid_t pid = -1;
  fs::path out, err;
};

Child spawn(const std::vector<std::string>& args, const fs::path& dir, const std::string& tag,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  Child c;
  c.out = dir / (tag + ".stdout");
  c.err = dir / (tag + ".stderr");
  c.pid = fork();
  if (c.pid == 0) {
    const int out = ::open(c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kBinary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(kBinary.c_str(), argv.data());
    _exit(127);
  }
  return c;
}

int wait_exit(const Child& c) {
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class ApiKeyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmbench_api_key_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // GPT-2's shape and vocabulary (any prompt is in vocabulary), random weights: quick to start.
    server_ = spawn(
        {"serve", "--model", "gpt2", "--load-format", "dummy", "--dtype", "bfloat16", "--max-model-len", "256",
         "--served-model-name", "tiny", "--port", "0", "--threads", "1", "--api-key", kServerKey, "--log-requests"},
        dir_, "serve");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    const std::regex listening(R"(listening on http://127\.0\.0\.1:([0-9]+))");
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string out = slurp(server_.out);
      if (std::regex_search(out, m, listening)) {
        port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
        break;
      }
      if (::waitpid(server_.pid, nullptr, WNOHANG) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(port_, 0) << slurp(server_.out) << slurp(server_.err);
    url_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override {
    if (server_.pid > 0) {
      ::kill(server_.pid, SIGTERM);
      wait_exit(server_);
    }
    fs::remove_all(dir_);
  }
  // Every file under dir_ (the server's logs, llmbench's outputs and results): none holds a key.
  void expect_no_key_anywhere() {
    size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file()) continue;
      ++files;
      const std::string text = slurp(e.path());
      for (const auto& key : {kServerKey, kWrongKey, kEnvKey, kHeaderKey}) {
        EXPECT_EQ(text.find(key), std::string::npos) << key << " leaked into " << e.path() << ":\n" << text;
      }
      // Nor a recognizable part of one.
      EXPECT_EQ(text.find("SERVERKEY"), std::string::npos) << e.path();
      EXPECT_EQ(text.find("WRONGKEY"), std::string::npos) << e.path();
      EXPECT_EQ(text.find("ENVKEY"), std::string::npos) << e.path();
      EXPECT_EQ(text.find("HEADERKEY"), std::string::npos) << e.path();
    }
    EXPECT_GE(files, 2u);
  }
  std::vector<std::string> load_args(const std::string& tag) {
    return {"load",
            "--base-url",
            url_,
            "--concurrency",
            "2",
            "--num-prompts",
            "4",
            "--random-input-len",
            "8",
            "--max-tokens",
            "4",
            "--save-result",
            "--result-dir",
            dir_.string(),
            "--result-filename",
            tag + ".json",
            "--save-requests",
            (dir_ / (tag + ".jsonl")).string(),
            "--no-progress",
            "--metrics-interval",
            "0.2"};
  }

  fs::path dir_;
  Child server_;
  uint16_t port_ = 0;
  std::string url_;
};

TEST_F(ApiKeyCli, EveryRouteButHealthNeedsTheKeyAndNoKeyIsEverPrintedOrSaved) {
  // The routes, without a key, with a wrong one, with the right one.
  const std::string good = "Authorization: Bearer " + kServerKey + "\r\n";
  const std::string wrong = "Authorization: Bearer " + kWrongKey + "\r\n";
  EXPECT_EQ(http_call(port_, "GET", "/health").status, 200);
  EXPECT_EQ(http_call(port_, "GET", "/health", {}, wrong).status, 200);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/models"},
      {"GET", "/version"},
      {"GET", "/metrics"},
      {"POST", "/v1/completions"},
      {"POST", "/v1/chat/completions"},
      {"POST", "/generate"},
      {"POST", "/generate_stream"},
      {"POST", "/tokenize"},
      {"POST", "/detokenize"},
  };
  const std::map<std::string, std::string> bodies = {
      {"/v1/completions", R"({"prompt":"a","max_tokens":1})"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"a"}],"max_tokens":1})"},
      {"/generate", R"({"inputs":"a","parameters":{"max_new_tokens":1}})"},
      {"/generate_stream", R"({"inputs":"a","parameters":{"max_new_tokens":1}})"},
      {"/tokenize", R"({"prompt":"a"})"},
      {"/detokenize", R"({"tokens":[64]})"},
  };
  for (const auto& [method, path] : routes) {
    const std::string body = bodies.count(path) ? bodies.at(path) : std::string();
    const auto none = http_call(port_, method, path, body);
    const auto bad = http_call(port_, method, path, body, wrong);
    const auto bare = http_call(port_, method, path, body, "Authorization: " + kServerKey + "\r\n");
    const auto ok = http_call(port_, method, path, body, good);
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(bad.status, 401) << path;
    EXPECT_EQ(bare.status, 401) << path << " (no \"Bearer \")";
    EXPECT_EQ(ok.status, 200) << path << ": " << ok.body;
    EXPECT_EQ(bad.body.find(kWrongKey), std::string::npos) << path;
  }

  // llmbench with the key as a flag, $OPENAI_API_KEY set as well, a credential header, and the key
  // inside --metadata: every request succeeds, and scrapes of the keyed /metrics work too.
  auto args = load_args("good");
  for (const std::string& a : {std::string("--api-key"), kServerKey, std::string("--header"),
                               "X-Api-Key: " + kHeaderKey, std::string("--metadata"), "note=" + kServerKey}) {
    args.push_back(a);
  }
  auto run = spawn(args, dir_, "load_good", {{"OPENAI_API_KEY", kEnvKey}});
  ASSERT_EQ(wait_exit(run), 0) << slurp(run.err) << slurp(run.out);
  const auto result = nlohmann::json::parse(slurp(dir_ / "good.json"));
  EXPECT_EQ(result["completed"], 4);
  EXPECT_NE(result.dump().find("command_line"), std::string::npos);
  const auto& server_metrics = result["llmbench"]["telemetry"]["server"];
  EXPECT_TRUE(server_metrics.is_object()) << result["llmbench"]["telemetry"].dump(1);
  EXPECT_NE(server_metrics.dump().find("kv_cache_usage"), std::string::npos) << server_metrics.dump(1);

  // The key from $OPENAI_API_KEY alone, and as an Authorization header (curl's form).
  auto from_env = spawn(load_args("env"), dir_, "load_env", {{"OPENAI_API_KEY", kServerKey}});
  ASSERT_EQ(wait_exit(from_env), 0) << slurp(from_env.err);
  auto header_args = load_args("header");
  header_args.push_back("--header");
  header_args.push_back("Authorization: Bearer " + kServerKey);
  auto from_header = spawn(header_args, dir_, "load_header");
  ASSERT_EQ(wait_exit(from_header), 0) << slurp(from_header.err);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "header.json"))["completed"], 4);

  // A wrong key: every request fails with 401, counted; still nothing leaks.
  auto bad_args = load_args("wrong");
  bad_args.push_back("--api-key=" + kWrongKey);
  auto bad = spawn(bad_args, dir_, "load_wrong");
  EXPECT_EQ(wait_exit(bad), 1) << slurp(bad.err);
  EXPECT_NE(slurp(bad.out).find("http_401"), std::string::npos) << slurp(bad.out);

  // Dry run and a usage error.
  auto dry_args = load_args("dry");
  dry_args.push_back("--dry-run");
  dry_args.push_back("--api-key");
  dry_args.push_back(kServerKey);
  auto dry = spawn(dry_args, dir_, "load_dry", {{"OPENAI_API_KEY", kEnvKey}});
  EXPECT_EQ(wait_exit(dry), 0) << slurp(dry.err);
  auto usage =
      spawn({"load", "--base-url", url_, "--api-key", kServerKey, "--header", kHeaderKey, "--concurrency", "x"}, dir_,
            "load_usage");
  EXPECT_EQ(wait_exit(usage), 2);
  EXPECT_FALSE(slurp(usage.err).empty());

  // The server's access log saw all of it.
  ::kill(server_.pid, SIGTERM);
  EXPECT_EQ(wait_exit(server_), 0);
  server_.pid = -1;
  EXPECT_NE(slurp(server_.err).find("\"POST /v1/completions HTTP/1.1\" 401"), std::string::npos) << slurp(server_.err);
  expect_no_key_anywhere();
}

}  // namespace
}  // namespace llmbench::server

// --tokenize-via-server end to end over real loopback HTTP: `llmbench serve` (the tiny OPT fixture
// with a tokenizer unlike GPT-2's: the gpt2-style fixture cut to the model's 512 ids, and OPT's
// BOS added to every text prompt) and `llmbench load` generating prompts with GPT-2's built-in
// vocabulary. Realigned through the server's /tokenize, every prompt must be counted by the server
// (usage.prompt_tokens of the completion itself) as exactly the requested length; without
// realignment the same lengths are counted differently, so the test would fail if it were skipped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "llmbench_cli.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kSource = LLMBENCH_SOURCE_DIR;
const std::string kBinary = std::string(LLMBENCH_BINARY_DIR) + "/src/app/llmbench";

using testing::slurp;
using Result = testing::CliResult;

// The gpt2-style fixture tokenizer restricted to ids < 512 (merge i makes id 257 + i), so that
// every id it produces is inside the tiny model's vocabulary.
void write_small_tokenizer(const fs::path& path) {
  json t = json::parse(slurp(kSource + "/tests/fixtures/tokenizer/gpt2_style_tokenizer.json"));
  json vocab = json::object();
  for (auto& [token, id] : t["model"]["vocab"].items()) {
    if (id.get<int>() < 512) vocab[token] = id;
  }
  json merges = json::array();
  for (size_t i = 0; i < 255 && i < t["model"]["merges"].size(); ++i) merges.push_back(t["model"]["merges"][i]);
  t["model"]["vocab"] = vocab;
  t["model"]["merges"] = merges;
  std::ofstream(path) << t.dump();
}

class TokenizeViaServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("llmbench_tokserve_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_small_tokenizer(dir_ / "tokenizer.json");
    int pipe_fd[2];
    ASSERT_EQ(::pipe(pipe_fd), 0);
    server_pid_ = fork();
    if (server_pid_ == 0) {
      ::dup2(pipe_fd[1], 1);
      ::close(pipe_fd[0]);
      const int err = ::open((dir_ / "serve.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      const std::string model = kSource + "/tests/fixtures/models/opt_tiny";
      const std::string tok = (dir_ / "tokenizer.json").string();
      execl(kBinary.c_str(), kBinary.c_str(), "serve", "--host", "127.0.0.1", "--port", "0", "--model", model.c_str(),
            "--tokenizer", tok.c_str(), "--served-model-name", "tiny", "--threads", "1", "--http-threads", "2",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(pipe_fd[1]);
    // Wait (bounded) for "listening on http://127.0.0.1:PORT".
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    ::fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
    while (std::chrono::steady_clock::now() < deadline && seen.find('\n') == std::string::npos) {
      char buf[512];
      const ssize_t n = ::read(pipe_fd[0], buf, sizeof buf);
      if (n > 0) {
        seen.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else {
        usleep(20'000);
      }
    }
    out_fd_ = pipe_fd[0];
    const auto at = seen.find("listening on ");
    ASSERT_NE(at, std::string::npos) << seen << slurp(dir_ / "serve.log");
    const auto end = seen.find(' ', at + 13);
    base_url_ = seen.substr(at + 13, end - (at + 13));
  }

  static void TearDownTestSuite() {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGTERM);
      int status = 0;
      ::waitpid(server_pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    fs::remove_all(dir_);
  }

  static Result run(const std::vector<std::string>& args) { return testing::run_llmbench(args, dir_); }

  // `llmbench load` against the server; returns the saved result document.
  static json load(std::vector<std::string> extra, const std::string& name, Result* result = nullptr) {
    std::vector<std::string> args = {"load",
                                     "--base-url",
                                     base_url_,
                                     "--model",
                                     "tiny",
                                     "--no-progress",
                                     "--no-server-metrics",
                                     "--concurrency",
                                     "4",
                                     "--random-output-len",
                                     "2",
                                     "--ignore-eos",
                                     "--save-result",
                                     "--save-detailed",
                                     "--result-dir",
                                     dir_.string(),
                                     "--result-filename",
                                     name};
    args.insert(args.end(), extra.begin(), extra.end());
    Result r = run(args);
    if (result) *result = r;
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    if (r.exit_code != 0) return json();
    return json::parse(slurp(dir_ / name));
  }

  static inline fs::path dir_;
  static inline pid_t server_pid_ = -1;
  static inline int out_fd_ = -1;
  static inline std::string base_url_;
};

TEST_F(TokenizeViaServer, EveryPromptHasTheRequestedLengthAsTheServerCountsIt) {
  for (int len : {1, 7, 33, 64, 97}) {
    SCOPED_TRACE("--random-input-len " + std::to_string(len));
    Result r;
    const json doc = load({"--tokenize-via-server", "--random-input-len", std::to_string(len), "--num-prompts", "5"},
                          "len" + std::to_string(len) + ".json", &r);
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc["completed"], 5);
    ASSERT_EQ(doc["input_lens"].size(), 5u);
    for (const auto& n : doc["input_lens"]) EXPECT_EQ(n.get<int>(), len);  // the server's usage.prompt_tokens
    const auto& w = doc["llmbench"]["workload"];
    EXPECT_EQ(w["input_len_counted_by"], "server");
    EXPECT_EQ(w["prompt_kind"], "text");  // implied by the flag
    EXPECT_EQ(w["exact_input_len_fraction"], 1.0);
    EXPECT_EQ(w["achieved_input_len_min"], len);  // the /tokenize counts
    EXPECT_EQ(w["achieved_input_len_max"], len);
    const auto& t = w["tokenize_via_server"];
    EXPECT_EQ(t["format"], "vllm");
    EXPECT_EQ(t["exact"], 5);
    EXPECT_EQ(t["inexact"], 0);
    EXPECT_NE(r.out.find("counted by the server"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Server token counts: 5/5 prompts exact"), std::string::npos) << r.out;
  }
}

TEST_F(TokenizeViaServer, WithoutRealignmentTheServerCountsOtherLengths) {
  // The control: the same kind of prompts, exact for GPT-2 only. If realignment were skipped, the
  // test above would see these lengths.
  const json doc = load({"--prompt-type", "text", "--random-input-len", "7", "--num-prompts", "4"}, "control.json");
  ASSERT_TRUE(doc.is_object());
  for (const auto& n : doc["input_lens"]) EXPECT_NE(n.get<int>(), 7);
  EXPECT_EQ(doc["llmbench"]["workload"]["input_len_counted_by"], "local tokenizer");
  EXPECT_EQ(doc["llmbench"]["workload"]["exact_input_len_fraction"], 1.0);  // for GPT-2, yes
}

TEST_F(TokenizeViaServer, RangeOfLengthsWithASharedPrefix) {
  const json doc = load({"--tokenize-via-server", "--random-input-len", "41", "--random-range-ratio", "0.5",
                         "--random-prefix-len", "9", "--num-prompts", "8", "--seed", "3"},
                        "range.json");
  ASSERT_TRUE(doc.is_object());
  const auto& w = doc["llmbench"]["workload"];
  EXPECT_EQ(w["exact_input_len_fraction"], 1.0);
  EXPECT_EQ(w["tokenize_via_server"]["prefixes"], 1);
  EXPECT_EQ(w["tokenize_via_server"]["prefixes_inexact"], 0);
  // The server's own counts of the completions add up to the requested lengths.
  const auto lens = doc["input_lens"].get<std::vector<int>>();
  ASSERT_EQ(lens.size(), 8u);
  EXPECT_EQ(std::accumulate(lens.begin(), lens.end(), 0),
            static_cast<int>(std::lround(w["requested_input_len_mean"].get<double>() * 8)));
  EXPECT_EQ(*std::min_element(lens.begin(), lens.end()), w["requested_input_len_min"].get<int>());
  EXPECT_EQ(*std::max_element(lens.begin(), lens.end()), w["requested_input_len_max"].get<int>());
  EXPECT_LT(w["requested_input_len_min"].get<int>(), w["requested_input_len_max"].get<int>());
}

TEST_F(TokenizeViaServer, ChatPromptsCountTheChatTemplate) {
  const json doc =
      load({"--backend", "openai-chat", "--tokenize-via-server", "--random-input-len", "37", "--num-prompts", "3"},
           "chat.json");
  ASSERT_TRUE(doc.is_object());
  for (const auto& n : doc["input_lens"]) EXPECT_EQ(n.get<int>(), 37);
  EXPECT_EQ(doc["llmbench"]["workload"]["tokenize_via_server"]["chat"], true);
}

TEST_F(TokenizeViaServer, DryRunSaysItSkipsTheServer) {
  const Result r = run({"load", "--base-url", base_url_, "--tokenize-via-server", "--random-input-len", "16",
                        "--num-prompts", "2", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--tokenize-via-server skipped in a dry run"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Realigning"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace llmbench

// `llmbench serve` (HTTP server + the real reference engine with the tiny GPT-2 fixture) under
// hostile clients: malformed HTTP, oversized heads and bodies, slow senders, a thousand connections
// at once, clients that vanish mid-stream, and more work than the KV cache holds. After every
// scenario the server still answers /health, a well-formed request still gets Hugging Face's
// greedy tokens, and its /metrics shows the KV cache back at 0 with no request running or waiting.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "engine/engine.h"
#include "server/http_server.h"
#include "test_http_client.h"
#include "tokenizer/tokenizer.h"

namespace llmbench::server {
namespace {

using testing::http_call;
using testing::make_request;
using testing::sse_data;
using testing::TestConnection;
using json = nlohmann::json;

const std::string kModelDir = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/models/gpt2_tiny";

// "name{labels}" -> value, from a Prometheus text page.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

class HostileClients : public ::testing::Test {
 protected:
  void start(engine::EngineOptions eo = {}) {
    std::ifstream in(kModelDir + "/expected.json");
    expected_ = json::parse(in);
    eo.load.model = kModelDir;
    eo.load.load_format = "auto";
    eo.load.num_threads = 1;
    engine_ = std::shared_ptr<engine::Engine>(engine::Engine::create(eo, tokenizer::Tokenizer::gpt2()));
    ServerOptions so;
    so.port = 0;
    so.served_model_name = "tiny";
    so.threads = 2;
    so.max_body_bytes = 64u << 10;
    so.request_read_timeout_ms = 500;
    server_ = std::make_unique<HttpServer>(so, engine_);
    server_->start();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    engine_.reset();
  }

  // The body of a greedy completion of fixture prompt `i` (its HF tokens are expected["greedy"][i]).
  json greedy_body(size_t i) const {
    return {{"prompt", expected_["prompts"][i]},
            {"max_tokens", expected_["greedy_new_tokens"]},
            {"temperature", 0},
            {"ignore_eos", true},
            {"return_token_ids", true}};
  }

  std::map<std::string, double> metrics() {
    const auto r = http_call(port_, "GET", "/metrics", {}, {}, 5000);
    EXPECT_EQ(r.status, 200);
    return parse_metrics(r.body);
  }

  // What must hold after every scenario.
  void expect_serving_and_idle(const std::string& scenario) {
    SCOPED_TRACE(scenario);
    EXPECT_EQ(http_call(port_, "GET", "/health", {}, {}, 5000).status, 200);
    const auto r = http_call(port_, "POST", "/v1/completions", greedy_body(2).dump(), {}, 20000);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["choices"][0]["token_ids"], expected_["greedy"][2]);
    // The engine may still be finishing an abort: give it a few seconds to settle.
    const std::string l = "{model_name=\"tiny\"}";
    std::map<std::string, double> m;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      m = metrics();
      if (m["vllm:kv_cache_usage_perc" + l] == 0 && m["vllm:num_requests_running" + l] == 0 &&
          m["vllm:num_requests_waiting" + l] == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    ASSERT_TRUE(m.count("vllm:kv_cache_usage_perc" + l)) << "no KV-cache gauge in /metrics";
    EXPECT_EQ(m["vllm:kv_cache_usage_perc" + l], 0.0);
    EXPECT_EQ(m["vllm:num_requests_running" + l], 0.0);
    EXPECT_EQ(m["vllm:num_requests_waiting" + l], 0.0);
  }

  json expected_;
  std::shared_ptr<engine::Engine> engine_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(HostileClients, MalformedHttp) {
  start();
  const std::vector<std::string> garbage = {
      std::string("\x00\x01\x02\xff\xfe binary\r\n\r\n", 17),
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{\"prompt\"",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n{\"prompt\":[-1]",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "30\r\n\r\n{\"prompt\":\"\xff\xfe\",\"max_tokens\":1}",
  };
  for (const auto& bytes : garbage) {
    TestConnection c(port_);
    ASSERT_TRUE(c.send(bytes));
    auto r = c.read_response(5000);
    if (r) {
      EXPECT_GE(r->status, 400) << bytes;
      EXPECT_LT(r->status, 500) << bytes;
    } else {
      EXPECT_TRUE(c.wait_closed(5000)) << "neither an answer nor a close for: " << bytes;
    }
  }
  // Half a request, then the client goes away.
  for (int i = 0; i < 20; ++i) {
    TestConnection c(port_);
    c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"prompt\":");
    if (i % 2) c.reset();
  }
  expect_serving_and_idle("malformed HTTP");
}

TEST_F(HostileClients, OversizedHeadsAndBodies) {
  start();
  TestConnection head(port_);
  ASSERT_TRUE(head.send("GET /health HTTP/1.1\r\nX-Big: " + std::string(64 << 10, 'a') + "\r\n\r\n"));
  auto h = head.read_response();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 431);
  const std::string big = R"({"prompt":")" + std::string(100 << 10, 'a') + R"("})";
  const auto r = http_call(port_, "POST", "/v1/completions", big);
  EXPECT_EQ(r.status, 413) << r.body;
  // Announced larger than allowed: refused before the body is sent.
  TestConnection announced(port_);
  ASSERT_TRUE(announced.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{"));
  auto a = announced.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 413);
  // Chunked, growing past the limit.
  TestConnection chunked(port_);
  std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 80; ++i) req += fmt::format("{:x}\r\n{}\r\n", 1024, std::string(1024, 'b'));
  chunked.send(req);
  auto c = chunked.read_response();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 413);
  // A prompt longer than the model's context: a 400, not a crash.
  json too_long = {{"prompt", std::vector<int>(200, 11)}, {"max_tokens", 4}};
  EXPECT_EQ(http_call(port_, "POST", "/v1/completions", too_long.dump()).status, 400);
  expect_serving_and_idle("oversized");
}

TEST_F(HostileClients, SlowSendersAreCut) {
  start();
  // Head trickling in, body stalled half-way, and one byte at a time: each cut by the 500 ms
  // request-read timeout while well-formed requests keep being served.
  TestConnection slow_head(port_);
  ASSERT_TRUE(slow_head.send("GET /health HTTP/1.1\r\nHo"));
  TestConnection slow_body(port_);
  ASSERT_TRUE(slow_body.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro"));
  // One byte every 100 ms, on a thread that owns the connection: the server must cut it long
  // before the request is complete (it would take ~40 s), which shows as a failed send.
  std::atomic<bool> trickle_cut{false}, give_up{false};
  std::thread trickler([&] {
    TestConnection trickle(port_);
    const std::string req = make_request("POST", "/v1/completions", greedy_body(0).dump());
    for (char ch : req) {
      if (give_up) return;
      if (!trickle.send(std::string_view(&ch, 1))) {
        trickle_cut = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  EXPECT_EQ(http_call(port_, "GET", "/health", {}, {}, 2000).status, 200);
  EXPECT_TRUE(slow_head.wait_closed(5000));
  EXPECT_TRUE(slow_body.wait_closed(5000));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!trickle_cut && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  give_up = true;
  trickler.join();
  EXPECT_TRUE(trickle_cut) << "a client sending one byte every 100 ms was not cut";
  expect_serving_and_idle("slow senders");
}

TEST_F(HostileClients, AThousandConnectionsAtOnce) {
  start();
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  setrlimit(RLIMIT_NOFILE, &fds);
  getrlimit(RLIMIT_NOFILE, &fds);
  const int n = static_cast<int>(std::min<rlim_t>(1000, (fds.rlim_cur - 200) / 2));
  ASSERT_GE(n, 500) << "RLIMIT_NOFILE too low for this test";
  std::vector<std::unique_ptr<TestConnection>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<TestConnection>(port_));
    ASSERT_TRUE(conns.back()->ok()) << i;
  }
  // A third ask for /health, a third for a short completion, a third send half a request and wait.
  for (int i = 0; i < n; ++i) {
    auto& c = *conns[static_cast<size_t>(i)];
    if (i % 3 == 0) c.send(make_request("GET", "/health"));
    if (i % 3 == 1) c.send(make_request("POST", "/v1/completions", R"({"prompt":[1,2,3],"max_tokens":2})"));
    if (i % 3 == 2) c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\n");
  }
  EXPECT_EQ(http_call(port_, "GET", "/health", {}, {}, 10000).status, 200);  // still responsive
  int answered = 0, expected = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 2) continue;
    ++expected;
    auto r = conns[static_cast<size_t>(i)]->read_response(30000);
    if (r && r->status == 200) ++answered;
  }
  EXPECT_EQ(answered, expected);
  conns.clear();
  expect_serving_and_idle("1000 connections");
}

TEST_F(HostileClients, ClientsVanishingMidStream) {
  start();
  json body = greedy_body(3);
  body["max_tokens"] = 60;
  body["stream"] = true;
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&, i] {
      TestConnection c(port_);
      c.send(make_request("POST", "/v1/completions", body.dump()));
      if (i % 3 == 0) {  // gone before the answer
        c.reset();
        return;
      }
      auto head = c.read_head();
      if (head && i % 3 == 1) c.read_chunk();  // after the first token
      c.reset();
    });
  }
  // Non-streaming requests whose clients hang up while waiting.
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      TestConnection c(port_);
      json b = greedy_body(1);
      b["max_tokens"] = 60;
      c.send(make_request("POST", "/v1/completions", b.dump()));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      c.close();
    });
  }
  for (auto& t : clients) t.join();
  expect_serving_and_idle("vanishing clients");
}

TEST_F(HostileClients, MoreThanTheKvCacheHoldsIsPreemptedAndEveryRequestCompletes) {
  // 32 blocks of 4 tokens: one 64-token prompt with its 24 new tokens takes 22 of them.
  engine::EngineOptions eo;
  eo.max_num_seqs = 16;
  eo.max_num_batched_tokens = 64;
  eo.block_size = 4;
  eo.num_kv_blocks = 32;
  start(eo);
  const size_t prompts = expected_["prompts"].size();
  // Every fixture prompt three times in one batch request (all reach the engine at once), and the
  // same again from concurrent streaming clients.
  json batch = greedy_body(0);
  json all = json::array();
  for (int copy = 0; copy < 3; ++copy) {
    for (size_t i = 0; i < prompts; ++i) all.push_back(expected_["prompts"][i]);
  }
  batch["prompt"] = all;
  std::vector<std::string> want;  // the streamed text: HF's greedy tokens, decoded
  for (size_t i = 0; i < prompts; ++i) {
    want.push_back(engine_->tokenizer()->decode(expected_["greedy"][i].get<std::vector<int32_t>>()));
  }
  std::atomic<int> streams_ok{0};
  std::vector<std::thread> streams;
  for (int copy = 0; copy < 2; ++copy) {
    for (size_t i = 0; i < prompts; ++i) {
      streams.emplace_back([&, i] {
        json b = greedy_body(i);
        b["stream"] = true;
        const auto r = http_call(port_, "POST", "/v1/completions", b.dump(), {}, 60000);
        std::string text;
        for (const auto& e : sse_data(r.body)) {
          if (e == "[DONE]") break;
          text += json::parse(e)["choices"][0]["text"].get<std::string>();
        }
        if (r.status == 200 && text == want[i]) streams_ok.fetch_add(1);
      });
    }
  }
  const auto r = http_call(port_, "POST", "/v1/completions", batch.dump(), {}, 60000);
  for (auto& t : streams) t.join();
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = json::parse(r.body);
  ASSERT_EQ(j["choices"].size(), 3 * prompts);
  for (const auto& choice : j["choices"]) {
    const size_t index = choice["index"];
    EXPECT_EQ(choice["token_ids"], expected_["greedy"][index % prompts]) << "choice " << index;
    EXPECT_EQ(choice["finish_reason"], "length");
  }
  EXPECT_EQ(streams_ok.load(), static_cast<int>(2 * prompts));
  const auto m = metrics();
  EXPECT_GT(m.at("vllm:num_preemptions_total{model_name=\"tiny\"}"), 0) << "the KV cache was never full";
  expect_serving_and_idle("preemption");
}

}  // namespace
}  // namespace llmbench::server

// `llmbench serve`'s HTTP server over real loopback sockets, in front of a fake engine: formats
// checked byte for byte against vLLM's / TGI's shapes, errors, limits, auth, disconnects, metrics.
#include "server/http_server.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "fake_engine.h"
#include "test_http_client.h"

namespace llmbench::server {
namespace {

using testing::FakeEngine;
using testing::FakeEngineOptions;
using testing::http_call;
using testing::make_request;
using testing::RawResponse;
using testing::sse_data;
using testing::TestConnection;
using json = nlohmann::ordered_json;

class ServerTest : public ::testing::Test {
 protected:
  void start(FakeEngineOptions engine_options = {}, ServerOptions options = {}) {
    engine_ = std::make_shared<FakeEngine>(engine_options);
    options.port = 0;
    if (options.served_model_name.empty()) options.served_model_name = "test-model";
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(options, engine_);
    server_->start();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    engine_.reset();
  }
  RawResponse post(std::string_view target, std::string_view body, std::string_view headers = {}) {
    return http_call(port_, "POST", target, body, headers);
  }
  static void expect_error(const RawResponse& r, int status, std::string_view type,
                           std::string_view message_part = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    ASSERT_TRUE(j.contains("error")) << r.body;
    const auto& e = j["error"];
    std::vector<std::string> keys;
    for (auto it = e.begin(); it != e.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"message", "type", "param", "code"}));
    EXPECT_EQ(e["code"], status);
    EXPECT_EQ(e["type"], type);
    if (!message_part.empty()) {
      EXPECT_NE(e["message"].get<std::string>().find(message_part), std::string::npos) << r.body;
    }
  }

  std::shared_ptr<FakeEngine> engine_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, HealthVersionModels) {
  start();
  auto health = http_call(port_, "GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "");
  auto version = http_call(port_, "GET", "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_TRUE(json::parse(version.body)["version"].is_string());
  auto models = http_call(port_, "GET", "/v1/models");
  ASSERT_EQ(models.status, 200);
  auto j = json::parse(models.body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "test-model");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["max_model_len"], 256);
}

TEST_F(ServerTest, CompletionNonStreaming) {
  start();
  auto r = post("/v1/completions", R"({"model":"test-model","prompt":"abc","max_tokens":5,"temperature":0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto j = json::parse(r.body);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_TRUE(std::regex_match(j["id"].get<std::string>(), std::regex("cmpl-[0-9a-f]{32}")));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "test-model");
  EXPECT_NEAR(j["created"].get<double>(), static_cast<double>(std::time(nullptr)), 60);
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["text"], "hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["stop_reason"].is_null());
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["total_tokens"], 8);
  // What reached the engine.
  auto submitted = engine_->submitted();
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0], (std::vector<int32_t>{'a', 'b', 'c'}));
  EXPECT_EQ(engine_->submitted_params()[0].max_tokens, 5);
  EXPECT_EQ(engine_->submitted_params()[0].temperature, 0.0f);
}

TEST_F(ServerTest, CompletionStreamingBytesMatchVllm) {
  start();
  auto r = post("/v1/completions",
                R"({"prompt":[1,2,3],"max_tokens":3,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream; charset=utf-8");
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  auto events = sse_data(r.body);
  ASSERT_EQ(events.size(), 5u) << r.body;
  auto first = json::parse(events[0]);
  std::string id = first["id"];
  int64_t created = first["created"];
  EXPECT_TRUE(std::regex_match(id, std::regex("cmpl-[0-9a-f]{32}")));
  auto chunk = [&](std::string_view text, std::string_view finish) {
    return R"({"id":")" + id + R"(","object":"text_completion","created":)" + std::to_string(created) +
           R"(,"model":"test-model","choices":[{"index":0,"text":")" + std::string(text) +
           R"(","logprobs":null,"finish_reason":)" + std::string(finish) + R"(,"stop_reason":null}],"usage":null})";
  };
  EXPECT_EQ(events[0], chunk("h", "null"));
  EXPECT_EQ(events[1], chunk("e", "null"));
  EXPECT_EQ(events[2], chunk("l", "\"length\""));
  EXPECT_EQ(
      events[3],
      R"({"id":")" + id + R"(","object":"text_completion","created":)" + std::to_string(created) +
          R"(,"model":"test-model","choices":[],"usage":{"prompt_tokens":3,"total_tokens":6,"completion_tokens":3}})");
  EXPECT_EQ(events[4], "[DONE]");
  EXPECT_EQ(r.body.substr(r.body.size() - 14), "data: [DONE]\n\n");
  EXPECT_EQ(r.body.substr(0, 6), "data: ");
}

TEST_F(ServerTest, ContinuousUsageStats) {
  start();
  auto r = post(
      "/v1/completions",
      R"({"prompt":"ab","max_tokens":2,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}})");
  ASSERT_EQ(r.status, 200);
  auto events = sse_data(r.body);
  ASSERT_EQ(events.size(), 4u);
  for (int i = 0; i < 2; ++i) {
    auto j = json::parse(events[static_cast<size_t>(i)]);
    EXPECT_EQ(j["usage"]["prompt_tokens"], 2);
    EXPECT_EQ(j["usage"]["completion_tokens"], i + 1);
    EXPECT_EQ(j["usage"]["total_tokens"], 3 + i);
  }
}

TEST_F(ServerTest, ChatStreamingRoleChunkFirstAndTemplate) {
  start();
  auto r = post(
      "/v1/chat/completions",
      R"({"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":2,"stream":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = sse_data(r.body);
  ASSERT_EQ(events.size(), 4u) << r.body;
  auto head = json::parse(events[0]);
  std::string id = head["id"];
  std::string created = std::to_string(head["created"].get<int64_t>());
  EXPECT_TRUE(std::regex_match(id, std::regex("chatcmpl-[0-9a-f]{32}")));
  std::string prefix = R"({"id":")" + id + R"(","object":"chat.completion.chunk","created":)" + created +
                       R"(,"model":"test-model","choices":[{"index":0,)";
  EXPECT_EQ(events[0], prefix + R"("delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(events[1], prefix + R"("delta":{"content":"h"},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(events[2],
            prefix + R"("delta":{"content":"e"},"logprobs":null,"finish_reason":"length","stop_reason":null}]})");
  EXPECT_EQ(events[3], "[DONE]");
  std::string expected_prompt = "system: be brief\nuser: hi\nassistant:";
  ASSERT_EQ(engine_->submitted().size(), 1u);
  EXPECT_EQ(engine_->submitted()[0], std::vector<int32_t>(expected_prompt.begin(), expected_prompt.end()));
}

TEST_F(ServerTest, ChatNonStreaming) {
  start();
  auto r = post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":4})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hell");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
}

TEST_F(ServerTest, BatchPromptsGiveIndexedChoices) {
  start();
  auto r = post("/v1/completions", R"({"prompt":["ab",[7,8,9]],"max_tokens":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  auto s = post("/v1/completions", R"({"prompt":["ab","cd"],"max_tokens":2,"stream":true})");
  auto events = sse_data(s.body);
  ASSERT_EQ(events.size(), 5u);
  int seen[2] = {0, 0};
  for (size_t i = 0; i + 1 < events.size(); ++i) ++seen[json::parse(events[i])["choices"][0]["index"].get<int>()];
  EXPECT_EQ(seen[0], 2);
  EXPECT_EQ(seen[1], 2);
}

TEST_F(ServerTest, StopStringsStopTokensAndEos) {
  FakeEngineOptions eo;
  eo.eos_after = 6;
  start(eo);
  auto r = post("/v1/completions", R"({"prompt":"a","max_tokens":10,"stop":"ll"})");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["text"], "he");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["stop_reason"], "ll");
  r = post("/v1/completions", R"({"prompt":"a","max_tokens":10,"stop_token_ids":[108]})");
  j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["stop_reason"], 108);
  r = post("/v1/completions", R"({"prompt":"a","max_tokens":10})");
  j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["text"], "hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["stop_reason"].is_null());
  r = post("/v1/completions", R"({"prompt":"a","max_tokens":6,"ignore_eos":true,"min_tokens":2,"seed":7})");
  j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["text"], "hello ");
  auto params = engine_->submitted_params().back();
  EXPECT_TRUE(params.ignore_eos);
  EXPECT_EQ(params.min_tokens, 2);
  EXPECT_EQ(params.seed, 7u);
}

TEST_F(ServerTest, ValidationErrorsFollowVllm) {
  start();
  expect_error(post("/v1/completions", "{not json"), 400, "BadRequestError");
  expect_error(post("/v1/completions", "[1,2]"), 400, "BadRequestError");
  expect_error(post("/v1/completions", R"({"max_tokens":3})"), 400, "BadRequestError", "prompt");
  expect_error(post("/v1/completions", R"({"prompt":"a","max_tokens":"3"})"), 400, "BadRequestError", "max_tokens");
  expect_error(post("/v1/completions", R"({"prompt":"a","n":2})"), 400, "BadRequestError", "n > 1");
  expect_error(post("/v1/completions", R"({"prompt":"a","best_of":3})"), 400, "BadRequestError", "best_of");
  expect_error(post("/v1/completions", R"({"prompt":"a","logprobs":1})"), 400, "BadRequestError", "logprobs");
  expect_error(post("/v1/completions", R"({"prompt":"a","echo":true})"), 400, "BadRequestError", "echo");
  expect_error(post("/v1/completions", R"({"prompt":"a","temperature":-1})"), 400, "BadRequestError",
               "temperature must be non-negative");
  expect_error(post("/v1/completions", R"({"prompt":"a","top_p":0})"), 400, "BadRequestError", "top_p");
  expect_error(post("/v1/completions", R"({"prompt":"a","stream_options":{"include_usage":true}})"), 400,
               "BadRequestError", "Stream options can only be defined when `stream=True`.");
  expect_error(post("/v1/completions", R"({"prompt":[1,2,999999]})"), 400, "BadRequestError", "out of vocabulary");
  std::string long_prompt(250, 'x');
  expect_error(post("/v1/completions", R"({"prompt":")" + long_prompt + R"(","max_tokens":10})"), 400,
               "BadRequestError",
               "'max_tokens' or 'max_completion_tokens' is too large: 10. This model's maximum context length is 256 "
               "tokens and your request has 250 input tokens (10 > 256 - 250).");
  expect_error(post("/v1/completions", R"({"prompt":")" + std::string(300, 'x') + R"("})"), 400, "BadRequestError",
               "This model's maximum context length is 256 tokens. However, your request has 300 input tokens.");
  expect_error(post("/v1/completions", R"({"model":"gpt-4","prompt":"a"})"), 404, "NotFoundError",
               "The model `gpt-4` does not exist.");
  expect_error(post("/v1/chat/completions", R"({"messages":"hi"})"), 400, "BadRequestError", "messages");
  expect_error(post("/v1/chat/completions", R"({"messages":[]})"), 400, "BadRequestError", "messages");
  expect_error(http_call(port_, "GET", "/v1/nope"), 404, "NotFoundError");
  auto wrong_method = http_call(port_, "GET", "/v1/completions");
  expect_error(wrong_method, 405, "MethodNotAllowed");
  EXPECT_EQ(wrong_method.headers["allow"], "POST");
  EXPECT_TRUE(engine_->submitted().empty());  // nothing invalid reached the engine
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  ServerOptions so;
  so.max_body_bytes = 1000;
  start({}, so);
  std::string body = R"({"prompt":")" + std::string(2000, 'a') + R"("})";
  expect_error(post("/v1/completions", body), 413, "RequestEntityTooLarge");
  // Chunked bodies over the limit too.
  TestConnection c(port_);
  std::string chunk(1500, 'b');
  std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  req += fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", chunk.size(), chunk);
  c.send(req);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, FullQueueIs503WithRetryAfter) {
  ServerOptions so;
  so.max_queue = 0;
  start({}, so);
  auto r = post("/v1/completions", R"({"prompt":"a"})");
  expect_error(r, 503, "ServiceUnavailableError");
  EXPECT_EQ(r.headers["retry-after"], "1");
}

TEST_F(ServerTest, EngineRefusalIs503) {
  FakeEngineOptions eo;
  eo.max_waiting = 0;
  start(eo);
  auto r = post("/v1/completions", R"({"prompt":"a"})");
  expect_error(r, 503, "ServiceUnavailableError");
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(http_call(port_, "GET", "/health").status, 200);
}

TEST_F(ServerTest, ApiKeyOnEveryRouteButHealth) {
  ServerOptions so;
  so.api_key = "sekret";
  start({}, so);
  EXPECT_EQ(http_call(port_, "GET", "/health").status, 200);
  expect_error(http_call(port_, "GET", "/v1/models"), 401, "AuthenticationError");
  expect_error(http_call(port_, "GET", "/metrics", {}, "Authorization: Bearer wrong\r\n"), 401, "AuthenticationError");
  expect_error(post("/v1/completions", R"({"prompt":"a"})", "Authorization: sekret\r\n"), 401, "AuthenticationError");
  EXPECT_EQ(post("/generate", R"({"inputs":"a"})").status, 401);
  EXPECT_EQ(http_call(port_, "GET", "/v1/models", {}, "Authorization: Bearer sekret\r\n").status, 200);
  EXPECT_EQ(post("/v1/completions", R"({"prompt":"a","max_tokens":1})", "Authorization: Bearer sekret\r\n").status,
            200);
}

TEST_F(ServerTest, ClientDisconnectMidStreamAbortsAtOnce) {
  FakeEngineOptions eo;
  eo.step_delay_ms = 20;
  start(eo);
  TestConnection c(port_);
  ASSERT_TRUE(c.send(make_request("POST", "/v1/completions", R"({"prompt":"a","max_tokens":200,"stream":true})")));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  ASSERT_TRUE(c.read_chunk());
  c.reset();
  EXPECT_TRUE(engine_->wait_idle(5000));
  EXPECT_EQ(engine_->aborted().size(), 1u);
  EXPECT_EQ(engine_->stats().kv_cache_usage, 0.0);
}

TEST_F(ServerTest, ClientDisconnectWhileWaitingNonStreamingAborts) {
  FakeEngineOptions eo;
  eo.step_delay_ms = 20;
  start(eo);
  TestConnection c(port_);
  ASSERT_TRUE(c.send(make_request("POST", "/v1/completions", R"({"prompt":"a","max_tokens":200})")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  c.close();
  EXPECT_TRUE(engine_->wait_idle(5000));
  EXPECT_EQ(engine_->aborted().size(), 1u);
}

TEST_F(ServerTest, MetricsParseAndCountersMove) {
  start();
  ASSERT_EQ(post("/v1/completions", R"({"prompt":"abc","max_tokens":4,"stream":true})").status, 200);
  ASSERT_EQ(post("/v1/completions", R"({"prompt":"abc","max_tokens":2})").status, 200);
  auto r = http_call(port_, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::istringstream in(r.body);
  std::string line;
  std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf|NaN)$)");
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample_re)) << line;
    samples[m[1].str() + m[2].str()] = std::stod(m[3].str());
  }
  for (const char* name : {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                           "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:num_preemptions_total",
                           "vllm:request_success_total", "vllm:time_to_first_token_seconds",
                           "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds"}) {
    EXPECT_TRUE(typed.count(name)) << name;
  }
  const std::string l = "{model_name=\"test-model\"}";
  EXPECT_EQ(samples["vllm:prompt_tokens_total" + l], 6);
  EXPECT_EQ(samples["vllm:generation_tokens_total" + l], 6);
  EXPECT_EQ(samples["vllm:request_success_total{model_name=\"test-model\",finished_reason=\"length\"}"], 2);
  EXPECT_EQ(samples["vllm:time_to_first_token_seconds_count" + l], 2);
  EXPECT_EQ(samples["vllm:e2e_request_latency_seconds_count" + l], 2);
  EXPECT_EQ(samples["vllm:inter_token_latency_seconds_count" + l], 4);  // (4-1) + (2-1)
  EXPECT_EQ(samples["vllm:time_to_first_token_seconds_bucket{model_name=\"test-model\",le=\"+Inf\"}"], 2);
  EXPECT_EQ(samples["vllm:num_requests_running" + l], 0);
}

TEST_F(ServerTest, TgiGenerateAndStream) {
  start();
  auto r = post("/generate", R"({"inputs":"abc","parameters":{"max_new_tokens":3,"details":true}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"generated_text":"hel","details":{"finish_reason":"length","generated_tokens":3,"seed":null,"prefill":[],"tokens":[)"
      R"({"id":104,"text":"h","logprob":null,"special":false},{"id":101,"text":"e","logprob":null,"special":false},)"
      R"({"id":108,"text":"l","logprob":null,"special":false}]}})");
  EXPECT_EQ(engine_->submitted_params().back().temperature, 0.0f);  // TGI default: greedy
  r = post("/generate", R"({"inputs":"abc","parameters":{"max_new_tokens":2}})");
  EXPECT_EQ(r.body, R"({"generated_text":"he"})");
  r = post("/generate_stream", R"({"inputs":"abc","parameters":{"max_new_tokens":2,"stop":["zz"],"seed":5}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      "data:{\"index\":1,\"token\":{\"id\":104,\"text\":\"h\",\"logprob\":null,\"special\":false},"
      "\"generated_text\":null,\"details\":null}\n\n"
      "data:{\"index\":2,\"token\":{\"id\":101,\"text\":\"e\",\"logprob\":null,\"special\":false},"
      "\"generated_text\":\"he\",\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":2,\"seed\":5}}\n\n");
  auto bad = post("/generate", R"({"parameters":{}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error_type"], "validation");
}

TEST_F(ServerTest, TokenizeAndDetokenize) {
  start();
  auto r = post("/tokenize", R"({"model":"test-model","prompt":"hi!"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"count":3,"max_model_len":256,"tokens":[104,105,33],"token_strs":null})");
  r = post("/detokenize", R"({"tokens":[104,105]})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"prompt":"hi"})");
  expect_error(post("/detokenize", R"({"tokens":"x"})"), 400, "BadRequestError");
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  start();
  TestConnection c(port_);
  std::string two = make_request("GET", "/health") +
                    make_request("POST", "/v1/completions", R"({"prompt":"a","max_tokens":2,"stream":true})") +
                    make_request("GET", "/version");
  ASSERT_TRUE(c.send(two));
  auto a = c.read_response();
  auto b = c.read_response();
  auto v = c.read_response();
  ASSERT_TRUE(a && b && v);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(sse_data(b->body).size(), 3u);
  EXPECT_EQ(v->status, 200);
  EXPECT_NE(v->body.find("version"), std::string::npos);
}

TEST_F(ServerTest, SlowHeaderIsCutAndHugeHeaderRefused) {
  ServerOptions so;
  so.request_read_timeout_ms = 300;
  start({}, so);
  TestConnection slow(port_);
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHo"));
  EXPECT_TRUE(slow.wait_closed(5000));
  TestConnection big(port_);
  ASSERT_TRUE(big.send("GET /health HTTP/1.1\r\nX-Big: " + std::string(64 << 10, 'a') + "\r\n\r\n"));
  auto r = big.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(big.wait_closed(5000));
  TestConnection garbage(port_);
  ASSERT_TRUE(garbage.send("\x01\x02 nonsense\r\n\r\n"));
  auto g = garbage.read_response();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 400);
}

TEST_F(ServerTest, ManyConnectionsAndHealthUnderLoad) {
  FakeEngineOptions eo;
  eo.step_delay_ms = 5;
  start(eo);
  constexpr int kStreams = 32;
  std::atomic<int> ok{0};
  std::vector<std::thread> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.emplace_back([&] {
      auto r = http_call(port_, "POST", "/v1/completions", R"({"prompt":"a","max_tokens":30,"stream":true})");
      if (r.status == 200 && sse_data(r.body).size() == 31) ok.fetch_add(1);
    });
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(http_call(port_, "GET", "/health", {}, {}, 5000).status, 200);
  for (auto& t : streams) t.join();
  EXPECT_EQ(ok.load(), kStreams);
  // A thousand keep-alive connections open at once (both ends in this process: 2 fds each), each answered.
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  setrlimit(RLIMIT_NOFILE, &fds);
  getrlimit(RLIMIT_NOFILE, &fds);
  const int kConns = static_cast<int>(std::min<rlim_t>(1000, (fds.rlim_cur - 200) / 2));
  std::vector<std::unique_ptr<TestConnection>> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(std::make_unique<TestConnection>(port_));
    ASSERT_TRUE(conns.back()->ok());
  }
  for (auto& c : conns) ASSERT_TRUE(c->send(make_request("GET", "/health")));
  int answered = 0;
  for (auto& c : conns) {
    auto r = c->read_response();
    if (r && r->status == 200) ++answered;
  }
  EXPECT_EQ(answered, kConns);
  EXPECT_GE(server_->open_connections(), static_cast<size_t>(kConns));
}

TEST_F(ServerTest, StopWithStreamsInFlightIsClean) {
  FakeEngineOptions eo;
  eo.step_delay_ms = 10;
  start(eo);
  std::vector<std::unique_ptr<TestConnection>> conns;
  for (int i = 0; i < 4; ++i) {
    conns.push_back(std::make_unique<TestConnection>(port_));
    conns.back()->send(make_request("POST", "/v1/completions", R"({"prompt":"a","max_tokens":200,"stream":true})"));
    auto head = conns.back()->read_head();
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200);
  }
  server_->stop();
  EXPECT_TRUE(engine_->wait_idle(5000));
  EXPECT_EQ(engine_->aborted().size(), 4u);
}

}  // namespace
}  // namespace llmbench::server

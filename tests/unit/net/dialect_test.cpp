#include "net/dialect.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmbench::net {
namespace {

using nlohmann::json;

json built(ApiDialect d, const GenerationRequest& r, HttpRequest* req = nullptr) {
  HttpRequest local;
  HttpRequest* out = req ? req : &local;
  std::string err;
  EXPECT_TRUE(build_request(d, r, out, &err)) << err;
  return json::parse(out->body);
}

TEST(DialectBuild, OpenAICompletionsStreaming) {
  GenerationRequest r;
  r.model = "facebook/opt-125m";
  r.prompt = "Hello \"world\"\n";
  r.max_tokens = 128;
  r.ignore_eos = true;
  r.min_tokens = 128;
  r.temperature = 0.0;
  r.seed = 42;
  HttpRequest req;
  json b = built(ApiDialect::kOpenAICompletions, r, &req);
  EXPECT_EQ(req.target, "/v1/completions");
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(b["model"], "facebook/opt-125m");
  EXPECT_EQ(b["prompt"], "Hello \"world\"\n");
  EXPECT_EQ(b["max_tokens"], 128);
  EXPECT_EQ(b["ignore_eos"], true);
  EXPECT_EQ(b["min_tokens"], 128);
  EXPECT_EQ(b["temperature"], 0.0);
  EXPECT_EQ(b["seed"], 42);
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  EXPECT_EQ(b["stream_options"]["continuous_usage_stats"], true);
  ASSERT_FALSE(req.headers.empty());
  EXPECT_EQ(req.headers[0].second, "text/event-stream");
}

TEST(DialectBuild, TokenIdPromptAndNonStreaming) {
  GenerationRequest r;
  r.prompt_token_ids = {2, 100, 7};
  r.stream = false;
  json b = built(ApiDialect::kOpenAICompletions, r);
  EXPECT_EQ(b["prompt"], json::array({2, 100, 7}));
  EXPECT_EQ(b["stream"], false);
  EXPECT_FALSE(b.contains("stream_options"));
  EXPECT_FALSE(b.contains("ignore_eos"));
  EXPECT_FALSE(b.contains("model"));
  EXPECT_FALSE(b.contains("max_tokens"));
}

TEST(DialectBuild, ChatMessagesAndPromptFallback) {
  GenerationRequest r;
  r.model = "m";
  r.messages = {{"system", "be brief"}, {"user", "hi"}};
  r.max_tokens = 5;
  HttpRequest req;
  json b = built(ApiDialect::kOpenAIChat, r, &req);
  EXPECT_EQ(req.target, "/v1/chat/completions");
  ASSERT_EQ(b["messages"].size(), 2u);
  EXPECT_EQ(b["messages"][1]["content"], "hi");
  EXPECT_EQ(b["max_tokens"], 5);
  GenerationRequest p;
  p.prompt = "just text";
  json b2 = built(ApiDialect::kOpenAIChat, p);
  EXPECT_EQ(b2["messages"], json::parse(R"([{"role":"user","content":"just text"}])"));
  GenerationRequest ids;
  ids.prompt_token_ids = {1, 2};
  HttpRequest out;
  std::string err;
  EXPECT_FALSE(build_request(ApiDialect::kOpenAIChat, ids, &out, &err));
  EXPECT_NE(err.find("token-ID"), std::string::npos);
}

TEST(DialectBuild, TgiParametersAndGreedy) {
  GenerationRequest r;
  r.prompt = "What is Deep Learning?";
  r.max_tokens = 20;
  r.temperature = 0.0;  // TGI rejects 0: greedy becomes do_sample=false
  r.seed = 7;
  r.ignore_eos = true;  // not a TGI parameter: never sent
  r.top_p = 1.0;        // TGI requires 0 < top_p < 1: dropped
  HttpRequest req;
  json b = built(ApiDialect::kTgi, r, &req);
  EXPECT_EQ(req.target, "/generate_stream");
  EXPECT_EQ(b["inputs"], "What is Deep Learning?");
  EXPECT_EQ(b["parameters"]["max_new_tokens"], 20);
  EXPECT_EQ(b["parameters"]["do_sample"], false);
  EXPECT_FALSE(b["parameters"].contains("temperature"));
  EXPECT_FALSE(b["parameters"].contains("top_p"));
  EXPECT_EQ(b["parameters"]["seed"], 7);
  EXPECT_EQ(b["parameters"]["details"], true);
  EXPECT_FALSE(b.contains("ignore_eos"));
  r.temperature = 0.7;
  r.stream = false;
  json b2 = built(ApiDialect::kTgi, r, &req);
  EXPECT_EQ(req.target, "/generate");
  EXPECT_EQ(b2["parameters"]["temperature"], 0.7);
  EXPECT_EQ(b2["parameters"]["do_sample"], true);
}

TEST(DialectBuild, ExtraBodyMerges) {
  GenerationRequest r;
  r.prompt = "x";
  r.max_tokens = 3;
  r.extra_body_json =
      R"({"top_k": 5, "max_tokens": 9, "stream_options": {"continuous_usage_stats": false}, "seed": null})";
  r.seed = 1;
  json b = built(ApiDialect::kOpenAICompletions, r);
  EXPECT_EQ(b["top_k"], 5);
  EXPECT_EQ(b["max_tokens"], 9);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  EXPECT_EQ(b["stream_options"]["continuous_usage_stats"], false);
  EXPECT_FALSE(b.contains("seed"));
  GenerationRequest t;
  t.prompt = "x";
  t.extra_body_json = R"({"top_k": 5, "parameters": {"repetition_penalty": 1.1}})";
  json tb = built(ApiDialect::kTgi, t);
  EXPECT_EQ(tb["parameters"]["top_k"], 5);
  EXPECT_EQ(tb["parameters"]["repetition_penalty"], 1.1);
  for (const char* bad : {"[1]", "{", "3"}) {
    GenerationRequest e;
    e.extra_body_json = bad;
    HttpRequest out;
    std::string err;
    EXPECT_FALSE(build_request(ApiDialect::kOpenAICompletions, e, &out, &err)) << bad;
    EXPECT_FALSE(err.empty());
  }
}

// --- decoding ---

struct Stream {
  explicit Stream(ApiDialect d) : decoder(d) {}
  EventDecoder decoder;
  StreamState state;
  DecodedEvent ev;
  const DecodedEvent& operator()(std::string_view data, bool keep_text = true) {
    decoder.decode_event(data, &state, &ev, keep_text);
    return ev;
  }
};

// vLLM completions stream with stream_options {include_usage, continuous_usage_stats}: every chunk
// carries cumulative usage (shape of CompletionStreamResponse / UsageInfo in
// vllm/entrypoints/openai/protocol.py; emitted by serving_completion.py), then a usage-only chunk
// with "choices": [], then [DONE].
TEST(DialectDecode, VllmCompletionsContinuousUsage) {
  Stream s(ApiDialect::kOpenAICompletions);
  const char* chunks[] = {
      R"({"id":"cmpl-5a7f","object":"text_completion","created":1738939926,"model":"facebook/opt-125m","choices":[{"index":0,"text":"\n\nAre","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2}})",
      R"({"id":"cmpl-5a7f","object":"text_completion","created":1738939926,"model":"facebook/opt-125m","choices":[{"index":0,"text":" you","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3}})",
      R"({"id":"cmpl-5a7f","object":"text_completion","created":1738939926,"model":"facebook/opt-125m","choices":[{"index":0,"text":" a","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4}})",
      R"({"id":"cmpl-5a7f","object":"text_completion","created":1738939926,"model":"facebook/opt-125m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4}})",
  };
  auto& e0 = s(chunks[0]);
  EXPECT_EQ(e0.tokens, 2);
  EXPECT_TRUE(e0.tokens_from_server);
  EXPECT_TRUE(e0.has_content);
  EXPECT_EQ(e0.text, "\n\nAre");
  EXPECT_EQ(e0.text_bytes, 5);
  EXPECT_EQ(e0.prompt_tokens, 5);
  EXPECT_EQ(s(chunks[1]).tokens, 1);
  auto& e2 = s(chunks[2]);
  EXPECT_EQ(e2.tokens, 1);
  EXPECT_EQ(e2.finish_reason, "length");
  auto& e3 = s(chunks[3]);
  EXPECT_EQ(e3.tokens, 0);
  EXPECT_FALSE(e3.has_content);
  EXPECT_EQ(e3.completion_tokens, 4);
  EXPECT_TRUE(s("[DONE]").done);
  EXPECT_EQ(s.state.tokens, 4);
  EXPECT_FALSE(s.state.any_fallback);
  EXPECT_EQ(s.state.completion_tokens, 4);
  EXPECT_EQ(s.state.prompt_tokens, 5);
}

// OpenAI's own streaming (and llama.cpp): no per-chunk usage, "usage" absent; one token per
// content chunk is the flagged fallback, and the final usage chunk gives the exact total. Sample
// chunk from an OpenAI completions stream (text_completion, gpt-3.5-turbo-instruct).
TEST(DialectDecode, ChunkCountFallbackWithoutUsage) {
  Stream s(ApiDialect::kOpenAICompletions);
  auto& e = s(
      R"({"id":"cmpl-8ZNls6dH7X2jUAJbY5joSWF9L0AD3","object":"text_completion","created":1703443548,"choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"})");
  EXPECT_EQ(e.tokens, 1);
  EXPECT_FALSE(e.tokens_from_server);
  EXPECT_TRUE(s.state.any_fallback);
  auto& fin = s(
      R"({"id":"x","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":25,"total_tokens":35}})");
  EXPECT_EQ(fin.tokens, 0);
  EXPECT_EQ(fin.completion_tokens, 25);
  EXPECT_EQ(s.state.completion_tokens, 25);
  // llama.cpp style: usage arrives only with the finishing content chunk; it is a total, not a delta.
  Stream l(ApiDialect::kOpenAIChat);
  EXPECT_EQ(l(R"({"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]})").tokens, 1);
  auto& last = l(
      R"({"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})");
  EXPECT_EQ(last.tokens, 1);
  EXPECT_FALSE(last.tokens_from_server);
  EXPECT_EQ(l.state.tokens, 2);
  EXPECT_EQ(l.state.completion_tokens, 2);
}

// vLLM chat stream (ChatCompletionStreamResponse): a role-only first chunk, content deltas, usage.
TEST(DialectDecode, ChatDeltas) {
  Stream s(ApiDialect::kOpenAIChat);
  auto& role = s(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":9,"total_tokens":9,"completion_tokens":0}})");
  EXPECT_EQ(role.tokens, 0);
  EXPECT_FALSE(role.has_content);
  auto& c = s(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\u00e9t\u00e9"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":9,"total_tokens":11,"completion_tokens":2}})");
  EXPECT_EQ(c.tokens, 2);
  EXPECT_EQ(c.text, "été");
  EXPECT_EQ(c.text_bytes, 5);
  // TGI's OpenAI layer (system_fingerprint "2.0.1-native") without usage: fallback.
  Stream t(ApiDialect::kOpenAIChat);
  auto& tc = t(
      R"({"id":"","object":"text_completion","created":1725530204,"model":"meta-llama/Meta-Llama-3-8B-Instruct","system_fingerprint":"2.0.1-native","choices":[{"index":0,"delta":{"role":"assistant","content":"?"},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(tc.tokens, 1);
  EXPECT_FALSE(tc.tokens_from_server);
}

// TGI /generate_stream events as TGI's docs show them (router/src/lib.rs StreamResponse):
// one token per event, the last with generated_text and details.
TEST(DialectDecode, TgiTokenEvents) {
  Stream s(ApiDialect::kTgi);
  auto& e = s(
      R"({"index":1,"token":{"id":89554,"text":" Deep","logprob":-0.9719473,"special":false},"generated_text":null,"details":null})");
  EXPECT_EQ(e.tokens, 1);
  EXPECT_TRUE(e.tokens_from_server);
  EXPECT_TRUE(e.has_content);
  EXPECT_EQ(e.text, " Deep");
  auto& sp = s(
      R"({"index":2,"token":{"id":2,"text":"</s>","logprob":-0.1,"special":true},"generated_text":" Deep","details":{"finish_reason":"eos_token","generated_tokens":2,"seed":null}})");
  EXPECT_EQ(sp.tokens, 1);
  EXPECT_EQ(sp.text_bytes, 0);  // special tokens carry no text
  EXPECT_EQ(sp.finish_reason, "eos_token");
  EXPECT_EQ(sp.completion_tokens, 2);
  EXPECT_EQ(s.state.tokens, 2);
}

TEST(DialectDecode, ErrorShapes) {
  Stream s(ApiDialect::kOpenAICompletions);
  // vLLM create_streaming_error_response: {"error": ErrorResponse}
  auto& v = s(
      R"({"error":{"object":"error","message":"This model's maximum context length is 2048 tokens.","type":"BadRequestError","param":null,"code":400}})");
  EXPECT_TRUE(v.is_error);
  EXPECT_EQ(v.error_message, "This model's maximum context length is 2048 tokens.");
  EXPECT_EQ(v.error_type, "BadRequestError");
  // Older vLLM: the ErrorResponse itself.
  auto& old = s(R"({"object":"error","message":"boom","type":"InternalServerError","param":null,"code":500})");
  EXPECT_TRUE(old.is_error);
  EXPECT_EQ(old.error_message, "boom");
  // TGI: {"error": "...", "error_type": "..."} (router/src/server.rs ErrorResponse).
  Stream t(ApiDialect::kTgi);
  auto& te =
      t(R"({"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"})");
  EXPECT_TRUE(te.is_error);
  EXPECT_EQ(te.error_type, "generation");
  EXPECT_NE(te.error_message.find("out of memory"), std::string::npos);
  // A plain chunk whose choice has a "message"-less text is not an error.
  EXPECT_FALSE(s(R"({"choices":[{"text":"a"}]})").is_error);
}

TEST(DialectDecode, MalformedJsonIsFlaggedNotThrown) {
  Stream s(ApiDialect::kOpenAICompletions);
  for (const char* bad : {"{\"choices\":[{\"text\":\"a\"}", "not json", "[1,2]", "{\"a\":1} trailing", "",
                          "{\"usage\":{\"prompt_tokens\":\"x\"}}"}) {
    auto& e = s(bad);
    EXPECT_TRUE(e.malformed) << bad;
    EXPECT_FALSE(e.malformed_detail.empty());
    EXPECT_EQ(e.tokens, 0);
  }
  EXPECT_EQ(s.state.tokens, 0);
  EXPECT_FALSE(s("{\"choices\":[{\"text\":\"ok\"}]}").malformed);  // the decoder recovers
}

TEST(DialectDecode, NonStreamingResponses) {
  EventDecoder d(ApiDialect::kOpenAICompletions);
  DecodedResponse r;
  // vLLM /v1/completions response (a vLLM user's docs, model mini-llama-demo).
  d.decode_response(
      R"({"id":"cmpl-f266de8ae5f64e14a2f3fa53560e4fbf","object":"text_completion","created":1765026778,"model":"mini-llama-demo","choices":[{"index":0,"text":" city that has a unique blend of","logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null}],"usage":{"prompt_tokens":5,"total_tokens":12,"completion_tokens":7,"prompt_tokens_details":null},"kv_transfer_params":null})",
      &r, true);
  EXPECT_FALSE(r.malformed);
  EXPECT_EQ(r.prompt_tokens, 5);
  EXPECT_EQ(r.completion_tokens, 7);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.text, " city that has a unique blend of");
  EventDecoder c(ApiDialect::kOpenAIChat);
  c.decode_response(
      R"({"id":"chatcmpl-mock-001","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":25,"total_tokens":35}})",
      &r, false);
  EXPECT_EQ(r.text_bytes, 8);
  EXPECT_EQ(r.completion_tokens, 25);
  EventDecoder t(ApiDialect::kTgi);
  t.decode_response(
      R"({"generated_text":" Deep Learning is","details":{"finish_reason":"length","generated_tokens":3,"seed":null,"prefill":[],"tokens":[]}})",
      &r, true);
  EXPECT_EQ(r.completion_tokens, 3);
  EXPECT_EQ(r.text, " Deep Learning is");
  t.decode_response(
      R"([{"generated_text":"ab","details":{"finish_reason":"eos_token","generated_tokens":1,"seed":1,"prefill":[],"tokens":[]}}])",
      &r, false);
  EXPECT_EQ(r.completion_tokens, 1);
  EXPECT_EQ(r.text_bytes, 2);
  t.decode_response(
      R"({"error":"Input validation error: `inputs` must have less than 1024 tokens","error_type":"validation"})", &r,
      false);
  EXPECT_TRUE(r.is_error);
  EXPECT_EQ(r.error_type, "validation");
  t.decode_response("<html>502 Bad Gateway</html>", &r, false);
  EXPECT_TRUE(r.malformed);
}

TEST(Dialect, Names) {
  for (auto d : {ApiDialect::kOpenAICompletions, ApiDialect::kOpenAIChat, ApiDialect::kTgi}) {
    EXPECT_EQ(parse_dialect(to_string(d)), d);
  }
  EXPECT_FALSE(parse_dialect("bogus"));
}

}  // namespace
}  // namespace llmbench::net

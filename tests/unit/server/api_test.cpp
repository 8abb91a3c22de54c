// Request parsing/validation and response formatting of the OpenAI-compatible and TGI APIs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_tokenizer.h"
#include "server/api_format.h"
#include "server/api_protocol.h"
#include "server/server_metrics.h"

namespace llmbench::server {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    ctx_.served_model_name = "m";
    ctx_.max_model_len = 64;
    ctx_.vocab_size = 257;
    ctx_.tokenizer = &tokenizer_;
  }
  GenerationJob ok(const ParseResult& r) {
    if (auto* e = std::get_if<ApiError>(&r)) {
      ADD_FAILURE() << e->message;
      return {};
    }
    return std::get<GenerationJob>(r);
  }
  ApiError err(const ParseResult& r) {
    if (auto* e = std::get_if<ApiError>(&r)) return *e;
    ADD_FAILURE() << "expected an error";
    return {};
  }
  testing::FakeTokenizer tokenizer_;
  ApiContext ctx_;
};

TEST_F(ApiTest, CompletionPromptForms) {
  auto job = ok(parse_completion_request(R"({"prompt":"ab"})", ctx_));
  ASSERT_EQ(job.prompts.size(), 1u);
  EXPECT_EQ(job.prompts[0], (std::vector<int32_t>{'a', 'b'}));
  EXPECT_EQ(job.params.max_tokens, 16);  // OpenAI default
  EXPECT_EQ(job.params.temperature, 1.0f);
  job = ok(parse_completion_request(R"({"prompt":[5,6]})", ctx_));
  EXPECT_EQ(job.prompts[0], (std::vector<int32_t>{5, 6}));
  job = ok(parse_completion_request(R"({"prompt":["a",[1],"bc"]})", ctx_));
  ASSERT_EQ(job.prompts.size(), 3u);
  EXPECT_EQ(job.prompts[2], (std::vector<int32_t>{'b', 'c'}));
  ctx_.prepend_bos_id = 2;  // OPT: BOS before text prompts, not before token-id prompts
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":"a"})", ctx_)).prompts[0], (std::vector<int32_t>{2, 'a'}));
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":[7]})", ctx_)).prompts[0], (std::vector<int32_t>{7}));
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":"a","add_special_tokens":false})", ctx_)).prompts[0],
            (std::vector<int32_t>{'a'}));
}

TEST_F(ApiTest, SamplingFields) {
  auto job = ok(parse_completion_request(
      R"({"prompt":"a","max_tokens":8,"temperature":0.5,"top_p":0.9,"top_k":40,"seed":-1,"stop":"x",)"
      R"("stop_token_ids":[3],"ignore_eos":true,"min_tokens":2,"stream":true,"stream_options":{"include_usage":true}})",
      ctx_));
  EXPECT_EQ(job.params.max_tokens, 8);
  EXPECT_FLOAT_EQ(job.params.temperature, 0.5f);
  EXPECT_FLOAT_EQ(job.params.top_p, 0.9f);
  EXPECT_EQ(job.params.top_k, 40);
  EXPECT_EQ(job.params.seed, static_cast<uint64_t>(-1));
  EXPECT_EQ(job.params.stop, (std::vector<std::string>{"x"}));
  EXPECT_EQ(job.params.stop_token_ids, (std::vector<int32_t>{3}));
  EXPECT_TRUE(job.params.ignore_eos);
  EXPECT_EQ(job.params.min_tokens, 2);
  EXPECT_TRUE(job.stream && job.include_usage && !job.continuous_usage);
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":"a","top_k":0})", ctx_)).params.top_k, -1);
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":"a","max_tokens":4.0})", ctx_)).params.max_tokens, 4);
  EXPECT_TRUE(ok(parse_completion_request(R"({"prompt":"a","return_token_ids":true})", ctx_)).return_token_ids);
  EXPECT_EQ(ok(parse_completion_request(R"({"prompt":"a","n":1,"best_of":1,"logprobs":null})", ctx_)).params.max_tokens,
            16);
}

TEST_F(ApiTest, CompletionErrors) {
  EXPECT_EQ(err(parse_completion_request("", ctx_)).status, 400);
  EXPECT_EQ(err(parse_completion_request("{\"prompt\":", ctx_)).status, 400);
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","max_tokens":0})", ctx_)).message,
            "max_tokens must be at least 1, got 0.");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","max_tokens":4.5})", ctx_)).param, "max_tokens");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","stop":[1]})", ctx_)).param, "stop");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","top_k":-2})", ctx_)).param, "top_k");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","min_tokens":20,"max_tokens":4})", ctx_)).param,
            "min_tokens");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","presence_penalty":0.5})", ctx_)).param, "presence_penalty");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":[]})", ctx_)).param, "prompt");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":[-1]})", ctx_)).param, "prompt");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":[257]})", ctx_)).message, "Token id 257 is out of vocabulary");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":[1.5]})", ctx_)).param, "prompt");
  ctx_.vocab_size = 100;  // a model smaller than its tokenizer: text that encodes past it is refused
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"z"})", ctx_)).message, "Token id 122 is out of vocabulary");
  EXPECT_EQ(err(parse_chat_request(R"({"messages":[{"role":"user","content":"a"}]})", ctx_)).status, 400);
  ctx_.vocab_size = 257;
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","model":"x"})", ctx_)).status, 404);
  EXPECT_EQ(
      err(parse_completion_request(R"({"prompt":"a","max_tokens":64})", ctx_)).message,
      "'max_tokens' or 'max_completion_tokens' is too large: 64. This model's maximum context length is 64 tokens "
      "and your request has 1 input tokens (64 > 64 - 1).");
  EXPECT_EQ(err(parse_completion_request(R"({"prompt":"a","stream":"yes"})", ctx_)).param, "stream");
}

TEST_F(ApiTest, ChatTemplateAndDefaults) {
  EXPECT_EQ(apply_chat_template({{"system", "s"}, {"user", "u"}}, true), "system: s\nuser: u\nassistant:");
  EXPECT_EQ(apply_chat_template({{"user", "u"}}, false), "user: u\n");
  auto job = ok(parse_chat_request(R"({"messages":[{"role":"user","content":"hi"}]})", ctx_));
  std::string prompt = "user: hi\nassistant:";
  EXPECT_EQ(job.prompts[0], std::vector<int32_t>(prompt.begin(), prompt.end()));
  EXPECT_EQ(job.params.max_tokens, 64 - static_cast<int>(prompt.size()));  // chat default: the rest of the context
  job = ok(parse_chat_request(
      R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"max_completion_tokens":5})", ctx_));
  EXPECT_EQ(job.params.max_tokens, 5);
  EXPECT_EQ(err(parse_chat_request(R"({"messages":[{"content":"hi"}]})", ctx_)).param, "messages");
  EXPECT_EQ(err(parse_chat_request(R"({"messages":[{"role":"user","content":"hi"}],"logprobs":true})", ctx_)).param,
            "logprobs");
  EXPECT_EQ(err(parse_chat_request(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", ctx_)).param,
            "messages");
}

TEST_F(ApiTest, TgiParameters) {
  auto job = ok(parse_tgi_request(R"({"inputs":"ab"})", ctx_, false));
  EXPECT_EQ(job.params.temperature, 0.0f);
  EXPECT_EQ(job.params.max_tokens, 62);  // TGI's default (100) capped by what the context leaves
  job = ok(parse_tgi_request(
      R"({"inputs":"ab","parameters":{"max_new_tokens":5,"temperature":0.7,"top_k":10,"top_p":0.5,"seed":3,"stop":["q"],"details":true}})",
      ctx_, true));
  EXPECT_TRUE(job.stream && job.tgi_details);
  EXPECT_EQ(job.params.max_tokens, 5);
  EXPECT_FLOAT_EQ(job.params.temperature, 0.7f);
  EXPECT_EQ(job.params.top_k, 10);
  EXPECT_EQ(job.params.seed, 3u);
  EXPECT_EQ(err(parse_tgi_request(R"({"inputs":"ab","parameters":{"top_p":1.0}})", ctx_, false)).param, "top_p");
  EXPECT_EQ(err(parse_tgi_request(R"({"inputs":3})", ctx_, false)).param, "inputs");
  EXPECT_EQ(err(parse_tgi_request(R"({"inputs":"a","parameters":{"decoder_input_details":true}})", ctx_, false)).param,
            "decoder_input_details");
}

TEST_F(ApiTest, TokenizeShapes) {
  auto r = handle_tokenize(R"({"prompt":"ab","return_token_strs":true})", ctx_);
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  EXPECT_EQ(std::get<std::string>(r), R"({"count":2,"max_model_len":64,"tokens":[97,98],"token_strs":["a","b"]})");
  r = handle_tokenize(R"({"messages":[{"role":"user","content":"x"}]})", ctx_);
  EXPECT_EQ(nlohmann::json::parse(std::get<std::string>(r))["count"], 18);
  EXPECT_EQ(std::get<std::string>(handle_detokenize(R"({"tokens":[97,256]})", ctx_)), R"({"prompt":"a<eos>"})");
  EXPECT_TRUE(std::holds_alternative<ApiError>(handle_detokenize(R"({"tokens":[99999]})", ctx_)));
}

TEST(ApiFormat, JsonStringEscapingMatchesPydantic) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\t\x01/\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001/\xC3\xA9\xE2\x82\xAC\"");
  out.clear();
  append_json_string(out, "x\xC3");  // truncated UTF-8 → U+FFFD
  EXPECT_EQ(out, "\"x\xEF\xBF\xBD\"");
  out.clear();
  append_json_string(out, "\xED\xA0\x80");  // surrogate: invalid in UTF-8
  EXPECT_EQ(out, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(ApiFormat, ErrorAndChunks) {
  EXPECT_EQ(format_error(ApiError{400, "bad \"x\"", "BadRequestError", "n"}),
            R"({"error":{"message":"bad \"x\"","type":"BadRequestError","param":"n","code":400}})");
  EXPECT_EQ(format_error(ApiError{404, "m", "NotFoundError", ""}),
            R"({"error":{"message":"m","type":"NotFoundError","param":null,"code":404}})");
  EXPECT_EQ(format_tgi_error(ApiError{400, "bad", "BadRequestError", ""}),
            R"({"error":"bad","error_type":"validation"})");
  ResponseIds ids{"cmpl-1", 7, "m"};
  std::string out;
  StopReason stop;
  stop.kind = StopReason::Kind::kTokenId;
  stop.token_id = 50256;
  Usage usage{3, 2};
  append_completion_chunk(out, ids, 1, "x", "stop", stop, &usage);
  EXPECT_EQ(out,
            "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":7,\"model\":\"m\",\"choices\":[{"
            "\"index\":1,\"text\":\"x\",\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":50256}],"
            "\"usage\":{\"prompt_tokens\":3,\"total_tokens\":5,\"completion_tokens\":2}}\n\n");
  EXPECT_EQ(format_completion_response(ids, {ChoiceResult{"hi", "length", {}}}, usage),
            R"({"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[{"index":0,"text":"hi",)"
            R"("logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null}],)"
            R"("usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2,"prompt_tokens_details":null}})");
  std::vector<int32_t> token_ids{5, 6};
  EXPECT_EQ(format_completion_response(ids, {ChoiceResult{"", "length", {}, &token_ids}}, usage),
            R"({"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[{"index":0,"text":"",)"
            R"("logprobs":null,"finish_reason":"length","stop_reason":null,"token_ids":[5,6],"prompt_logprobs":null}],)"
            R"("usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2,"prompt_tokens_details":null}})");
  EXPECT_EQ(format_chat_response(ids, {ChoiceResult{"hi", "stop", {}}}, usage),
            R"({"id":"cmpl-1","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":)"
            R"({"role":"assistant","content":"hi","tool_calls":[]},"logprobs":null,"finish_reason":"stop",)"
            R"("stop_reason":null}],"usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2,)"
            R"("prompt_tokens_details":null},"prompt_logprobs":null})");
}

TEST(ServerMetricsTest, HistogramBucketsAreCumulativeWithLe) {
  ServerMetrics m("m");
  m.observe_ttft(0.001);  // le="0.001" is inclusive
  m.observe_ttft(0.3);
  m.observe_ttft(5000);
  m.count_finished(engine::FinishReason::kStop);
  std::string text = m.render(engine::EngineStats{});
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.001\"} 1.0\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.25\"} 1.0\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.5\"} 2.0\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"2560.0\"} 2.0\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"+Inf\"} 3.0\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_count{model_name=\"m\"} 3.0\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_success_total{model_name=\"m\",finished_reason=\"stop\"} 1.0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE vllm:e2e_request_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE vllm:kv_cache_usage_perc gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace llmbench::server

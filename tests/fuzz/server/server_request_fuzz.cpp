// Fuzz target: raw bytes → HTTP request head and body (Beast's parser, limits as the server sets
// them) → the route's JSON parsing and validation, exactly as the server runs them. Must never
// crash, hang or throw.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../../unit/server/fake_tokenizer.h"
#include "server/api_format.h"
#include "server/api_protocol.h"

namespace {

namespace http = boost::beast::http;
using namespace llmbench::server;

void route(std::string_view target, std::string_view body, const ApiContext& ctx) {
  auto q = target.find('?');
  std::string_view path = q == std::string_view::npos ? target : target.substr(0, q);
  std::string sink;
  auto consume = [&](const ParseResult& r) {
    if (const auto* e = std::get_if<ApiError>(&r)) {
      sink = format_error(*e) + format_tgi_error(*e);
    } else {
      const auto& job = std::get<GenerationJob>(r);
      for (const auto& p : job.prompts) {
        for (int32_t id : p) {
          if (id < 0 || id >= ctx.vocab_size) __builtin_trap();  // validation must keep ids in the vocabulary
        }
        if (static_cast<int>(p.size()) + job.params.max_tokens > ctx.max_model_len) __builtin_trap();
      }
    }
  };
  if (path == "/v1/completions") {
    consume(parse_completion_request(body, ctx));
  } else if (path == "/v1/chat/completions") {
    consume(parse_chat_request(body, ctx));
  } else if (path == "/generate" || path == "/generate_stream") {
    consume(parse_tgi_request(body, ctx, path == "/generate_stream"));
  } else if (path == "/tokenize") {
    (void)handle_tokenize(body, ctx);
  } else if (path == "/detokenize") {
    (void)handle_detokenize(body, ctx);
  } else {
    // Unknown route: exercise every parser on the body anyway.
    consume(parse_completion_request(body, ctx));
    consume(parse_chat_request(body, ctx));
    consume(parse_tgi_request(body, ctx, true));
    (void)handle_tokenize(body, ctx);
    (void)handle_detokenize(body, ctx);
  }
  append_json_string(sink, body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const llmbench::server::testing::FakeTokenizer tokenizer;
  ApiContext ctx;
  ctx.served_model_name = "m";
  ctx.max_model_len = 128;
  ctx.vocab_size = 257;
  ctx.prepend_bos_id = 2;
  ctx.tokenizer = &tokenizer;

  std::string_view input(reinterpret_cast<const char*>(data), size);
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t offset = 0;
  while (offset < input.size() && !parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(input.data() + offset, input.size() - offset), ec);
    if (ec == http::error::need_more) break;
    if (ec) break;
    if (used == 0) break;
    offset += used;
  }
  if (!parser.is_done() && !ec) parser.put_eof(ec);
  if (parser.is_header_done()) {
    const auto& req = parser.get();
    route(req.target(), req.body(), ctx);
  } else {
    // Not HTTP at all: treat the whole input as a body for every route.
    route("/", input, ctx);
  }
  return 0;
}

#pragma once
// A server's own token count of a prompt, through its tokenize endpoint. Used before the clock
// starts (never during a run) to make prompts whose length the *server* counts as requested.
//
// Formats, as the servers implement them:
//   kVllm      POST /tokenize {"model", "prompt", "add_special_tokens": true}
//              or {"model", "messages": [...]} (chat template; add_generation_prompt defaults to
//              true, add_special_tokens to false, as for /v1/chat/completions)
//              -> {"count", "max_model_len", "tokens": [...], "token_strs"}. `llmbench serve` answers
//              the same shape.
//   kLlamaCpp  POST /tokenize {"content", "add_special": true} -> {"tokens": [...]} (llama.cpp's
//              default is add_special=false, but its completions tokenize with BOS: true counts
//              what a completion request counts). No chat form.
//   kTgi       POST /tokenize {"inputs"} -> [{"id", "text", "start", "stop"}, ...] (the same
//              validation as /generate, add_special_tokens true). No chat form.
//
// Every count is what the server counts for a generation request with that prompt: special tokens
// (BOS) included, and for chat the whole templated conversation.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_client.h"

namespace llmbench::net {

enum class TokenizeFormat : uint8_t { kVllm, kLlamaCpp, kTgi };

const char* to_string(TokenizeFormat format);                                // "vllm", "llama.cpp", "tgi"
std::optional<TokenizeFormat> parse_tokenize_format(std::string_view name);  // also "llamacpp", "sglang"

// The JSON body asking for `text`'s count. With `chat`, text is one user message (vLLM only:
// returns an empty string for the other formats). `model` is omitted when empty.
std::string tokenize_body(TokenizeFormat format, std::string_view model, std::string_view text, bool chat);

// The token count in a 2xx response body, or nullopt with *error set when the body is not that
// format's answer (e.g. llama.cpp's {"tokens": []} answer to a vLLM-shaped body has no "count").
std::optional<int32_t> parse_tokenize_count(TokenizeFormat format, std::string_view body, std::string* error);

// A tokenize request that could not be answered (connection, HTTP status, unexpected body).
struct TokenizeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TokenizeClientOptions {
  Url base_url;                    // the benchmark's --base-url (its path prefix is kept)
  std::string path = "/tokenize";  // appended to the base URL's path prefix
  ClientOptions client;            // the benchmark's headers, API key and timeouts
  std::string model;               // sent as "model" (vLLM) when not empty
  bool chat = false;               // count text as one chat user message (vLLM format only)
  size_t max_in_flight = 32;       // concurrent tokenize requests
};

// What probing found: the format, and what each format tried answered (for error messages).
struct TokenizeProbe {
  std::optional<TokenizeFormat> format;
  std::vector<std::string> attempts;  // "vllm: HTTP 404 ...", one per format tried
  bool unreachable = false;           // connection refused / timed out: nothing else was tried
  bool unauthorized = false;          // some format was answered 401/403 (API key or headers)
  std::string summary() const;        // the attempts joined for a message
};

// Counts prompts through one server's tokenize endpoint. Blocking: each call runs its own event
// loop on the calling thread until every answer is in.
class TokenizeClient {
 public:
  TokenizeClient(TokenizeClientOptions options, TokenizeFormat format);

  // Tries `order` one after the other with a short text and returns the first format whose answer
  // parses. Stops at the first connection failure.
  static TokenizeProbe probe(const TokenizeClientOptions& options, const std::vector<TokenizeFormat>& order);

  // Counts every text (at most max_in_flight at a time). Throws TokenizeError naming the first
  // request that failed.
  std::vector<int32_t> count(const std::vector<std::string>& texts);

  TokenizeFormat format() const { return format_; }
  std::string url() const;  // scheme://host:port/prefix/tokenize
  int64_t requests_sent() const { return requests_sent_; }

 private:
  TokenizeClientOptions options_;
  TokenizeFormat format_;
  int64_t requests_sent_ = 0;
};

}  // namespace llmbench::net

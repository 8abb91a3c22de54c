#pragma once
// A scripted LLM-API server for tests: real HTTP/1.1 over loopback (Boost.Beast, behind this
// header), its own thread, an ephemeral port on 127.0.0.1, optional TLS.
//
// It speaks the streaming and non-streaming formats of:
//   POST /v1/completions          OpenAI/vLLM completions ("text_completion" chunks)
//   POST /v1/chat/completions     OpenAI/vLLM chat ("chat.completion.chunk", role chunk first)
//   POST /generate_stream         TGI token events ("data:{...}", last one with details)
//   POST /generate                TGI non-streaming
// and GET /health (200). Streaming follows the request's "stream" field ("stream_options":
// include_usage adds a final usage chunk, continuous_usage_stats adds cumulative usage to every
// chunk, as vLLM does). The number of tokens is the request's max_tokens (TGI: max_new_tokens),
// else 16, unless the script says otherwise.
//
// Each request may carry a script that sets timing and faults, in the header
//   x-llmbench-script: <preset name> | <JSON object>
// or in the JSON body as "llmbench_script": <preset name or object> (removed before anything else
// reads the body). JSON keys are Script's field names below; presets are listed in preset().
//
// The server records, per request, the steady-clock stamp (llmbench::now_ns(), the client's clock
// on the same machine) taken just before each event was handed to the socket, so tests can compute
// the client's added latency as receive stamp minus send stamp.
//
// Example:
//   llmbench::testing::ScriptedServer server;                // starts at once
//   HttpRequest req = ...;                                    // POST /v1/completions
//   req.headers.push_back({"x-llmbench-script", R"({"tokens": 5, "inter_token_ms": 20})"});
//   ... send it to server.url() ...
//   server.wait_for_requests(1, 5000);
//   auto served = server.requests();                          // served[0].token_sent_ns has 5 stamps
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmbench::testing {

struct Script {
  std::string format;                // "completions" | "chat" | "tgi"; empty: from the request path
  int tokens = -1;                   // tokens to generate; -1: the request's max_tokens, else 16
  int64_t headers_delay_ms = 0;      // before the status line
  int64_t first_token_delay_ms = 0;  // after the headers, before the first token
  int64_t inter_token_ms = 0;        // between tokens
  std::string usage;                 // "" (follow the request), "none", "final", "continuous"
  std::string text = " tok";         // text of each token
  int status = 200;                  // >= 400: an OpenAI-style (TGI-style for tgi) JSON error
  std::string retry_after;           // Retry-After header value with an error status
  // Faults, applied after `fault_after` tokens were sent:
  //   "stall"                 stop sending for stall_ms (-1: forever), then continue
  //   "drop"                  close the connection mid-stream (no terminating chunk)
  //   "garbage"               invalid chunked framing (an HTTP protocol error for the client)
  //   "garbage_sse"           correctly framed random bytes inside the SSE stream, then continue
  //   "malformed_json"        one event whose data is truncated JSON, then continue
  //   "error_event"           an in-stream {"error": ...} event (TGI: error/error_type), then end
  //   "huge_event"            one event of huge_event_bytes of data, then continue
  //   "trickle"               the whole response one byte per trickle_interval_ms (fault_after ignored)
  //   "close_before_headers"  read the request, then close without answering
  std::string fault;
  int fault_after = 0;
  int64_t stall_ms = -1;
  size_t huge_event_bytes = 10u << 20;
  int64_t trickle_interval_ms = 1000;
  bool chunked = true;     // false: stream with no Transfer-Encoding, delimited by closing the connection
  bool keep_alive = true;  // false: "Connection: close" and close after the response
  // Answer as keep-alive, then close the connection anyway (a server dropping an idle connection).
  bool close_after_response = false;
};

// A named script: "stall", "stall_1s", "drop", "garbage", "garbage_sse", "malformed_json",
// "error_event", "huge_event", "trickle", "close_before_headers", "slow_headers" (headers after
// 500 ms), "http_429" (Retry-After: 1), "http_500", "http_503" (Retry-After: 2), "http_503_no_retry",
// "slow" (first token after 200 ms, 50 ms between tokens), "close_delimited".
std::optional<Script> preset(const std::string& name);
// Parses a preset name or a JSON object (unknown keys are an error). Returns nullopt with *error set.
std::optional<Script> parse_script(const std::string& text, std::string* error);

struct ServedRequest {
  uint64_t connection_id = 0;  // server-side connection number: equal ids = keep-alive reuse
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // as received (names as sent)
  Script script;
  int64_t received_ns = 0;                            // request fully read
  int64_t headers_sent_ns = 0;                        // just before the status line was written
  std::vector<int64_t> event_sent_ns;                 // every SSE event (role, tokens, usage, [DONE]), before its write
  std::vector<int64_t> token_sent_ns;                 // only the events that carry a token
  bool completed = false;                             // the response was written to the end
  std::string header(const std::string& name) const;  // case-insensitive lookup, "" if absent
};

struct ScriptedServerOptions {
  Script default_script;     // used when a request carries no script
  uint16_t port = 0;         // 0: an ephemeral port
  bool tls = false;          // serve HTTPS with a self-signed certificate made at start (CN=localhost)
  std::string tls_cert_pem;  // optional: use this certificate/key instead
  std::string tls_key_pem;
};

class ScriptedServer {
 public:
  explicit ScriptedServer(ScriptedServerOptions options = {});
  ~ScriptedServer();  // stops the server and closes every connection
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  uint16_t port() const;
  std::string url() const;                      // "http://127.0.0.1:<port>" (https:// with TLS)
  std::vector<ServedRequest> requests() const;  // snapshot, in arrival order
  // Waits until at least n requests have been received; returns false on timeout.
  bool wait_for_requests(size_t n, int64_t timeout_ms) const;
  size_t connections_accepted() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A self-signed certificate and key (PEM) for "localhost" and 127.0.0.1, made with OpenSSL.
void make_self_signed_cert(std::string* cert_pem, std::string* key_pem);

}  // namespace llmbench::testing

#pragma once
// One request's timeline, as the load generator records it. Workers only stamp times here;
// metrics and reports read finished records after the run (as oha does).
// All *_ns fields are steady-clock nanoseconds (llmbench::now_ns()); 0 means "did not happen".
#include <cstdint>
#include <string>
#include <vector>

namespace llmbench::loadgen {

enum class RequestStatus : uint8_t {
  kOk = 0,
  kFailed,     // see failure_kind / error
  kCancelled,  // stopped by Ctrl-C or the run's deadline before it completed
};

enum class TokenCountSource : uint8_t {
  kServerUsage = 0,  // usage / token events from the server (exact)
  kChunkCount,       // one token per content chunk (fallback, flagged in results)
  kTokenizer,        // counted by re-tokenizing the received text
};

struct StreamEventStamp {
  int64_t arrived_ns = 0;  // when the bytes that completed this SSE event arrived, before parsing
  int32_t tokens = 0;      // tokens carried by this event (0 for role-only / usage-only events)
};

struct RequestRecord {
  uint64_t index = 0;   // position in the workload
  int32_t worker = -1;  // closed-loop user or -1 for open loop
  bool warmup = false;  // warm-up requests are recorded but excluded from metrics

  int64_t scheduled_ns = 0;    // when it should have been sent (open loop: start + t_i)
  int64_t sent_ns = 0;         // when the first byte of the request was handed to the socket
  int64_t written_ns = 0;      // when the request was fully written
  int64_t headers_ns = 0;      // response status line + headers arrived
  int64_t first_byte_ns = 0;   // first body byte arrived
  int64_t first_token_ns = 0;  // first event carrying >= 1 token arrived
  int64_t end_ns = 0;          // response complete (or failed)

  std::vector<StreamEventStamp> events;  // every SSE event, in arrival order

  int32_t prompt_tokens = 0;       // as the server reported (usage), else as sent
  int32_t prompt_tokens_sent = 0;  // as llmbench built the prompt
  int32_t output_tokens = 0;       // total generated tokens
  int32_t max_tokens = 0;          // requested
  TokenCountSource token_source = TokenCountSource::kServerUsage;
  int64_t output_text_bytes = 0;

  RequestStatus status = RequestStatus::kOk;
  int http_status = 0;
  std::string failure_kind;    // stable machine-readable reason: "http_503", "read_timeout", "malformed_sse", ...
  std::string error;           // human-readable detail
  std::string finish_reason;   // from the server: "length", "stop", ...
  std::string output_text;     // only when --save-output-text is set
  int64_t server_ttft_ns = 0;  // adapter/engine-reported stamps when the target provides them
};

}  // namespace llmbench::loadgen

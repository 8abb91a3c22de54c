#include "report/requests_jsonl.h"

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "metrics/summary.h"
#include "report/atomic_file.h"

namespace llmbench::report {
namespace {

// A JSON string literal; invalid UTF-8 is replaced (U+FFFD), never an error.
void append_string(std::string& out, const std::string& s) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_stamp(std::string& out, const char* key, int64_t t_ns, int64_t origin_ns) {
  out += '"';
  out += key;
  out += "\":";
  if (t_ns == 0) {
    out += "null";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", t_ns - origin_ns);
  }
}

}  // namespace

void append_request_line(std::string& out, const loadgen::RequestRecord& r, int64_t origin_ns) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, R"({{"index":{},"worker":{},"warmup":{},"status":")", r.index, r.worker,
                 r.warmup ? "true" : "false");
  out += metrics::to_string(r.status);
  fmt::format_to(it, R"(","http_status":{},"failure_kind":)", r.http_status);
  append_string(out, r.failure_kind);
  out += ",\"error\":";
  append_string(out, r.error);
  out += ",\"finish_reason\":";
  append_string(out, r.finish_reason);
  fmt::format_to(it,
                 R"(,"prompt_tokens":{},"prompt_tokens_sent":{},"output_tokens":{},"max_tokens":{},)"
                 R"("token_source":"{}","output_text_bytes":{},)",
                 r.prompt_tokens, r.prompt_tokens_sent, r.output_tokens, r.max_tokens,
                 metrics::to_string(r.token_source), r.output_text_bytes);
  out += "\"t_ns\":{";
  append_stamp(out, "scheduled", r.scheduled_ns, origin_ns);
  out += ',';
  append_stamp(out, "sent", r.sent_ns, origin_ns);
  out += ',';
  append_stamp(out, "written", r.written_ns, origin_ns);
  out += ',';
  append_stamp(out, "headers", r.headers_ns, origin_ns);
  out += ',';
  append_stamp(out, "first_byte", r.first_byte_ns, origin_ns);
  out += ',';
  append_stamp(out, "first_token", r.first_token_ns, origin_ns);
  out += ',';
  append_stamp(out, "end", r.end_ns, origin_ns);
  out += "},";
  if (r.server_ttft_ns != 0) {
    fmt::format_to(it, R"("server_ttft_ns":{},)", r.server_ttft_ns);
  } else {
    out += R"("server_ttft_ns":null,)";
  }
  out += "\"events\":[";
  bool first = true;
  for (const auto& e : r.events) {
    if (!first) out += ',';
    first = false;
    fmt::format_to(it, "[{},{}]", e.arrived_ns - origin_ns, e.tokens);
  }
  out += ']';
  if (!r.output_text.empty()) {
    out += ",\"output_text\":";
    append_string(out, r.output_text);
  }
  out += "}\n";
}

void write_requests_jsonl(const std::string& path, const std::vector<loadgen::RequestRecord>& records,
                          const loadgen::RunInfo& info) {
  const int64_t origin = metrics::run_origin_ns(records, info);
  write_file_atomically(path, [&](std::FILE* f) {
    std::string line;
    line.reserve(4096);
    for (const auto& r : records) {
      line.clear();
      append_request_line(line, r, origin);
      if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
        throw std::runtime_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
      }
    }
  });
}

}  // namespace llmbench::report

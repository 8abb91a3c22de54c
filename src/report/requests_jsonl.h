#pragma once
// Per-request JSON Lines: one line per request (warm-ups included, flagged) with its whole
// timeline, for re-analysis with any tool. Format: docs/metrics.md ("Per-request JSONL").
// All times are integer nanoseconds relative to the run start (metrics::run_origin_ns); a stamp that
// did not happen is null. Events are [t_ns, tokens] pairs in arrival order.
#include <cstdio>
#include <string>
#include <vector>

#include "loadgen/request_record.h"
#include "loadgen/run_info.h"

namespace llmbench::report {

// Appends one line (with '\n') for `record` to `out`.
void append_request_line(std::string& out, const loadgen::RequestRecord& record, int64_t origin_ns);

// Writes all records, in the given order, atomically to `path` (throws std::runtime_error on I/O
// failure, leaving any previous file untouched).
void write_requests_jsonl(const std::string& path, const std::vector<loadgen::RequestRecord>& records,
                          const loadgen::RunInfo& info);

}  // namespace llmbench::report

#pragma once
// One self-contained HTML file (opens offline) from benchmark results: summary table, TTFT and ITL
// CDFs, throughput versus latency across a sweep, time series of throughput, KV-cache usage,
// running/waiting requests and GPU memory. Chart.js is embedded at build time.
#include <string>
#include <vector>

#include "report/result_files.h"

namespace llmbench::report {

std::string render_html_report(const std::vector<ResultFile>& runs, const std::string& title);

}  // namespace llmbench::report

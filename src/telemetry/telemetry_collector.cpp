#include "telemetry/telemetry_collector.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "net/http_client.h"
#include "telemetry/nvml_sampler.h"
#include "telemetry/prometheus_parser.h"

namespace llmbench::telemetry {
namespace {

enum class Phase : uint8_t { kBefore, kDuring, kAfter };

// Resolves the URL to scrape: the explicit one, else the base URL's origin + metrics_path.
std::optional<net::Url> metrics_url_for(const std::string& base_url, const TelemetryOptions& options,
                                        std::string* error) {
  std::string text = options.metrics_url;
  if (text.empty()) {
    std::optional<net::Url> base = net::Url::parse(base_url, error);
    if (!base) return std::nullopt;
    std::string path = options.metrics_path.empty() ? "/metrics" : options.metrics_path;
    if (path[0] != '/') path.insert(path.begin(), '/');
    text = base->origin() + path;
  }
  return net::Url::parse(text, error);
}

}  // namespace

struct TelemetryCollector::Impl final : net::ResponseHandler {
  Impl(std::string base, TelemetryOptions opts)
      : base_url(std::move(base)), options(std::move(opts)), recorder(options.recorder) {
    options.interval_ms = std::max<int64_t>(options.interval_ms, 10);
  }

  // --- configuration, fixed after start() ---
  std::string base_url;
  TelemetryOptions options;
  std::string metrics_url_text;
  std::unique_ptr<net::EventLoop> loop;
  std::unique_ptr<net::HttpClient> client;
  std::unique_ptr<NvmlSampler> nvml;
  std::string gpu_unavailable_reason;
  int64_t t0_ns = 0;
  std::thread thread;
  std::shared_ptr<void> keep_alive;

  // --- shared with report() ---
  mutable std::mutex mu;
  TelemetryRecorder recorder;
  std::vector<std::string> notices;
  bool scraping = false;  // false once the target proved to have no /metrics
  bool started = false;
  bool stopped = false;

  // --- phase hand-off between the caller and the loop thread ---
  std::condition_variable cv;
  bool before_done = false;
  bool after_done = false;

  // --- loop thread only ---
  bool in_flight = false;
  bool stopping = false;
  Phase in_flight_phase = Phase::kDuring;
  int64_t sent_ns = 0;
  int64_t next_tick_ns = 0;
  std::string body;
  int http_status = 0;

  double t_of(int64_t ns) const { return ns_to_s(ns - t0_ns); }

  void signal(Phase phase) {
    std::lock_guard<std::mutex> lock(mu);
    if (phase == Phase::kBefore) before_done = true;
    if (phase == Phase::kAfter) after_done = true;
    cv.notify_all();
  }

  bool scraping_enabled() {
    std::lock_guard<std::mutex> lock(mu);
    return scraping;
  }

  void sample_gpus() {
    if (!nvml) return;
    for (size_t i = 0; i < nvml->devices().size(); ++i) {
      GpuSample s = nvml->sample(i);
      int64_t at = now_ns();
      std::lock_guard<std::mutex> lock(mu);
      recorder.add_gpu_sample(t_of(at), i, s);
    }
  }

  // One reading: GPUs now, /metrics asynchronously. Returns false when no scrape was started.
  bool reading(Phase phase) {
    sample_gpus();
    if (!client || !scraping_enabled()) return false;
    if (in_flight) {
      std::lock_guard<std::mutex> lock(mu);
      recorder.add_scrape_skipped();
      return false;
    }
    net::HttpRequest request;
    request.method = "GET";
    request.content_type.clear();
    request.headers.emplace_back("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1");
    body.clear();
    http_status = 0;
    in_flight = true;
    in_flight_phase = phase;
    sent_ns = now_ns();
    client->send(request, this);
    return true;
  }

  void tick() {
    if (stopping) return;
    reading(Phase::kDuring);
    int64_t now = now_ns();
    next_tick_ns += options.interval_ms * 1'000'000;
    if (next_tick_ns <= now) {  // the loop fell behind (a slow scrape or a loaded machine): skip ahead
      int64_t interval_ns = options.interval_ms * 1'000'000;
      next_tick_ns += ((now - next_tick_ns) / interval_ns + 1) * interval_ns;
    }
    loop->post_at(next_tick_ns, [this] { tick(); });
  }

  void begin() {  // on the loop thread
    if (!reading(Phase::kBefore)) after_before();
  }

  void after_before() {
    signal(Phase::kBefore);
    next_tick_ns = now_ns() + options.interval_ms * 1'000'000;
    loop->post_at(next_tick_ns, [this] { tick(); });
  }

  void finish() {  // on the loop thread
    stopping = true;
    if (in_flight) {
      in_flight_phase = Phase::kAfter;  // the scrape under way becomes the last one... and one more after it
      final_pending = true;
      return;
    }
    if (!reading(Phase::kAfter)) done();
  }
  bool final_pending = false;

  void done() {
    signal(Phase::kAfter);
    keep_alive.reset();
    loop->stop();
  }

  // --- net::ResponseHandler, on the loop thread ---
  void on_headers(int status, std::string_view, int64_t) override { http_status = status; }
  void on_body(std::string_view data, int64_t) override { body.append(data.data(), data.size()); }
  void on_complete(const net::Outcome& outcome, int64_t end_ns) override {
    in_flight = false;
    double duration_ms = ns_to_ms(end_ns - sent_ns);
    double t = t_of(sent_ns);
    if (outcome.failure == net::FailureKind::kNone && http_status >= 200 && http_status < 300) {
      Exposition exposition = parse_prometheus_text(body);
      std::lock_guard<std::mutex> lock(mu);
      recorder.add_scrape(t, exposition, duration_ms);
    } else {
      std::string reason;
      if (outcome.failure == net::FailureKind::kHttpStatus || outcome.failure == net::FailureKind::kNone) {
        reason = fmt::format("HTTP {}", outcome.http_status != 0 ? outcome.http_status : http_status);
      } else {
        reason = outcome.detail.empty() ? std::string(net::to_string(outcome.failure))
                                        : fmt::format("{}: {}", net::to_string(outcome.failure), outcome.detail);
      }
      int status = outcome.http_status != 0 ? outcome.http_status : http_status;
      std::lock_guard<std::mutex> lock(mu);
      recorder.add_scrape_failure(t, reason, duration_ms);
      if (status == 404 || status == 405 || status == 501) {
        // The target has no /metrics: say so once and stop asking.
        scraping = false;
        notices.push_back(fmt::format("server telemetry off: {} answered HTTP {} (no Prometheus /metrics endpoint)",
                                      metrics_url_text, status));
      }
    }
    body.clear();
    body.shrink_to_fit();
    Phase phase = in_flight_phase;
    if (phase == Phase::kBefore) {
      after_before();
    } else if (phase == Phase::kAfter) {
      if (final_pending) {
        final_pending = false;
        if (reading(Phase::kAfter)) return;
      }
      done();
    }
  }
};

TelemetryCollector::TelemetryCollector(std::string base_url, TelemetryOptions options)
    : impl_(std::make_unique<Impl>(std::move(base_url), std::move(options))) {}

TelemetryCollector::~TelemetryCollector() {
  stop();
}

void TelemetryCollector::start(int64_t run_start_ns) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.started) return;
    s.started = true;
  }
  s.t0_ns = run_start_ns != 0 ? run_start_ns : now_ns();
  s.loop = std::make_unique<net::EventLoop>();

  if (s.options.scrape_server) {
    std::string error;
    std::optional<net::Url> url = metrics_url_for(s.base_url, s.options, &error);
    if (!url) {
      s.notices.push_back(fmt::format("server telemetry off: bad metrics URL ({})", error));
    } else {
      s.metrics_url_text = url->origin() + url->target;
      net::ClientOptions client_options;
      client_options.connect_timeout_ms = s.options.scrape_timeout_ms;
      client_options.read_timeout_ms = s.options.scrape_timeout_ms;
      client_options.total_timeout_ms = s.options.scrape_timeout_ms;
      client_options.max_connections_per_host = 2;
      client_options.max_body_bytes = s.options.max_body_bytes;
      client_options.headers = s.options.headers;
      client_options.bearer_token = s.options.bearer_token;
      client_options.verify_tls = s.options.verify_tls;
      s.client = std::make_unique<net::HttpClient>(*s.loop, *url, client_options);
      s.scraping = true;
    }
  }
  if (s.options.sample_gpu) {
    std::string why_not;
    s.nvml = NvmlSampler::open(s.options.nvml_library, &why_not);
    if (s.nvml) {
      s.recorder.set_gpu_devices(s.nvml->devices());
    } else {
      s.gpu_unavailable_reason = why_not;
      s.notices.push_back("GPU telemetry off: " + why_not);
    }
  }

  s.keep_alive = s.loop->keep_alive();
  s.thread = std::thread([&s] { s.loop->run(); });
  s.loop->post([&s] { s.begin(); });
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait_for(lock, std::chrono::milliseconds(s.options.scrape_timeout_ms + 2000), [&s] { return s.before_done; });
}

void TelemetryCollector::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.started || s.stopped) return;
    s.stopped = true;
  }
  s.loop->post([&s] { s.finish(); });
  {
    std::unique_lock<std::mutex> lock(s.mu);
    // Two scrapes at most (one under way, then the final one), each bounded by the client's timeout.
    s.cv.wait_for(lock, std::chrono::milliseconds(2 * s.options.scrape_timeout_ms + 2000),
                  [&s] { return s.after_done; });
  }
  s.loop->stop();
  if (s.thread.joinable()) s.thread.join();
  if (s.client) s.client->cancel_all();  // nothing should be pending; if it is, finish it off here
  s.client.reset();
}

TelemetryReport TelemetryCollector::report() const {
  const Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  TelemetryReport out = s.recorder.report();
  out.server_enabled = s.options.scrape_server;
  out.metrics_url = s.metrics_url_text;
  out.gpu_enabled = s.options.sample_gpu;
  out.gpu_unavailable_reason = s.gpu_unavailable_reason;
  out.notices = s.notices;
  const ScrapeStats& sc = out.scrapes;
  if (s.scraping && sc.attempts > 0 && sc.successes == 0) {
    out.notices.push_back(
        fmt::format("server telemetry: every scrape of {} failed (last: {})", s.metrics_url_text, sc.last_error));
  } else if (sc.failures > 0 && sc.successes > 0) {
    out.notices.push_back(fmt::format("server telemetry: {} of {} scrapes of {} failed (last: {})", sc.failures,
                                      sc.attempts, s.metrics_url_text, sc.last_error));
  }
  if (sc.parse_issues > 0 && !sc.first_parse_issues.empty()) {
    out.notices.push_back(fmt::format("server telemetry: {} malformed /metrics lines skipped (first: line {}: {})",
                                      sc.parse_issues, sc.first_parse_issues.front().line,
                                      sc.first_parse_issues.front().reason));
  }
  if (out.raw_capped) {
    out.notices.push_back(fmt::format("server telemetry: raw series capped at {}; {} more not kept",
                                      s.options.recorder.max_raw_series, out.raw_series_dropped));
  }
  return out;
}

}  // namespace llmbench::telemetry

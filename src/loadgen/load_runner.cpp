#include "loadgen/load_runner.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <stdexcept>

#include "core/clock.h"
#include "loadgen/stream_decoder.h"

namespace llmbench::loadgen {

const char* failure_kind_name(net::FailureKind kind) {
  switch (kind) {
    case net::FailureKind::kNone:
      return "";
    case net::FailureKind::kConnectRefused:
      return "connection_refused";
    case net::FailureKind::kConnectTimeout:
      return "connect_timeout";
    case net::FailureKind::kDns:
      return "dns_error";
    case net::FailureKind::kTls:
      return "tls_error";
    case net::FailureKind::kReadTimeout:
      return "read_timeout";
    case net::FailureKind::kTotalTimeout:
      return "request_timeout";
    case net::FailureKind::kConnectionClosed:
      return "connection_closed";
    case net::FailureKind::kHttpStatus:
      return "http_error";
    case net::FailureKind::kProtocol:
      return "protocol_error";
    case net::FailureKind::kBodyTooLarge:
      return "body_too_large";
    case net::FailureKind::kCancelled:
      return "cancelled";
    case net::FailureKind::kOther:
      return "other";
  }
  return "other";
}

namespace {
constexpr size_t kMaxErrorBody = 1024;
enum class Phase { kIdle, kWarmup, kMeasure, kDone };
}  // namespace

// One request in flight: the response handler. Reused across requests (pooled).
struct Slot final : net::ResponseHandler {
  LoadRunner::Impl* runner = nullptr;
  size_t record = 0;
  int32_t worker = -1;
  bool event_stream = true;
  int status = 0;
  std::string error_body;
  StreamDecoder decoder;

  explicit Slot(std::shared_ptr<net::EventDecoder> json) : decoder(std::move(json)) {
    error_body.reserve(kMaxErrorBody);
  }
  void on_sent(int64_t sent_ns) override;
  void on_headers(int status_code, std::string_view content_type, int64_t arrived_ns) override;
  void on_body(std::string_view data, int64_t arrived_ns) override;
  void on_complete(const net::Outcome& outcome, int64_t end_ns) override;
};

struct LoadRunner::Impl {
  net::Url base_url;
  LoadOptions options;
  std::vector<workload::RequestSpec> specs;
  std::vector<net::HttpRequest> requests;  // built before the clock starts
  net::EventLoop loop;
  std::unique_ptr<net::HttpClient> client;
  std::shared_ptr<void> guard;
  LiveCounters counters;

  std::deque<RequestRecord> records;
  std::shared_ptr<net::EventDecoder> event_decoder;  // one JSON decoder for all streams of the loop
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<Slot*> free_slots;

  Phase phase = Phase::kIdle;
  bool stopping = false;
  bool drain_timer_set = false;
  int64_t warmups_issued = 0;
  int64_t next_index = 0;  // next measured request index
  int64_t in_flight = 0;
  int64_t measured_in_flight = 0;
  std::optional<ArrivalSchedule> schedule;
  bool arrivals_done = false;
  std::deque<std::pair<int64_t, int64_t>> waiting;  // open loop (index, scheduled_ns) waiting for a slot
  int64_t deadline_ns = 0;
  RunOutcome outcome;

  Impl(net::Url url, std::vector<workload::RequestSpec> s, LoadOptions o)
      : base_url(std::move(url)), options(std::move(o)), specs(std::move(s)) {}
  ~Impl() { client.reset(); }  // before the slots it may still call back

  void start();
  void begin_measure();
  void issue_warmup(int32_t worker);
  void issue_closed(int32_t worker);
  void schedule_next_arrival();
  void on_arrival(int64_t index, int64_t scheduled_ns);
  void send(int64_t index, int32_t worker, int64_t scheduled_ns, bool warmup);
  void on_done(Slot* slot, const net::Outcome& outcome, int64_t end_ns);
  void stop(std::string reason, bool partial);
  void maybe_finish();
  bool more_measured() const { return !stopping && (options.num_prompts == 0 || next_index < options.num_prompts); }
};

void Slot::on_sent(int64_t sent_ns) {
  runner->records[record].written_ns = sent_ns;
}

void Slot::on_headers(int status_code, std::string_view content_type, int64_t arrived_ns) {
  status = status_code;
  auto& rec = runner->records[record];
  rec.headers_ns = arrived_ns;
  rec.http_status = status_code;
  event_stream = content_type.find("application/json") == std::string_view::npos;
  decoder.reset(event_stream);
}

void Slot::on_body(std::string_view data, int64_t arrived_ns) {
  auto& rec = runner->records[record];
  if (rec.first_byte_ns == 0) rec.first_byte_ns = arrived_ns;
  if (status >= 400) {
    const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, error_body.size());
    error_body.append(data.substr(0, room));
    return;
  }
  const size_t before = rec.events.size();
  decoder.feed(data, arrived_ns, rec.events);
  if (rec.first_token_ns == 0) {
    for (size_t i = before; i < rec.events.size(); ++i) {
      if (rec.events[i].tokens > 0) {
        rec.first_token_ns = rec.events[i].arrived_ns;
        break;
      }
    }
  }
  if (!rec.warmup) {
    int64_t tokens = 0;
    for (size_t i = before; i < rec.events.size(); ++i) tokens += rec.events[i].tokens;
    if (tokens) runner->counters.output_tokens.fetch_add(tokens, std::memory_order_relaxed);
  }
}

void Slot::on_complete(const net::Outcome& outcome, int64_t end_ns) {
  runner->on_done(this, outcome, end_ns);
}

void LoadRunner::Impl::start() {
  guard = loop.keep_alive();
  if (options.num_warmups > 0) {
    phase = Phase::kWarmup;
    const int32_t users = std::max(1, std::min(options.warmup_concurrency, options.num_warmups));
    for (int32_t w = 0; w < users; ++w) issue_warmup(w);
  } else {
    begin_measure();
  }
}

void LoadRunner::Impl::issue_warmup(int32_t worker) {
  if (stopping || warmups_issued >= options.num_warmups) return;
  const int64_t i = warmups_issued++;
  send(i, worker, now_ns(), /*warmup=*/true);
}

void LoadRunner::Impl::begin_measure() {
  phase = Phase::kMeasure;
  if (stopping) return maybe_finish();
  outcome.start_ns = now_ns();
  outcome.wall_start_ns = wall_now_ns();
  counters.measure_start_ns.store(outcome.start_ns, std::memory_order_relaxed);
  if (options.duration_s > 0) {
    deadline_ns = outcome.start_ns + s_to_ns(options.duration_s);
    loop.post_at(deadline_ns, [this] {
      if (phase == Phase::kMeasure && !stopping) stop("duration limit reached", /*partial=*/false);
    });
  }
  if (options.mode == LoadMode::kClosedLoop) {
    for (int32_t w = 0; w < options.concurrency && more_measured(); ++w) issue_closed(w);
  } else {
    schedule.emplace(options.arrival);
    schedule_next_arrival();
  }
  maybe_finish();
}

void LoadRunner::Impl::issue_closed(int32_t worker) {
  if (!more_measured()) return;
  const int64_t i = next_index++;
  send(i, worker, now_ns(), /*warmup=*/false);
}

void LoadRunner::Impl::schedule_next_arrival() {
  if (stopping || (options.num_prompts > 0 && schedule->index() >= options.num_prompts)) {
    arrivals_done = true;
    return;
  }
  const int64_t index = schedule->index();
  const int64_t at = outcome.start_ns + schedule->next_offset_ns();
  if (deadline_ns > 0 && at >= deadline_ns) {
    arrivals_done = true;
    return;
  }
  loop.post_at(at, [this, index, at] { on_arrival(index, at); });
}

void LoadRunner::Impl::on_arrival(int64_t index, int64_t scheduled_ns) {
  if (stopping) return;
  next_index = index + 1;
  schedule_next_arrival();  // absolute time of the next one, before this send's work
  if (options.max_concurrency > 0 && measured_in_flight >= options.max_concurrency) {
    waiting.emplace_back(index, scheduled_ns);
  } else {
    send(index, -1, scheduled_ns, /*warmup=*/false);
  }
  maybe_finish();
}

void LoadRunner::Impl::send(int64_t index, int32_t worker, int64_t scheduled_ns, bool warmup) {
  const auto& spec = specs[static_cast<size_t>(index) % specs.size()];
  const auto& request = requests[static_cast<size_t>(index) % requests.size()];
  records.emplace_back();
  auto& rec = records.back();
  rec.index = static_cast<uint64_t>(index);
  rec.worker = worker;
  rec.warmup = warmup;
  rec.scheduled_ns = scheduled_ns;
  rec.prompt_tokens_sent = spec.prompt_tokens_sent;
  rec.max_tokens = spec.max_tokens;
  rec.events.reserve(static_cast<size_t>(std::max(spec.max_tokens, 0)) + 8);

  Slot* slot;
  if (free_slots.empty()) {
    slots.push_back(std::make_unique<Slot>(event_decoder));
    slot = slots.back().get();
    slot->runner = this;
    slot->decoder.keep_text(options.keep_output_text);
  } else {
    slot = free_slots.back();
    free_slots.pop_back();
  }
  slot->record = records.size() - 1;
  slot->worker = worker;
  slot->status = 0;
  slot->event_stream = true;
  slot->error_body.clear();
  slot->decoder.reset(true);

  ++in_flight;
  if (!warmup) {
    ++measured_in_flight;
    outcome.peak_in_flight = std::max(outcome.peak_in_flight, measured_in_flight);
    counters.sent.fetch_add(1, std::memory_order_relaxed);
    counters.in_flight.store(measured_in_flight, std::memory_order_relaxed);
  }
  rec.sent_ns = now_ns();
  client->send(request, slot);
}

void LoadRunner::Impl::on_done(Slot* slot, const net::Outcome& result, int64_t end_ns) {
  auto& rec = records[slot->record];
  rec.end_ns = end_ns;
  if (result.http_status) rec.http_status = result.http_status;
  if (result.failure == net::FailureKind::kNone && rec.http_status < 400) {
    slot->decoder.finish(end_ns, rec.events);
    if (slot->decoder.failed()) {
      rec.status = RequestStatus::kFailed;
      rec.failure_kind = slot->decoder.failure_kind();
      rec.error = slot->decoder.error();
    }
  } else if (result.failure == net::FailureKind::kCancelled) {
    rec.status = RequestStatus::kCancelled;
    rec.failure_kind = "cancelled";
    rec.error = result.detail.empty() ? "cancelled" : result.detail;
  } else if (result.failure == net::FailureKind::kHttpStatus || (result.failure == net::FailureKind::kNone)) {
    rec.status = RequestStatus::kFailed;
    rec.failure_kind = "http_" + std::to_string(rec.http_status);
    rec.error = slot->error_body.empty() ? result.detail : slot->error_body;
  } else {
    rec.status = RequestStatus::kFailed;
    rec.failure_kind = failure_kind_name(result.failure);
    rec.error = result.detail;
  }
  // Mid-stream protocol errors found by the decoder take precedence over a clean close only;
  // a transport failure keeps its own reason.
  const auto& dec = slot->decoder;
  int64_t summed = 0;
  for (const auto& e : rec.events) summed += e.tokens;
  rec.output_tokens = dec.usage_completion_tokens() >= 0 ? dec.usage_completion_tokens() : static_cast<int32_t>(summed);
  rec.token_source = dec.chunk_counted() ? TokenCountSource::kChunkCount : TokenCountSource::kServerUsage;
  rec.prompt_tokens = dec.usage_prompt_tokens() >= 0 ? dec.usage_prompt_tokens() : rec.prompt_tokens_sent;
  rec.finish_reason = dec.finish_reason();
  rec.output_text_bytes = dec.output_text_bytes();
  if (options.keep_output_text) rec.output_text = dec.text();

  const bool warmup = rec.warmup;
  const int32_t worker = slot->worker;
  free_slots.push_back(slot);
  --in_flight;
  if (!warmup) {
    --measured_in_flight;
    counters.in_flight.store(measured_in_flight, std::memory_order_relaxed);
    counters.completed.fetch_add(1, std::memory_order_relaxed);
    if (rec.status != RequestStatus::kOk) counters.failed.fetch_add(1, std::memory_order_relaxed);
  }

  // What comes next runs from the loop, never inside the client's callback.
  if (phase == Phase::kWarmup) {
    loop.post([this, worker] {
      if (!stopping && warmups_issued < options.num_warmups) {
        issue_warmup(worker);
      } else if (in_flight == 0) {
        if (phase == Phase::kWarmup) begin_measure();
      }
    });
    return;
  }
  if (phase != Phase::kMeasure) return;
  if (options.mode == LoadMode::kClosedLoop) {
    loop.post([this, worker] {
      issue_closed(worker);
      maybe_finish();
    });
  } else {
    loop.post([this] {
      while (!stopping && !waiting.empty() &&
             (options.max_concurrency == 0 || measured_in_flight < options.max_concurrency)) {
        auto [index, scheduled] = waiting.front();
        waiting.pop_front();
        send(index, -1, scheduled, /*warmup=*/false);
      }
      maybe_finish();
    });
  }
}

void LoadRunner::Impl::stop(std::string reason, bool partial) {
  if (phase == Phase::kDone) return;
  if (!stopping) {
    stopping = true;
    outcome.partial = outcome.partial || partial;
    if (outcome.partial_reason.empty()) outcome.partial_reason = std::move(reason);
    // Arrivals that never got a slot: recorded as cancelled, never sent.
    for (auto [index, scheduled] : waiting) {
      records.emplace_back();
      auto& rec = records.back();
      rec.index = static_cast<uint64_t>(index);
      rec.scheduled_ns = scheduled;
      rec.end_ns = now_ns();
      rec.status = RequestStatus::kCancelled;
      rec.failure_kind = "cancelled";
      rec.error = "never sent: waiting for a concurrency slot when the run stopped";
      outcome.partial = true;
    }
    waiting.clear();
    arrivals_done = true;
  }
  if (in_flight > 0 && !drain_timer_set) {
    drain_timer_set = true;
    loop.post_at(now_ns() + s_to_ns(options.drain_timeout_s), [this] {
      if (in_flight > 0) {
        outcome.partial = true;
        if (outcome.partial_reason.empty()) outcome.partial_reason = "drain timeout";
        client->cancel_all();
      }
    });
  }
  maybe_finish();
}

void LoadRunner::Impl::maybe_finish() {
  if (phase == Phase::kDone || in_flight > 0) return;
  bool finished = stopping;
  if (phase == Phase::kMeasure && !finished) {
    finished = options.mode == LoadMode::kClosedLoop ? !more_measured() : (arrivals_done && waiting.empty());
  }
  if (!finished) return;
  phase = Phase::kDone;
  outcome.end_ns = now_ns();
  if (outcome.start_ns == 0) outcome.start_ns = outcome.end_ns;
  guard.reset();
  loop.stop();
}

LoadRunner::LoadRunner(net::Url base_url, std::vector<workload::RequestSpec> specs, LoadOptions options)
    : impl_(std::make_unique<Impl>(std::move(base_url), std::move(specs), std::move(options))) {
  auto& o = impl_->options;
  if (impl_->specs.empty()) throw std::invalid_argument("no requests to send");
  if (o.mode == LoadMode::kClosedLoop && o.concurrency < 1) throw std::invalid_argument("concurrency must be >= 1");
  if (o.max_concurrency < 0) throw std::invalid_argument("max concurrency must be >= 0");
  if (o.num_prompts < 0) throw std::invalid_argument("number of prompts must be >= 0");
  if (o.num_prompts == 0 && !(o.duration_s > 0)) throw std::invalid_argument("need --num-prompts or --duration");
  if (o.duration_s < 0 || !std::isfinite(o.duration_s)) throw std::invalid_argument("duration must be >= 0");
  if (o.num_warmups < 0) throw std::invalid_argument("number of warm-ups must be >= 0");
  if (o.mode == LoadMode::kOpenLoop) {
    if (o.arrival.ramp_up != RampUp::kNone && o.arrival.ramp_up_duration_s <= 0) {
      o.arrival.ramp_up_requests = o.num_prompts;
    }
    validate(o.arrival);
  }
  impl_->event_decoder = std::make_shared<net::EventDecoder>(workload::to_dialect(o.backend));
  impl_->requests.reserve(impl_->specs.size());
  for (const auto& spec : impl_->specs) {
    net::HttpRequest request;
    request.target = spec.target;
    request.body = spec.body;
    impl_->requests.push_back(std::move(request));
  }
  impl_->client = std::make_unique<net::HttpClient>(impl_->loop, impl_->base_url, o.client);
}

LoadRunner::~LoadRunner() = default;

RunOutcome LoadRunner::run() {
  auto& impl = *impl_;
  impl.loop.post([&impl] { impl.start(); });
  impl.loop.run();
  impl.client->cancel_all();
  RunOutcome out = std::move(impl.outcome);
  out.records.reserve(impl.records.size());
  for (auto& r : impl.records) out.records.push_back(std::move(r));
  impl.records.clear();
  return out;
}

void LoadRunner::request_stop(std::string reason) {
  impl_->loop.post([impl = impl_.get(), reason = std::move(reason)]() mutable { impl->stop(std::move(reason), true); });
}

const LiveCounters& LoadRunner::counters() const {
  return impl_->counters;
}

}  // namespace llmbench::loadgen

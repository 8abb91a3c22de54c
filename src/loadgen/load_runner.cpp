#include "loadgen/load_runner.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

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
    case net::FailureKind::kAdapterExited:
      return "adapter_exited";
    case net::FailureKind::kAdapterProtocol:
      return "adapter_protocol";
    case net::FailureKind::kAdapterError:
      return "adapter_error";
  }
  return "other";
}

namespace detail {
constexpr size_t kMaxErrorBody = 1024;
enum class Phase { kIdle, kWarmup, kMeasure, kDone };
struct Shard;
}  // namespace detail

// What every shard shares: the options, the pre-built requests, live counters and the next
// measured request index (closed loop).
struct SharedRun {
  LoadOptions options;
  std::vector<workload::RequestSpec> specs;
  std::vector<net::HttpRequest> requests;  // built before the clock starts
  LiveCounters counters;
  std::atomic<int64_t> next_index{0};
};

namespace detail {

// One request in flight: the response handler. Reused across requests (pooled).
struct Slot final : net::ResponseHandler {
  Shard* runner = nullptr;
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
  void on_engine_first_token(int64_t engine_ns) override;
};

// One event loop, its thread's connections and records: closed-loop users w with w % count == id,
// open-loop arrivals i with i % count == id, and a share of --max-concurrency.
struct Shard {
  SharedRun& shared;
  const LoadOptions& options;
  const int id;
  const int count;
  const int32_t cap;  // this shard's share of max_concurrency (0 = none)
  net::EventLoop loop;
  std::unique_ptr<net::Transport> client;
  std::shared_ptr<void> guard;

  std::deque<RequestRecord> records;
  std::shared_ptr<net::EventDecoder> event_decoder;  // one JSON decoder for all streams of the loop
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<Slot*> free_slots;

  Phase phase = Phase::kIdle;
  bool stopping = false;
  bool drain_timer_set = false;
  int64_t warmups_issued = 0;
  int64_t in_flight = 0;
  int64_t measured_in_flight = 0;
  std::optional<ArrivalSchedule> schedule;
  bool arrivals_done = false;
  std::deque<std::pair<int64_t, int64_t>> waiting;  // open loop (index, scheduled_ns) waiting for a slot
  // Closed loop: a user whose request could not even connect waits before its next one (1 ms,
  // doubling to 1 s, reset by any request that connects), so a dead or restarting server is not
  // hammered by a tight loop of refused connections, each leaving a record (millions a minute).
  std::unordered_map<int32_t, int64_t> connect_backoff_ns;
  int64_t deadline_ns = 0;
  RunOutcome outcome;

  Shard(SharedRun& s, const net::Url& url, int shard_id, int shard_count, int32_t shard_cap)
      : shared(s), options(s.options), id(shard_id), count(shard_count), cap(shard_cap) {
    if (options.transport_factory) {
      client = options.transport_factory(loop);
    } else {
      client = std::make_unique<net::HttpClient>(loop, url, options.client);
    }
    event_decoder = std::make_shared<net::EventDecoder>(workload::to_dialect(options.backend));
  }
  ~Shard() { client.reset(); }  // before the slots it may still call back

  LiveCounters& counters() { return shared.counters; }
  void run_warmups();
  void run_measure(int64_t start_ns);
  void post_stop(std::string reason) {
    loop.post([this, reason = std::move(reason)]() mutable { stop(std::move(reason), true); });
  }

  void issue_warmup(int32_t worker);
  void begin_measure(int64_t start_ns);
  void issue_closed(int32_t worker);
  void schedule_next_arrival();
  void on_arrival(int64_t index, int64_t scheduled_ns);
  void send(int64_t index, int32_t worker, int64_t scheduled_ns, bool warmup);
  void on_done(Slot* slot, const net::Outcome& outcome, int64_t end_ns);
  void stop(std::string reason, bool partial);
  void maybe_finish();
  bool more_measured() const {
    return !stopping &&
           (options.num_prompts == 0 || shared.next_index.load(std::memory_order_relaxed) < options.num_prompts);
  }
};

void Slot::on_sent(int64_t sent_ns) {
  runner->records[record].written_ns = sent_ns;
}

// The engine's own time to first token on the shared monotonic clock (exec backend adapters).
void Slot::on_engine_first_token(int64_t engine_ns) {
  auto& rec = runner->records[record];
  if (rec.sent_ns != 0 && engine_ns > rec.sent_ns) rec.server_ttft_ns = engine_ns - rec.sent_ns;
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
    if (tokens) runner->counters().output_tokens.fetch_add(tokens, std::memory_order_relaxed);
  }
}

void Slot::on_complete(const net::Outcome& outcome, int64_t end_ns) {
  runner->on_done(this, outcome, end_ns);
}

void Shard::run_warmups() {
  phase = Phase::kWarmup;
  guard = loop.keep_alive();
  loop.post([this] {
    const int32_t users = std::max(1, std::min(options.warmup_concurrency, options.num_warmups));
    for (int32_t w = 0; w < users; ++w) issue_warmup(w);
    maybe_finish();
  });
  loop.run();
}

void Shard::run_measure(int64_t start_ns) {
  phase = Phase::kMeasure;
  guard = loop.keep_alive();
  loop.post_at(start_ns, [this, start_ns] { begin_measure(start_ns); });  // every thread starts at t = 0
  loop.run();
}

void Shard::issue_warmup(int32_t worker) {
  if (stopping || warmups_issued >= options.num_warmups) return;
  const int64_t i = warmups_issued++;
  send(i, worker, now_ns(), /*warmup=*/true);
}

void Shard::begin_measure(int64_t start_ns) {
  if (stopping) return maybe_finish();
  outcome.start_ns = start_ns;
  outcome.wall_start_ns = wall_now_ns() - (now_ns() - start_ns);
  counters().measure_start_ns.store(outcome.start_ns, std::memory_order_relaxed);
  if (options.duration_s > 0) {
    deadline_ns = outcome.start_ns + s_to_ns(options.duration_s);
    loop.post_at(deadline_ns, [this] {
      if (phase == Phase::kMeasure && !stopping) stop("duration limit reached", /*partial=*/false);
    });
  }
  if (options.mode == LoadMode::kClosedLoop) {
    for (int32_t w = id; w < options.concurrency && more_measured(); w += count) issue_closed(w);
  } else {
    schedule.emplace(options.arrival);
    schedule_next_arrival();
  }
  maybe_finish();
}

void Shard::issue_closed(int32_t worker) {
  if (stopping) return;
  const int64_t i = shared.next_index.fetch_add(1, std::memory_order_relaxed);
  if (options.num_prompts > 0 && i >= options.num_prompts) return;
  send(i, worker, now_ns(), /*warmup=*/false);
}

void Shard::schedule_next_arrival() {
  // Every shard walks the whole schedule (same seed) and sends its own share of it.
  for (;;) {
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
    if (index % count == id) {
      loop.post_at(at, [this, index, at] { on_arrival(index, at); });
      return;
    }
  }
}

void Shard::on_arrival(int64_t index, int64_t scheduled_ns) {
  if (stopping) return;
  schedule_next_arrival();  // absolute time of the next one, before this send's work
  if (cap > 0 && measured_in_flight >= cap) {
    waiting.emplace_back(index, scheduled_ns);
  } else {
    send(index, -1, scheduled_ns, /*warmup=*/false);
  }
  maybe_finish();
}

void Shard::send(int64_t index, int32_t worker, int64_t scheduled_ns, bool warmup) {
  const auto& spec = shared.specs[static_cast<size_t>(index) % shared.specs.size()];
  const auto& request = shared.requests[static_cast<size_t>(index) % shared.requests.size()];
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
    counters().sent.fetch_add(1, std::memory_order_relaxed);
    counters().in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  rec.sent_ns = now_ns();
  client->send(request, slot);
}

void Shard::on_done(Slot* slot, const net::Outcome& result, int64_t end_ns) {
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
    // "HTTP 429 Too Many Requests (Retry-After: 1): <the server's error body>"
    rec.error = slot->error_body.empty() || result.detail.empty() ? result.detail + slot->error_body
                                                                  : result.detail + ": " + slot->error_body;
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
    counters().in_flight.fetch_sub(1, std::memory_order_relaxed);
    counters().completed.fetch_add(1, std::memory_order_relaxed);
    if (rec.status != RequestStatus::kOk) counters().failed.fetch_add(1, std::memory_order_relaxed);
  }

  // What comes next runs from the loop, never inside the client's callback.
  if (phase == Phase::kWarmup) {
    loop.post([this, worker] {
      issue_warmup(worker);
      maybe_finish();
    });
    return;
  }
  if (phase != Phase::kMeasure) return;
  if (options.mode == LoadMode::kClosedLoop) {
    const bool no_connection = result.failure == net::FailureKind::kConnectRefused ||
                               result.failure == net::FailureKind::kConnectTimeout ||
                               result.failure == net::FailureKind::kDns;
    int64_t delay_ns = 0;
    if (no_connection) {
      int64_t& backoff = connect_backoff_ns[worker];
      backoff = backoff == 0 ? 1'000'000 : std::min<int64_t>(backoff * 2, 1'000'000'000);
      delay_ns = backoff;
    } else {
      connect_backoff_ns.erase(worker);
    }
    auto next = [this, worker] {
      issue_closed(worker);
      maybe_finish();
    };
    if (delay_ns > 0) {
      loop.post_at(now_ns() + delay_ns, std::move(next));
    } else {
      loop.post(std::move(next));
    }
  } else {
    loop.post([this] {
      while (!stopping && !waiting.empty() && (cap == 0 || measured_in_flight < cap)) {
        auto [index, scheduled] = waiting.front();
        waiting.pop_front();
        send(index, -1, scheduled, /*warmup=*/false);
      }
      maybe_finish();
    });
  }
}

void Shard::stop(std::string reason, bool partial) {
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

void Shard::maybe_finish() {
  if (phase == Phase::kDone || phase == Phase::kIdle || in_flight > 0) return;
  bool finished = stopping;
  if (phase == Phase::kWarmup) {
    finished = finished || warmups_issued >= options.num_warmups;
  } else if (!finished) {
    finished = options.mode == LoadMode::kClosedLoop ? !more_measured() : (arrivals_done && waiting.empty());
  }
  if (!finished) return;
  if (phase == Phase::kMeasure) outcome.end_ns = now_ns();
  phase = stopping || phase == Phase::kMeasure ? Phase::kDone : Phase::kIdle;
  guard.reset();
  loop.stop();
}

}  // namespace detail

using detail::Shard;

struct LoadRunner::Impl {
  net::Url base_url;
  std::unique_ptr<SharedRun> shared = std::make_unique<SharedRun>();
  std::mutex mutex;  // guards shards and stop_reason against request_stop from other threads
  std::vector<std::unique_ptr<Shard>> shards;
  std::string stop_reason;  // set once a stop was requested
};

// Peak number of measured requests in flight at once, from the records' send and end times.
static int64_t peak_in_flight(const std::vector<RequestRecord>& records) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const auto& r : records) {
    if (r.warmup || r.sent_ns == 0) continue;
    edges.emplace_back(r.sent_ns, +1);
    edges.emplace_back(r.end_ns ? r.end_ns : r.sent_ns, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times an end (-1) sorts before a send (+1)
  int64_t now = 0, peak = 0;
  for (const auto& e : edges) peak = std::max(peak, now += e.second);
  return peak;
}

LoadRunner::LoadRunner(net::Url base_url, std::vector<workload::RequestSpec> specs, LoadOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->base_url = std::move(base_url);
  auto& shared = *impl_->shared;
  shared.options = std::move(options);
  shared.specs = std::move(specs);
  auto& o = shared.options;
  if (shared.specs.empty()) throw std::invalid_argument("no requests to send");
  if (o.mode == LoadMode::kClosedLoop && o.concurrency < 1) throw std::invalid_argument("concurrency must be >= 1");
  if (o.max_concurrency < 0) throw std::invalid_argument("max concurrency must be >= 0");
  if (o.num_prompts < 0) throw std::invalid_argument("number of prompts must be >= 0");
  if (o.num_prompts == 0 && !(o.duration_s > 0)) throw std::invalid_argument("need --num-prompts or --duration");
  if (o.duration_s < 0 || !std::isfinite(o.duration_s)) throw std::invalid_argument("duration must be >= 0");
  if (o.num_warmups < 0) throw std::invalid_argument("number of warm-ups must be >= 0");
  if (o.num_threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (o.mode == LoadMode::kOpenLoop) {
    if (o.arrival.ramp_up != RampUp::kNone && o.arrival.ramp_up_duration_s <= 0) {
      o.arrival.ramp_up_requests = o.num_prompts;
    }
    validate(o.arrival);
  }
  shared.requests.reserve(shared.specs.size());
  for (const auto& spec : shared.specs) {
    net::HttpRequest request;
    request.target = spec.target;
    request.body = spec.body;
    request.headers.emplace_back("Accept", "text/event-stream");
    shared.requests.push_back(std::move(request));
  }
  // No more threads than users (closed loop) or slots (capped open loop): each needs work.
  int threads = o.num_threads;
  if (o.mode == LoadMode::kClosedLoop) threads = std::min(threads, o.concurrency);
  if (o.mode == LoadMode::kOpenLoop && o.max_concurrency > 0) threads = std::min(threads, o.max_concurrency);
  for (int k = 0; k < threads; ++k) {
    const int32_t cap = o.max_concurrency > 0 ? o.max_concurrency / threads + (k < o.max_concurrency % threads) : 0;
    impl_->shards.push_back(std::make_unique<Shard>(shared, impl_->base_url, k, threads, cap));
    for (const auto& request : shared.requests) impl_->shards.back()->client->prepare(request);
  }
}

LoadRunner::~LoadRunner() = default;

RunOutcome LoadRunner::run() {
  auto& impl = *impl_;
  const auto& o = impl.shared->options;
  auto stopped = [&impl] {
    std::lock_guard lock(impl.mutex);
    return !impl.stop_reason.empty();
  };
  // Warm-ups on the first shard, so its connections are warm for the measured run too.
  if (o.num_warmups > 0) impl.shards[0]->run_warmups();
  if (!stopped()) {
    // One common t = 0; shards on other threads get a moment to start so none begins late.
    const int64_t start_ns = now_ns() + (impl.shards.size() > 1 ? ms_to_ns(2) : 0);
    std::vector<std::thread> threads;
    for (size_t k = 1; k < impl.shards.size(); ++k) {
      threads.emplace_back([&impl, k, start_ns] { impl.shards[k]->run_measure(start_ns); });
    }
    impl.shards[0]->run_measure(start_ns);
    for (auto& t : threads) t.join();
  }
  // Merge the shards' records: warm-ups first, then measured requests by index.
  RunOutcome out;
  size_t total = 0;
  for (auto& shard : impl.shards) total += shard->records.size();
  out.records.reserve(total);
  for (auto& shard : impl.shards) {
    shard->client->cancel_all();
    for (auto& r : shard->records) out.records.push_back(std::move(r));
    shard->records.clear();
    const auto& so = shard->outcome;
    if (so.start_ns && (out.start_ns == 0 || so.start_ns < out.start_ns)) {
      out.start_ns = so.start_ns;
      out.wall_start_ns = so.wall_start_ns;
    }
    out.end_ns = std::max(out.end_ns, so.end_ns);
    out.partial = out.partial || so.partial;
    if (out.partial_reason.empty()) out.partial_reason = so.partial_reason;
  }
  std::stable_sort(out.records.begin(), out.records.end(), [](const RequestRecord& a, const RequestRecord& b) {
    if (a.warmup != b.warmup) return a.warmup;
    return a.index < b.index;
  });
  if (stopped()) {
    std::lock_guard lock(impl.mutex);
    out.partial = true;
    if (out.partial_reason.empty() || out.partial_reason == "duration limit reached")
      out.partial_reason = impl.stop_reason;
  }
  if (out.start_ns == 0) out.start_ns = out.end_ns = now_ns();
  if (out.wall_start_ns == 0) out.wall_start_ns = wall_now_ns();
  out.peak_in_flight = peak_in_flight(out.records);
  return out;
}

void LoadRunner::request_stop(std::string reason) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->stop_reason.empty()) return;
  impl_->stop_reason = reason.empty() ? "stopped" : reason;
  for (auto& shard : impl_->shards) shard->post_stop(impl_->stop_reason);
}

const LiveCounters& LoadRunner::counters() const {
  return impl_->shared->counters;
}

}  // namespace llmbench::loadgen

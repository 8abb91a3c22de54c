// bench/sse_client: how much SSE the HTTP client takes on one EventLoop thread.
//
// A zero-work SSE server runs in a forked child process (so the client's RSS is the client's
// alone) and streams vLLM-shaped completion chunks, chunked-encoded, each carrying the server's
// steady-clock send stamp ("t"; CLOCK_MONOTONIC is shared by both processes). The client runs one
// EventLoop thread: HttpClient + SseParser + EventDecoder (simdjson) on every event, as the load
// generator does. Phases:
//   throughput  S streams, each E events sent back to back (server batches writes): events/s
//   streams     2,000 concurrent streams, all open at once, all must complete
//   latency     1,000 streams, one event per stream every 50 ms: receive stamp - send stamp, once
//               every stream has had its first event (before that the loop is still opening
//               connections: those events are counted and left out)
//   memory      RSS delta / streams while 2,000 streams are open and idle between events
// During the latency phases an idle thread measures the machine's own stalls (as jHiccup does):
// it sleeps 200 us at a time and records every wake-up late by more than 500 us. Events whose
// send-to-receive window overlaps such a stall are counted, and the p99 is shown with and without
// them, so a stall of the (virtual) machine is not mistaken for the client's latency.
// Usage: sse_client_bench [--quick]; SSE_SLOW_TRACE=file.csv writes the latency phase's events
// slower than 500 us (receive time from the phase start, stream, its event number, latency).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "net/dialect.h"
#include "net/http_client.h"
#include "net/sse_parser.h"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using llmbench::now_ns;
using namespace llmbench::net;

namespace {

// ------------------------------------------------------------------------------------------
// Server (child process)

int64_t query_int(const std::string& target, const char* key, int64_t fallback) {
  const std::string k = std::string(key) + "=";
  const auto pos = target.find(k);
  if (pos == std::string::npos) return fallback;
  return std::strtoll(target.c_str() + pos + k.size(), nullptr, 10);
}

void append_event(std::string& out, int64_t i) {
  char payload[320];
  const int n =
      std::snprintf(payload, sizeof(payload),
                    "data: {\"t\":%lld,\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":"
                    "1700000000,\"model\":\"bench\",\"choices\":[{\"index\":0,\"text\":\" tok\",\"logprobs\":"
                    "null,\"finish_reason\":null,\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":8,"
                    "\"total_tokens\":%lld,\"completion_tokens\":%lld}}\n\n",
                    static_cast<long long>(now_ns()), static_cast<long long>(8 + i + 1), static_cast<long long>(i + 1));
  char head[16];
  const int h = std::snprintf(head, sizeof(head), "%x\r\n", n);
  out.append(head, static_cast<size_t>(h));
  out.append(payload, static_cast<size_t>(n));
  out += "\r\n";
}

asio::awaitable<void> serve_connection(tcp::socket socket) {
  try {
    socket.set_option(tcp::no_delay(true));
    std::string in;
    std::string out;
    asio::steady_timer timer(socket.get_executor());
    for (;;) {
      const size_t n =
          co_await asio::async_read_until(socket, asio::dynamic_buffer(in), "\r\n\r\n", asio::use_awaitable);
      const std::string target = in.substr(0, in.find("\r\n"));
      in.erase(0, n);
      const int64_t events = query_int(target, "events", 100);
      const int64_t interval_us = query_int(target, "interval_us", 0);
      const int64_t batch = std::max<int64_t>(1, query_int(target, "batch", 1));
      out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
      const int64_t start = now_ns();
      for (int64_t i = 0; i < events;) {
        if (interval_us > 0) {
          timer.expires_at(
              asio::steady_timer::time_point(std::chrono::nanoseconds(start + (i + 1) * interval_us * 1000)));
          co_await timer.async_wait(asio::use_awaitable);
        }
        out.clear();
        for (int64_t b = 0; b < batch && i < events; ++b, ++i) append_event(out, i);
        co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
      }
      out = "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
    }
  } catch (const std::exception&) {
  }
}

[[noreturn]] void run_server(int listen_fd) {
  asio::io_context ioc(1);
  tcp::acceptor acceptor(ioc);
  acceptor.assign(tcp::v4(), listen_fd);
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
          asio::co_spawn(ioc, serve_connection(std::move(s)), asio::detached);
        }
      },
      asio::detached);
  ioc.run();
  _exit(0);
}

// ------------------------------------------------------------------------------------------
// Client

struct Shared {
  EventDecoder decoder{ApiDialect::kOpenAICompletions};
  DecodedEvent decoded;
  uint64_t events = 0;
  uint64_t tokens = 0;
  uint64_t failures = 0;
  size_t completed = 0;
  size_t with_first_event = 0;
  std::vector<int64_t> latencies_ns;  // preallocated: receive stamp - server send stamp, per event
  std::vector<int64_t> arrivals_ns;   // receive stamp of the same events
  std::vector<int32_t> stream_of;     // which stream (in start order) and which of its events
  std::vector<int32_t> event_of;
  std::vector<int64_t> processing_ns;  // per read: end of handling (SSE + JSON decode) - receive stamp
  bool record_latency = false;
  size_t total_streams = 0;     // latency is recorded once every stream has had its first event
  uint64_t ramp_up_events = 0;  // events before that (connections still being opened)
  std::string first_failure;
};

struct Stream final : ResponseHandler {
  Shared* shared = nullptr;
  int32_t index = 0;
  int32_t events_seen = 0;
  SseParser sse{1u << 20};
  StreamState state;
  bool got_event = false;

  void on_body(std::string_view data, int64_t arrived_ns) override {
    sse.feed(data, arrived_ns, [this](const SseEvent& e) {
      Shared& s = *shared;
      ++s.events;
      if (!got_event) {
        got_event = true;
        ++s.with_first_event;
      }
      if (e.done) return;
      ++events_seen;
      const bool ramping = s.with_first_event < s.total_streams;
      if (s.record_latency && ramping) ++s.ramp_up_events;
      if (s.record_latency && !ramping && e.data.size() > 6 && e.data.compare(0, 5, "{\"t\":") == 0) {
        const int64_t sent = std::strtoll(e.data.data() + 5, nullptr, 10);
        if (s.latencies_ns.size() < s.latencies_ns.capacity()) {
          s.latencies_ns.push_back(e.arrived_ns - sent);
          s.arrivals_ns.push_back(e.arrived_ns);
          s.stream_of.push_back(index);
          s.event_of.push_back(events_seen);
        }
      }
      s.decoder.decode_event(e.data, &state, &s.decoded);
      s.tokens += static_cast<uint64_t>(s.decoded.tokens);
    });
    if (shared->record_latency && shared->processing_ns.size() < shared->processing_ns.capacity()) {
      shared->processing_ns.push_back(now_ns() - arrived_ns);
    }
  }
  void on_complete(const Outcome& outcome, int64_t) override {
    ++shared->completed;
    if (outcome.failure != FailureKind::kNone) {
      if (shared->failures++ == 0)
        shared->first_failure = std::string(to_string(outcome.failure)) + ": " + outcome.detail;
    }
  }
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

struct PhaseResult {
  double wall_s = 0;
  double cpu_s = 0;
  uint64_t events = 0;
  uint64_t tokens = 0;
  uint64_t failures = 0;
  size_t completed = 0;
  std::string first_failure;
  std::vector<int64_t> latencies_ns;
  std::vector<int64_t> arrivals_ns;
  std::vector<int32_t> stream_of;
  std::vector<int32_t> event_of;
  int64_t start_ns = 0;
  uint64_t ramp_up_events = 0;
  std::vector<int64_t> processing_ns;
  std::vector<std::pair<int64_t, int64_t>> stalls_ns;  // [begin, end) of the machine's stalls
  int64_t rss_delta_bytes = 0;
};

// An idle thread's view of the machine: sleeps 200 us at a time and records each wake-up more than
// 500 us late as a stall [expected wake-up, actual wake-up).
class HiccupMeter {
 public:
  HiccupMeter() : thread_([this] { run(); }) {}
  ~HiccupMeter() { stop(); }
  std::vector<std::pair<int64_t, int64_t>> stop() {
    if (thread_.joinable()) {
      done_.store(true);
      thread_.join();
    }
    return std::move(stalls_);
  }

 private:
  void run() {
    constexpr int64_t kSleepNs = 200'000, kLateNs = 500'000;
    stalls_.reserve(4096);
    while (!done_.load()) {
      const int64_t before = now_ns();
      std::this_thread::sleep_for(std::chrono::nanoseconds(kSleepNs));
      const int64_t after = now_ns();
      if (after - before - kSleepNs > kLateNs && stalls_.size() < stalls_.capacity())
        stalls_.emplace_back(before + kSleepNs, after);
    }
  }
  std::atomic<bool> done_{false};
  std::vector<std::pair<int64_t, int64_t>> stalls_;
  std::thread thread_;
};

// Runs `streams` concurrent streams of `events` events each; optionally samples RSS once every
// stream has its first event.
PhaseResult run_phase(const Url& url, size_t streams, int64_t events, int64_t interval_us, int64_t batch,
                      bool record_latency, bool measure_memory, int64_t stagger_ns = 0) {
  EventLoop loop;
  ClientOptions opts;
  opts.max_connections_per_host = streams;
  opts.read_timeout_ms = 30'000;
  HttpClient client(loop, url, opts);
  auto shared = std::make_unique<Shared>();
  shared->record_latency = record_latency;
  shared->total_streams = streams;
  std::unique_ptr<HiccupMeter> hiccups;
  if (record_latency) {
    hiccups = std::make_unique<HiccupMeter>();
    shared->arrivals_ns.reserve(static_cast<size_t>(events) * streams + 16);
    shared->stream_of.reserve(static_cast<size_t>(events) * streams + 16);
    shared->event_of.reserve(static_cast<size_t>(events) * streams + 16);
    shared->latencies_ns.reserve(static_cast<size_t>(events) * streams + 16);
    shared->processing_ns.reserve(static_cast<size_t>(events) * streams + 16);
  }
  HttpRequest req;
  req.method = "GET";
  req.target = "/stream?events=" + std::to_string(events) + "&interval_us=" + std::to_string(interval_us) +
               "&batch=" + std::to_string(batch);
  req.content_type.clear();
  PhaseResult result;
  const int64_t rss_before = rss_bytes();
  std::vector<std::unique_ptr<Stream>> handlers;
  handlers.reserve(streams);
  const double cpu0 = cpu_seconds();
  const int64_t t0 = now_ns();
  for (size_t i = 0; i < streams; ++i) {
    handlers.push_back(std::make_unique<Stream>());
    handlers.back()->shared = shared.get();
    handlers.back()->index = static_cast<int32_t>(i);
    Stream* h = handlers.back().get();
    if (stagger_ns > 0) {  // spread stream starts so events arrive evenly, not in synchronized bursts
      loop.post_at(t0 + static_cast<int64_t>(i) * stagger_ns, [&client, &req, h] { client.send(req, h); });
    } else {
      client.send(req, h);
    }
  }
  std::function<void()> probe;
  if (measure_memory) {
    probe = [&] {
      if (shared->with_first_event == streams) {
        result.rss_delta_bytes = rss_bytes() - rss_before;
        return;
      }
      loop.post_at(now_ns() + 20'000'000, probe);
    };
    loop.post(probe);
  }
  loop.run();
  result.wall_s = static_cast<double>(now_ns() - t0) / 1e9;
  result.cpu_s = cpu_seconds() - cpu0;
  result.events = shared->events;
  result.tokens = shared->tokens;
  result.failures = shared->failures;
  result.completed = shared->completed;
  result.first_failure = shared->first_failure;
  if (hiccups) result.stalls_ns = hiccups->stop();
  result.latencies_ns = std::move(shared->latencies_ns);
  result.arrivals_ns = std::move(shared->arrivals_ns);
  result.stream_of = std::move(shared->stream_of);
  result.event_of = std::move(shared->event_of);
  result.start_ns = t0;
  result.ramp_up_events = shared->ramp_up_events;
  result.processing_ns = std::move(shared->processing_ns);
  return result;
}

double percentile_us(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5));
  return static_cast<double>(v[i]) / 1e3;
}

// Latencies of the events whose [send, receive] window does not overlap a machine stall.
std::vector<int64_t> outside_stalls(const PhaseResult& r, size_t* affected) {
  std::vector<int64_t> kept;
  kept.reserve(r.latencies_ns.size());
  *affected = 0;
  for (size_t i = 0; i < r.latencies_ns.size(); ++i) {
    const int64_t received = r.arrivals_ns[i], sent = received - r.latencies_ns[i];
    bool hit = false;
    for (const auto& [b, e] : r.stalls_ns) hit = hit || (b < received && e > sent);
    if (hit) {
      ++*affected;
    } else {
      kept.push_back(r.latencies_ns[i]);
    }
  }
  return kept;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  // The listening socket is made before fork so the child can serve it and the parent knows the port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  const pid_t child = fork();
  if (child == 0) run_server(fd);
  ::close(fd);
  const Url url = *Url::parse("http://127.0.0.1:" + std::to_string(port), nullptr);

  const size_t tp_streams = 100;
  const int64_t tp_events = quick ? 2'000 : 20'000;
  const size_t many = 2'000;
  const size_t lat_streams = 1'000;
  const int64_t lat_events = quick ? 20 : 60;  // one per 50 ms: 1 s or 3 s
  std::string loadavg;
  std::getline(std::ifstream("/proc/loadavg") >> std::ws, loadavg);
  std::printf("sse_client bench: server pid %d on 127.0.0.1:%d, client on one EventLoop thread; %ld CPUs, loadavg %s\n",
              static_cast<int>(child), port, sysconf(_SC_NPROCESSORS_ONLN), loadavg.c_str());

  run_phase(url, 10, 1'000, 0, 16, false, false);  // warm-up
  PhaseResult tp = run_phase(url, tp_streams, tp_events, 0, 16, false, false);
  PhaseResult many_r = run_phase(url, many, quick ? 50 : 200, 0, 4, false, false);
  PhaseResult lat = run_phase(url, lat_streams, lat_events, 50'000, 1, true, false, 50'000'000 / lat_streams);
  PhaseResult mem = run_phase(url, many, 3, 1'000'000, 1, false, true);
  // The latency phase at lighter loads, to show how it scales with the event rate on this machine.
  std::vector<std::pair<size_t, PhaseResult>> lighter;
  for (size_t n : {size_t{10}, size_t{100}}) {
    lighter.emplace_back(n,
                         run_phase(url, n, lat_events, 50'000, 1, true, false, 50'000'000 / static_cast<int64_t>(n)));
  }

  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);

  auto rate = [](const PhaseResult& r) { return static_cast<double>(r.events) / r.wall_s; };
  auto cpu_rate = [](const PhaseResult& r) { return static_cast<double>(r.events) / std::max(r.cpu_s, 1e-9); };
  if (const char* path = std::getenv("SSE_SLOW_TRACE")) {  // the slow events of the 1,000-stream phase
    if (FILE* f = std::fopen(path, "w")) {
      std::fprintf(f, "received_ms_from_phase_start,stream,event,latency_us\n");
      for (size_t i = 0; i < lat.latencies_ns.size(); ++i) {
        if (lat.latencies_ns[i] < 500'000) continue;
        std::fprintf(f, "%.3f,%d,%d,%.1f\n", static_cast<double>(lat.arrivals_ns[i] - lat.start_ns) / 1e6,
                     lat.stream_of[i], lat.event_of[i], static_cast<double>(lat.latencies_ns[i]) / 1e3);
      }
      std::fclose(f);
    }
  }
  size_t affected = 0;
  std::vector<int64_t> clean = outside_stalls(lat, &affected);  // before percentile_us sorts the latencies
  const double p50 = percentile_us(lat.latencies_ns, 50);
  const double p99 = percentile_us(lat.latencies_ns, 99);
  const double max_us = percentile_us(lat.latencies_ns, 100);
  const double kib_per_stream = static_cast<double>(mem.rss_delta_bytes) / 1024.0 / static_cast<double>(many);

  std::printf("\n%-52s %-16s %s\n", "metric", "target", "measured");
  std::printf("%-52s %-16s %.0f events/s wall, %.0f per client CPU-s (%zu streams x %lld, %llu tokens)\n",
              "throughput, one loop thread", ">= 250,000/s", rate(tp), cpu_rate(tp), tp_streams,
              static_cast<long long>(tp_events), static_cast<unsigned long long>(tp.tokens));
  std::printf("%-52s %-16s %zu of %zu completed, %llu failed, %.0f events/s\n", "concurrent streams", "2,000",
              many_r.completed - many_r.failures, many, static_cast<unsigned long long>(many_r.failures), rate(many_r));
  std::printf("%-52s %-16s p50 %.1f us, p99 %.1f us, max %.1f us (%zu events; %llu before all streams were open)\n",
              "client added latency at 1,000 streams (20k ev/s)", "p99 <= 100 us", p50, p99, max_us,
              lat.latencies_ns.size(), static_cast<unsigned long long>(lat.ramp_up_events));
  int64_t longest_stall_ns = 0;
  for (const auto& [b, e] : lat.stalls_ns) longest_stall_ns = std::max(longest_stall_ns, e - b);
  std::printf("%-52s %-16s %zu stalls > 0.5 ms, longest %.2f ms; %zu events overlap one\n",
              "  machine stalls during the phase (idle thread)", "", lat.stalls_ns.size(),
              static_cast<double>(longest_stall_ns) / 1e6, affected);
  std::printf("%-52s %-16s p50 %.1f us, p99 %.1f us (%zu events)\n", "  events clear of machine stalls",
              "p99 <= 100 us", percentile_us(clean, 50), percentile_us(clean, 99), clean.size());
  std::printf("%-52s %-16s p50 %.1f us, p99 %.1f us (%zu reads)\n", "  of which client processing (read -> handled)",
              "", percentile_us(lat.processing_ns, 50), percentile_us(lat.processing_ns, 99), lat.processing_ns.size());
  std::printf("%-52s %-16s %.2f us (throughput phase: client CPU / events)\n", "client CPU per event", "",
              tp.cpu_s * 1e6 / static_cast<double>(std::max<uint64_t>(tp.events, 1)));
  std::printf("%-52s %-16s %.1f KiB (RSS +%.1f MiB for %zu open streams)\n", "memory per open stream", "<= 64 KiB",
              kib_per_stream, static_cast<double>(mem.rss_delta_bytes) / 1048576.0, many);
  for (const PhaseResult* r : {&tp, &many_r, &lat, &mem}) {
    if (r->failures) std::printf("failure: %s\n", r->first_failure.c_str());
  }
  for (auto& [n, r] : lighter) {
    std::printf("%-52s %-16s p50 %.1f us, p99 %.1f us (%zu events)\n",
                ("  same at " + std::to_string(n) + " streams (" + std::to_string(n * 20) + " ev/s)").c_str(), "",
                percentile_us(r.latencies_ns, 50), percentile_us(r.latencies_ns, 99), r.latencies_ns.size());
  }
  return (tp.failures || many_r.failures || lat.failures || mem.failures) ? 1 : 0;
}

// The HTTP client against the scripted server over real loopback sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/clock.h"
#include "net/dialect.h"
#include "net/http_client.h"
#include "net/sse_parser.h"
#include "scripted_server.h"

namespace llmbench::net {
namespace {

using testing::ScriptedServer;
using testing::ScriptedServerOptions;

constexpr int64_t kMs = 1'000'000;

// Records everything a request did; parses SSE as it arrives.
struct Recorder : ResponseHandler {
  int64_t sent_ns = 0;
  int status = 0;
  std::string content_type;
  int64_t headers_ns = 0;
  std::string body;
  std::vector<int64_t> read_stamps;
  SseParser sse{1u << 20};
  std::vector<std::string> events;
  std::vector<int64_t> event_ns;
  size_t overflows = 0;
  Outcome outcome;
  int64_t end_ns = 0;
  int completions = 0;
  std::function<void()> on_done;

  void on_sent(int64_t t) override { sent_ns = t; }
  void on_headers(int s, std::string_view ct, int64_t t) override {
    status = s;
    content_type = std::string(ct);
    headers_ns = t;
  }
  void on_body(std::string_view data, int64_t t) override {
    if (body.size() < (1u << 16)) body.append(data.substr(0, (1u << 16) - body.size()));
    read_stamps.push_back(t);
    sse.feed(data, t, [&](const SseEvent& e) {
      if (e.overflow) {
        ++overflows;
        return;
      }
      events.emplace_back(e.data);
      event_ns.push_back(e.arrived_ns);
    });
  }
  void on_complete(const Outcome& o, int64_t t) override {
    outcome = o;
    end_ns = t;
    ++completions;
    if (on_done) on_done();
  }
};

HttpRequest completions_request(int max_tokens, const std::string& script = "") {
  GenerationRequest g;
  g.model = "m";
  g.prompt = "hello world";
  g.max_tokens = max_tokens;
  HttpRequest req;
  std::string err;
  EXPECT_TRUE(build_request(ApiDialect::kOpenAICompletions, g, &req, &err)) << err;
  if (!script.empty()) req.headers.emplace_back("x-llmbench-script", script);
  return req;
}

Url url_of(const ScriptedServer& s) {
  return *Url::parse(s.url(), nullptr);
}

// Runs one request to completion on a fresh loop; returns how long the loop ran.
int64_t run_one(const Url& url, ClientOptions opts, const HttpRequest& req, Recorder& rec) {
  EventLoop loop;
  HttpClient client(loop, url, std::move(opts));
  const int64_t start = now_ns();
  client.send(req, &rec);
  loop.run();
  return now_ns() - start;
}

TEST(HttpClient, StreamArrivalTimesMatchTheScript) {
  ScriptedServer server;
  Recorder rec;
  const auto req = completions_request(5, R"({"first_token_delay_ms": 100, "inter_token_ms": 50})");
  run_one(url_of(server), {}, req, rec);
  ASSERT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  EXPECT_EQ(rec.completions, 1);
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.content_type, "text/event-stream");
  ASSERT_TRUE(server.wait_for_requests(1, 1000));
  const auto served = server.requests().at(0);
  ASSERT_EQ(served.token_sent_ns.size(), 5u);
  ASSERT_EQ(served.event_sent_ns.size(), rec.events.size());  // 5 tokens + usage + [DONE]
  EXPECT_EQ(rec.events.back(), "[DONE]");
  EXPECT_GT(rec.sent_ns, 0);
  EXPECT_GE(rec.headers_ns, rec.sent_ns);
  for (size_t i = 0; i < rec.events.size(); ++i) {
    const int64_t added = rec.event_ns[i] - served.event_sent_ns[i];
    EXPECT_GE(added, 0) << i;         // same steady clock: arrival never precedes the send
    EXPECT_LT(added, 40 * kMs) << i;  // generous: a loaded 2-core machine
  }
  // The script's gaps show up in the arrivals (first token ~100 ms after headers, then ~50 ms).
  EXPECT_GE(rec.event_ns[0] - rec.headers_ns, 90 * kMs);
  for (size_t i = 1; i < 5; ++i) EXPECT_GE(rec.event_ns[i] - rec.event_ns[i - 1], 40 * kMs) << i;
  EXPECT_GE(rec.end_ns, rec.event_ns.back());
}

TEST(HttpClient, EveryFormatStreamsAndDecodes) {
  ScriptedServer server;
  for (auto dialect : {ApiDialect::kOpenAICompletions, ApiDialect::kOpenAIChat, ApiDialect::kTgi}) {
    GenerationRequest g;
    g.prompt = "a b c";
    g.max_tokens = 7;
    HttpRequest req;
    ASSERT_TRUE(build_request(dialect, g, &req, nullptr));
    Recorder rec;
    run_one(url_of(server), {}, req, rec);
    ASSERT_EQ(rec.outcome.failure, FailureKind::kNone) << to_string(dialect) << rec.outcome.detail;
    EventDecoder decoder(dialect);
    StreamState state;
    DecodedEvent ev;
    for (const auto& e : rec.events) decoder.decode_event(e, &state, &ev);
    EXPECT_EQ(state.tokens, 7) << to_string(dialect);
    EXPECT_FALSE(state.any_fallback) << to_string(dialect);
    EXPECT_EQ(state.completion_tokens, 7) << to_string(dialect);
  }
}

TEST(HttpClient, KeepAliveReusesOneConnection) {
  ScriptedServer server;
  EventLoop loop;
  HttpClient client(loop, url_of(server), {});
  const auto req = completions_request(3);
  Recorder recs[4];
  int next = 0;
  std::function<void()> send_next = [&] {
    if (next == 4) return;
    Recorder& r = recs[next++];
    r.on_done = send_next;
    client.send(req, &r);
  };
  send_next();
  loop.run();
  for (auto& r : recs) EXPECT_EQ(r.outcome.failure, FailureKind::kNone) << r.outcome.detail;
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(client.open_connections(), 1u);
  auto served = server.requests();
  ASSERT_EQ(served.size(), 4u);
  for (const auto& s : served) EXPECT_EQ(s.connection_id, served[0].connection_id);
}

TEST(HttpClient, PoolLimitQueuesRequests) {
  ScriptedServer server;
  EventLoop loop;
  ClientOptions opts;
  opts.max_connections_per_host = 2;
  HttpClient client(loop, url_of(server), opts);
  const auto req = completions_request(3, R"({"inter_token_ms": 20})");
  std::vector<Recorder> recs(6);
  for (auto& r : recs) client.send(req, &r);
  EXPECT_EQ(client.open_connections(), 2u);
  loop.run();
  for (auto& r : recs) EXPECT_EQ(r.outcome.failure, FailureKind::kNone) << r.outcome.detail;
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(HttpClient, ConnectionCloseIsNotReused) {
  ScriptedServer server;
  EventLoop loop;
  HttpClient client(loop, url_of(server), {});
  const auto req = completions_request(2, R"({"keep_alive": false})");
  Recorder a, b;
  a.on_done = [&] { client.send(req, &b); };
  client.send(req, &a);
  loop.run();
  EXPECT_EQ(a.outcome.failure, FailureKind::kNone) << a.outcome.detail;
  EXPECT_EQ(b.outcome.failure, FailureKind::kNone) << b.outcome.detail;
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(HttpClient, StaleKeepAliveConnectionIsRetriedOnceOnAFreshOne) {
  ScriptedServer server;
  EventLoop loop;
  HttpClient client(loop, url_of(server), {});
  const auto closing = completions_request(2, R"({"close_after_response": true})");
  const auto normal = completions_request(2);
  Recorder a, b;
  // Send b on the (now stale) idle connection once the server's FIN has surely arrived.
  a.on_done = [&] { loop.post_at(now_ns() + 100 * kMs, [&] { client.send(normal, &b); }); };
  client.send(closing, &a);
  loop.run();
  EXPECT_EQ(a.outcome.failure, FailureKind::kNone) << a.outcome.detail;
  EXPECT_EQ(b.outcome.failure, FailureKind::kNone) << b.outcome.detail;
  EXPECT_EQ(b.completions, 1);
  EXPECT_EQ(server.connections_accepted(), 2u);
  EXPECT_EQ(server.requests().size(), 2u);  // the stale attempt never reached the server
}

TEST(HttpClient, ConnectTimeoutWhenTheAcceptQueueIsFull) {
  // A listener with backlog 0 that never accepts: once one connection fills its accept queue,
  // Linux drops further SYNs, so the next connect hangs until our connect timeout.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(f, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(f);
  }
  ::usleep(50'000);
  ClientOptions opts;
  opts.connect_timeout_ms = 300;
  Recorder rec;
  const int64_t took = run_one(*Url::parse("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), nullptr), opts,
                               completions_request(1), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kConnectTimeout) << rec.outcome.detail;
  EXPECT_LT(took, 5000 * kMs);
  for (int f : fillers) ::close(f);
  ::close(lfd);
}

TEST(HttpClient, SendsBearerTokenAndHeaders) {
  ScriptedServer server;
  ClientOptions opts;
  opts.bearer_token = "sk-test";
  opts.headers = {{"X-Team", "infra"}};
  Recorder rec;
  run_one(url_of(server), opts, completions_request(1), rec);
  ASSERT_EQ(rec.outcome.failure, FailureKind::kNone);
  auto s = server.requests().at(0);
  EXPECT_EQ(s.header("authorization"), "Bearer sk-test");
  EXPECT_EQ(s.header("x-team"), "infra");
  EXPECT_EQ(s.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(s.target, "/v1/completions");
  EXPECT_NE(s.body.find("\"max_tokens\":1"), std::string::npos);
}

TEST(HttpClient, ReadTimeoutOnStall) {
  ScriptedServer server;
  ClientOptions opts;
  opts.read_timeout_ms = 300;
  Recorder rec;
  const int64_t took = run_one(url_of(server), opts, completions_request(5, "stall"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kReadTimeout) << rec.outcome.detail;
  EXPECT_NE(rec.outcome.detail.find("300 ms"), std::string::npos) << rec.outcome.detail;
  EXPECT_EQ(rec.events.size(), 2u);  // two tokens came before the stall
  EXPECT_LT(took, 5000 * kMs);
  EXPECT_GE(took, 290 * kMs);
}

TEST(HttpClient, ReadTimeoutWhileWaitingForHeaders) {
  ScriptedServer server;
  ClientOptions opts;
  opts.read_timeout_ms = 150;
  Recorder rec;
  run_one(url_of(server), opts, completions_request(2, "slow_headers"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kReadTimeout);
  EXPECT_NE(rec.outcome.detail.find("headers"), std::string::npos) << rec.outcome.detail;
}

TEST(HttpClient, FiniteStallWithinReadTimeoutSucceeds) {
  ScriptedServer server;
  ClientOptions opts;
  opts.read_timeout_ms = 3000;
  Recorder rec;
  run_one(url_of(server), opts, completions_request(4, R"({"fault": "stall", "fault_after": 1, "stall_ms": 300})"),
          rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  ASSERT_GE(rec.event_ns.size(), 2u);
  EXPECT_GE(rec.event_ns[1] - rec.event_ns[0], 250 * kMs);
}

TEST(HttpClient, TotalTimeoutHoldsWhileDataKeepsFlowing) {
  ScriptedServer server;
  ClientOptions opts;
  opts.read_timeout_ms = 5000;
  opts.total_timeout_ms = 400;
  Recorder rec;
  const int64_t took = run_one(url_of(server), opts, completions_request(100, R"({"inter_token_ms": 20})"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kTotalTimeout) << rec.outcome.detail;
  EXPECT_GT(rec.events.size(), 3u);
  EXPECT_LT(took, 3000 * kMs);
}

TEST(HttpClient, ZeroTimeoutsMeanNoTimeout) {
  ScriptedServer server;
  ClientOptions opts;
  opts.connect_timeout_ms = 0;
  opts.read_timeout_ms = 0;
  opts.total_timeout_ms = 0;
  Recorder rec;
  run_one(url_of(server), opts, completions_request(3, R"({"first_token_delay_ms": 50})"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  EXPECT_EQ(rec.events.size(), 5u);
}

TEST(HttpClient, DroppedConnectionMidStream) {
  ScriptedServer server;
  Recorder rec;
  run_one(url_of(server), {}, completions_request(5, "drop"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kConnectionClosed);
  EXPECT_NE(rec.outcome.detail.find("mid-body"), std::string::npos) << rec.outcome.detail;
  EXPECT_EQ(rec.outcome.http_status, 200);
  EXPECT_EQ(rec.events.size(), 2u);
}

TEST(HttpClient, CloseBeforeHeaders) {
  ScriptedServer server;
  Recorder rec;
  run_one(url_of(server), {}, completions_request(5, "close_before_headers"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kConnectionClosed);
  EXPECT_NE(rec.outcome.detail.find("before the response headers"), std::string::npos) << rec.outcome.detail;
  EXPECT_EQ(rec.status, 0);
}

TEST(HttpClient, GarbageFramingIsAProtocolError) {
  ScriptedServer server;
  Recorder rec;
  run_one(url_of(server), {}, completions_request(5, "garbage"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kProtocol) << rec.outcome.detail;
  EXPECT_NE(rec.outcome.detail.find("malformed HTTP"), std::string::npos);
}

TEST(HttpClient, GarbageInsideSseAndMalformedJsonDoNotBreakTheStream) {
  ScriptedServer server;
  for (const char* script : {"garbage_sse", "malformed_json", "error_event"}) {
    Recorder rec;
    run_one(url_of(server), {}, completions_request(4, script), rec);
    EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << script << rec.outcome.detail;
    EventDecoder decoder(ApiDialect::kOpenAICompletions);
    StreamState state;
    DecodedEvent ev;
    int malformed = 0, errors = 0;
    for (const auto& e : rec.events) {
      decoder.decode_event(e, &state, &ev);
      malformed += ev.malformed;
      errors += ev.is_error;
    }
    if (std::string(script) == "malformed_json") {
      EXPECT_EQ(malformed, 1);
      EXPECT_EQ(state.tokens, 4);
    }
    if (std::string(script) == "error_event") {
      EXPECT_EQ(errors, 1);
      EXPECT_EQ(state.tokens, 2);
    }
  }
}

TEST(HttpClient, HttpErrorsDeliverTheBody) {
  ScriptedServer server;
  struct Case {
    const char* script;
    int status;
    bool retry_after;
  };
  for (Case c : {Case{"http_429", 429, true}, Case{"http_500", 500, false}, Case{"http_503", 503, true},
                 Case{"http_503_no_retry", 503, false}}) {
    Recorder rec;
    run_one(url_of(server), {}, completions_request(3, c.script), rec);
    EXPECT_EQ(rec.outcome.failure, FailureKind::kHttpStatus) << c.script;
    EXPECT_EQ(rec.outcome.http_status, c.status);
    EXPECT_EQ(rec.status, c.status);
    EXPECT_NE(rec.outcome.detail.find(std::to_string(c.status)), std::string::npos);
    EXPECT_EQ(rec.outcome.detail.find("Retry-After") != std::string::npos, c.retry_after) << rec.outcome.detail;
    EventDecoder d(ApiDialect::kOpenAICompletions);
    DecodedResponse r;
    d.decode_response(rec.body, &r);
    EXPECT_TRUE(r.is_error) << rec.body;
  }
}

TEST(HttpClient, HugeEventBodyLimitAndSseLimit) {
  ScriptedServer server;
  {
    ClientOptions opts;
    opts.max_body_bytes = 1u << 20;
    Recorder rec;
    run_one(url_of(server), opts, completions_request(3, "huge_event"), rec);
    EXPECT_EQ(rec.outcome.failure, FailureKind::kBodyTooLarge) << rec.outcome.detail;
  }
  Recorder rec;  // the default 256 MiB body limit: the 10 MB event streams through, the SSE limit drops it
  run_one(url_of(server), {}, completions_request(3, "huge_event"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  EXPECT_EQ(rec.overflows, 1u);
  EXPECT_EQ(rec.events.size(), 5u);        // 3 tokens + usage + [DONE]
  EXPECT_GT(rec.read_stamps.size(), 10u);  // streamed in many reads, never buffered whole
}

TEST(HttpClient, TrickleOneByteAtATime) {
  ScriptedServer server;
  Recorder rec;
  run_one(url_of(server), {}, completions_request(1, R"({"fault": "trickle", "trickle_interval_ms": 0})"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  EXPECT_EQ(rec.events.size(), 3u);
  EXPECT_GT(rec.read_stamps.size(), 1u);
}

TEST(HttpClient, CloseDelimitedStream) {
  ScriptedServer server;
  Recorder rec;
  run_one(url_of(server), {}, completions_request(3, "close_delimited"), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
  EXPECT_EQ(rec.events.size(), 5u);
}

TEST(HttpClient, ConnectionRefused) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);  // bound, never listened: nothing accepts on this port now
  Recorder rec;
  run_one(*Url::parse("http://127.0.0.1:" + std::to_string(port), nullptr), {}, completions_request(1), rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kConnectRefused) << rec.outcome.detail;
  EXPECT_NE(rec.outcome.detail.find("refused"), std::string::npos);
}

TEST(HttpClient, ResolvesHostNames) {
  ScriptedServer server;
  Recorder rec;
  run_one(*Url::parse("http://localhost:" + std::to_string(server.port()), nullptr), {}, completions_request(2), rec);
  // localhost may resolve to ::1 first; the client tries each address.
  EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
}

TEST(HttpClient, CancelCompletesWithCancelled) {
  ScriptedServer server;
  EventLoop loop;
  HttpClient client(loop, url_of(server), {});
  Recorder rec;
  const uint64_t id = client.send(completions_request(5, "stall"), &rec);
  loop.post_at(now_ns() + 200 * kMs, [&] { client.cancel(id); });
  const int64_t start = now_ns();
  loop.run();
  EXPECT_EQ(rec.outcome.failure, FailureKind::kCancelled);
  EXPECT_EQ(rec.completions, 1);
  EXPECT_LT(now_ns() - start, 5000 * kMs);
}

TEST(HttpClient, CancelFromInsideOnBody) {
  ScriptedServer server;
  EventLoop loop;
  HttpClient client(loop, url_of(server), {});
  struct Canceller : Recorder {
    HttpClient* client = nullptr;
    uint64_t id = 0;
    void on_body(std::string_view d, int64_t t) override {
      Recorder::on_body(d, t);
      client->cancel(id);
    }
  } rec;
  rec.client = &client;
  rec.id = client.send(completions_request(50, R"({"inter_token_ms": 5})"), &rec);
  loop.run();
  EXPECT_EQ(rec.outcome.failure, FailureKind::kCancelled);
  EXPECT_EQ(rec.completions, 1);
  EXPECT_EQ(client.open_connections(), 0u);  // a cancelled connection is never reused
}

TEST(HttpClient, HttpsWithVerifyOffWorksAndVerifyOnFailsSelfSigned) {
  ScriptedServerOptions so;
  so.tls = true;
  ScriptedServer server(so);
  ASSERT_EQ(server.url().rfind("https://", 0), 0u);
  {
    ClientOptions opts;
    opts.verify_tls = false;
    Recorder rec;
    run_one(url_of(server), opts, completions_request(3), rec);
    EXPECT_EQ(rec.outcome.failure, FailureKind::kNone) << rec.outcome.detail;
    EXPECT_EQ(rec.events.size(), 5u);
  }
  ClientOptions opts;
  opts.verify_tls = true;
  Recorder rec;
  run_one(*Url::parse("https://localhost:" + std::to_string(server.port()), nullptr), opts, completions_request(3),
          rec);
  EXPECT_EQ(rec.outcome.failure, FailureKind::kTls) << rec.outcome.detail;
  EXPECT_NE(rec.outcome.detail.find("certificate"), std::string::npos) << rec.outcome.detail;
}

TEST(HttpClient, NonStreamingResponse) {
  ScriptedServer server;
  GenerationRequest g;
  g.prompt = "x";
  g.max_tokens = 6;
  g.stream = false;
  HttpRequest req;
  ASSERT_TRUE(build_request(ApiDialect::kOpenAIChat, g, &req, nullptr));
  Recorder rec;
  run_one(url_of(server), {}, req, rec);
  ASSERT_EQ(rec.outcome.failure, FailureKind::kNone);
  EventDecoder d(ApiDialect::kOpenAIChat);
  DecodedResponse r;
  d.decode_response(rec.body, &r);
  EXPECT_EQ(r.completion_tokens, 6);
  EXPECT_EQ(r.text_bytes, 24);
}

}  // namespace
}  // namespace llmbench::net

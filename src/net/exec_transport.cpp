// The exec backend: adapter process management and the JSON-lines <-> SSE translation.
#include "net/exec_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "core/clock.h"

extern char** environ;

namespace llmbench::net {

namespace asio = boost::asio;

namespace {

std::string line_head(std::string_view line) {
  constexpr size_t kMax = 80;
  std::string out(line.substr(0, kMax));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (line.size() > kMax) out += "...";
  return out;
}

void set_cloexec(int fd) {
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

void write_all_nonblocking(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // EAGAIN (adapter not reading) or EPIPE: the signals that follow end it anyway
    }
  }
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Pure helpers

std::string build_adapter_request_prefix(std::string_view completions_body) {
  const auto body = nlohmann::json::parse(completions_body, nullptr, false);
  if (!body.is_object()) throw std::invalid_argument("request body is not a JSON object");
  nlohmann::json out = nlohmann::json::object();
  out["type"] = "request";
  if (auto it = body.find("prompt"); it != body.end()) {
    // OpenAI allows a string, a list of strings, a list of token ids or a list of such lists.
    if (it->is_string()) {
      out["prompt"] = *it;
    } else if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
      out["prompt_token_ids"] = *it;
    } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      out["prompt"] = (*it)[0];
    } else if (it->is_array() && it->size() == 1 && (*it)[0].is_array()) {
      out["prompt_token_ids"] = (*it)[0];
    } else {
      throw std::invalid_argument("unsupported prompt form for the exec backend");
    }
  } else {
    throw std::invalid_argument("request body has no prompt (the exec backend takes completions requests)");
  }
  out["max_tokens"] = body.value("max_tokens", 16);
  out["min_tokens"] = body.value("min_tokens", 0);
  out["ignore_eos"] = body.value("ignore_eos", false);
  out["temperature"] = body.contains("temperature") ? body["temperature"] : nlohmann::json(1.0);
  for (const char* key : {"seed", "top_p", "top_k"}) {
    if (auto it = body.find(key); it != body.end() && !it->is_null()) out[key] = *it;
  }
  std::string text = out.dump();
  text.pop_back();  // the closing brace; the id goes last
  text += ",\"id\":\"";
  return text;
}

void append_completion_chunk(std::string* out, std::string_view text_json, int64_t prompt_tokens,
                             int64_t completion_tokens, std::string_view finish_reason) {
  out->append(R"(data: {"object":"text_completion","choices":[{"index":0,"text":)");
  out->append(text_json.empty() ? std::string_view("\"\"") : text_json);
  out->append(R"(,"finish_reason":)");
  if (finish_reason.empty()) {
    out->append("null");
  } else {
    out->push_back('"');
    for (char c : finish_reason)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) out->push_back(c);
    out->push_back('"');
  }
  char num[64];
  out->append(R"(}],"usage":{"prompt_tokens":)");
  out->append(num, std::to_chars(num, num + sizeof num, prompt_tokens).ptr);
  out->append(R"(,"completion_tokens":)");
  out->append(num, std::to_chars(num, num + sizeof num, completion_tokens).ptr);
  out->append(R"(,"total_tokens":)");
  out->append(num, std::to_chars(num, num + sizeof num, prompt_tokens + completion_tokens).ptr);
  out->append("}}\n\n");
}

// ----------------------------------------------------------------------------------------------
// ExecEngine

ExecEngine::~ExecEngine() {
  shutdown();
}

bool ExecEngine::reap(int64_t wait_ms) {
  if (pid_ <= 0 || reaped_) return true;
  const int64_t deadline = now_ns() + wait_ms * 1'000'000;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      reaped_ = true;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      reaped_ = true;  // not our child any more; nothing to wait for
      return true;
    }
    if (now_ns() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ExecEngine::describe_exit(int64_t wait_ms) {
  if (!reap(wait_ms)) return "closed its stdout";
  if (WIFEXITED(exit_status_)) return "exited with status " + std::to_string(WEXITSTATUS(exit_status_));
  if (WIFSIGNALED(exit_status_)) return "killed by signal " + std::to_string(WTERMSIG(exit_status_));
  return "exited";
}

void ExecEngine::start(const ExecEngineOptions& options, const std::function<bool()>& should_abort) {
  if (pid_ > 0) throw ExecEngineError("engine already started");
  options_ = options;
  int in_pipe[2], out_pipe[2];
  if (::pipe(in_pipe) != 0) throw ExecEngineError(std::string("pipe: ") + std::strerror(errno));
  if (::pipe(out_pipe) != 0) {
    ::close(in_pipe[0]), ::close(in_pipe[1]);
    throw ExecEngineError(std::string("pipe: ") + std::strerror(errno));
  }
  for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) set_cloexec(fd);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  if (!options.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: Ctrl-C reaches llmbench only, which then shuts the adapter down in order,
  // and the signals at shutdown reach the whole group (sh and what it started).
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  const char* argv[] = {"/bin/sh", "-c", options.command.c_str(), nullptr};
  const int64_t spawned_ns = now_ns();
  const int rc = ::posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(in_pipe[1]), ::close(out_pipe[0]);
    throw ExecEngineError(std::string("cannot start the engine command: ") + std::strerror(rc));
  }
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
  ::fcntl(stdin_fd_, F_SETFL, ::fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
  ::signal(SIGPIPE, SIG_IGN);  // a dead adapter must not kill llmbench through a write

  // Wait for the first line, bounded.
  auto fail = [this](const std::string& why) {
    shutdown();
    throw ExecEngineError(why);
  };
  const int64_t deadline = spawned_ns + options.startup_timeout_ms * 1'000'000;
  std::string buffer;
  char chunk[4096];
  for (;;) {
    const size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      const int64_t arrived_ns = now_ns();
      const std::string line = buffer.substr(0, nl);
      leftover_ = buffer.substr(nl + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        buffer = leftover_;
        continue;
      }
      const auto msg = nlohmann::json::parse(line, nullptr, false);
      if (!msg.is_object()) fail("adapter protocol error before ready: " + line_head(line));
      const std::string type = msg.value("type", "");
      if (type == "error") fail("adapter failed to start: " + msg.value("message", std::string("(no message)")));
      if (type != "ready") fail("adapter protocol error: expected a ready line first, got: " + line_head(line));
      auto str = [&msg](const char* key) {
        auto it = msg.find(key);
        return it != msg.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      info_.engine = str("engine");
      info_.model = str("model");
      info_.version = str("version");
      info_.device = str("device");
      info_.dtype = str("dtype");
      if (auto it = msg.find("startup_s"); it != msg.end() && it->is_number()) info_.startup_s = it->get<double>();
      if (auto it = msg.find("max_batch"); it != msg.end() && it->is_number_integer())
        info_.max_batch = it->get<int64_t>();
      if (auto it = msg.find("monotonic_ns"); it != msg.end() && it->is_number_integer())
        info_.monotonic_ns = it->get<int64_t>();
      info_.ready_ns = arrived_ns;
      info_.launch_s = static_cast<double>(arrived_ns - spawned_ns) / 1e9;
      return;
    }
    if (buffer.size() > (1u << 20)) fail("adapter protocol error before ready: a line longer than 1 MiB");
    if (should_abort && should_abort()) fail("interrupted while the engine was starting");
    const int64_t left_ms = (deadline - now_ns()) / 1'000'000;
    if (left_ms <= 0) {
      fail("engine did not report ready within " + std::to_string(options.startup_timeout_ms / 1000) +
           " s (--engine-startup-timeout)");
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int pr = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 100)));
    if (pr < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    if (pr <= 0) continue;
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) fail("adapter " + describe_exit(2000) + " before it was ready");
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

std::string ExecEngine::shutdown() {
  if (pid_ <= 0) return {};
  if (stdin_fd_ >= 0) {
    write_all_nonblocking(stdin_fd_, "{\"type\":\"shutdown\"}\n");
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (!reap(options_.shutdown_grace_ms)) {
    ::kill(-pid_, SIGTERM);
    if (!reap(options_.shutdown_grace_ms)) {
      ::kill(-pid_, SIGKILL);
      reap(5000);
    }
  }
  // Whatever sh started may outlive sh in the group; end it too (harmless if gone).
  ::kill(-pid_, SIGKILL);
  std::string how = describe_exit(0);
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
  pid_ = -1;
  return how;
}

// ----------------------------------------------------------------------------------------------
// ExecTransport

struct ExecTransport::Impl {
  struct Pending {
    ResponseHandler* handler = nullptr;
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    bool got_first = false;
  };

  EventLoop& loop;
  asio::io_context& ioc;
  ExecEngine& engine;
  ExecTransportOptions options;
  asio::posix::stream_descriptor in;   // adapter stdout (dup)
  asio::posix::stream_descriptor out;  // adapter stdin (dup)
  asio::steady_timer timer;
  std::unordered_map<std::string, std::string> prefixes;  // body -> adapter line prefix
  std::unordered_map<uint64_t, Pending> pending;
  uint64_t next_id = 1;
  std::string read_buffer;  // bytes of an incomplete line
  char chunk[65536];
  bool reading = false;
  bool timer_set = false;
  std::string write_queue, writing;
  bool write_busy = false;
  std::string dead;  // why the adapter is unusable; empty while fine
  int64_t last_line_ns = 0;
  std::string sse;  // reused per event
  simdjson::ondemand::parser parser;
  std::string scratch;  // the line being parsed, padded for simdjson
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Impl(EventLoop& l, ExecEngine& e, ExecTransportOptions o)
      : loop(l),
        ioc(*static_cast<asio::io_context*>(l.native_handle())),
        engine(e),
        options(std::move(o)),
        in(ioc),
        out(ioc),
        timer(ioc) {
    if (engine.stdout_fd() < 0 || engine.stdin_fd() < 0) throw std::logic_error("ExecTransport: engine not started");
    in.assign(::dup(engine.stdout_fd()));
    out.assign(::dup(engine.stdin_fd()));
    in.non_blocking(true);
    out.non_blocking(true);
    read_buffer = engine.take_leftover();
    sse.reserve(4096);
  }

  void complete(uint64_t id, FailureKind kind, std::string detail) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    ResponseHandler* h = it->second.handler;
    pending.erase(it);
    h->on_complete(Outcome{kind, std::move(detail), kind == FailureKind::kNone ? 200 : 0}, now_ns());
  }

  void fail_all(FailureKind kind, const std::string& detail) {
    auto victims = std::move(pending);
    pending.clear();
    const int64_t end = now_ns();
    for (auto& [id, p] : victims) p.handler->on_complete(Outcome{kind, detail, 0}, end);
    update_idle();
  }

  void fatal(FailureKind kind, const std::string& reason) {
    if (!dead.empty()) return;
    dead = reason;
    fail_all(kind, reason);
    if (options.on_fatal) options.on_fatal(reason);
  }

  // Reads and the timer run only while requests are in flight, so an idle loop can finish.
  void update_idle() {
    if (!pending.empty()) {
      start_read();
      arm_timer();
      return;
    }
    if (timer_set) timer.cancel();
    if (reading) in.cancel();
    if (write_busy) out.cancel();  // a stalled adapter must not keep the loop alive
  }

  void arm_timer() {
    if (timer_set || options.read_timeout_ms <= 0 || !dead.empty()) return;
    timer_set = true;
    const int64_t due_ns = last_line_ns + options.read_timeout_ms * 1'000'000;
    timer.expires_after(std::chrono::nanoseconds(std::max<int64_t>(due_ns - now_ns(), 0)));
    timer.async_wait([this, alive = alive](const boost::system::error_code&) {
      if (!*alive) return;
      timer_set = false;
      if (pending.empty()) return;
      if (now_ns() - last_line_ns >= options.read_timeout_ms * 1'000'000) {
        // The adapter may still run them: ask it to stop, then fail them here.
        for (auto& [id, p] : pending) enqueue_cancel(id);
        fail_all(FailureKind::kReadTimeout,
                 "no line from the adapter for " + std::to_string(options.read_timeout_ms) + " ms");
        return;
      }
      arm_timer();
    });
  }

  void start_read() {
    if (reading || !dead.empty()) return;
    reading = true;
    in.async_read_some(asio::buffer(chunk), [this, alive = alive](const boost::system::error_code& ec, size_t n) {
      const int64_t arrived_ns = now_ns();  // before any parsing
      if (!*alive) return;
      reading = false;
      if (n > 0) {
        read_buffer.append(chunk, n);
        process_lines(arrived_ns);
      }
      if (ec == asio::error::operation_aborted) {
        if (!pending.empty()) start_read();
        return;
      }
      if (ec) {
        fatal(FailureKind::kAdapterExited, "adapter " + engine.describe_exit(1000));
        return;
      }
      if (!pending.empty()) start_read();
    });
  }

  void process_lines(int64_t arrived_ns) {
    size_t start = 0;
    for (;;) {
      const size_t nl = read_buffer.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(read_buffer.data() + start, nl - start);
      start = nl + 1;
      last_line_ns = arrived_ns;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      handle_line(line, arrived_ns);
      if (!dead.empty()) {
        read_buffer.clear();
        return;
      }
    }
    read_buffer.erase(0, start);
    if (read_buffer.size() > (16u << 20))
      fatal(FailureKind::kAdapterProtocol, "adapter protocol error: a line longer than 16 MiB");
  }

  void handle_line(std::string_view line, int64_t arrived_ns) {
    auto protocol_error = [&] { fatal(FailureKind::kAdapterProtocol, "adapter protocol error: " + line_head(line)); };
    // A reused padded copy: no allocation per line once it has grown.
    scratch.resize(line.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(scratch.data(), line.data(), line.size());
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(scratch.data(), line.size(), scratch.size()).get(doc) || doc.get_object().get(obj))
      return protocol_error();
    std::string_view type, id_text, text_json, finish;
    int64_t tokens = 1, prompt_tokens = -1, completion_tokens = -1, t_ns = 0;
    std::string message;
    bool has_id = false;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return protocol_error();
      auto value = field.value();
      if (key == "type") {
        if (value.get_string().get(type)) return protocol_error();
      } else if (key == "id") {
        if (value.get_string().get(id_text)) {
          if (value.raw_json_token().get(id_text)) return protocol_error();  // a number id
        }
        has_id = true;
      } else if (key == "tokens") {
        if (value.get_int64().get(tokens)) return protocol_error();
      } else if (key == "text") {
        if (value.raw_json_token().get(text_json)) return protocol_error();
        while (!text_json.empty() && text_json.back() == ' ') text_json.remove_suffix(1);
        if (text_json.empty() || text_json.front() != '"') text_json = {};
      } else if (key == "t_ns") {
        if (value.get_int64().get(t_ns)) t_ns = 0;
      } else if (key == "prompt_tokens") {
        if (value.get_int64().get(prompt_tokens)) return protocol_error();
      } else if (key == "completion_tokens") {
        if (value.get_int64().get(completion_tokens)) return protocol_error();
      } else if (key == "finish_reason") {
        if (value.get_string().get(finish)) finish = {};
      } else if (key == "message") {
        std::string_view m;
        if (!value.get_string().get(m)) message = std::string(m);
      }
    }
    // raw_json_token spans stay valid: they point into `scratch`.
    uint64_t id = 0;
    Pending* p = nullptr;
    if (has_id) {
      if (std::from_chars(id_text.data(), id_text.data() + id_text.size(), id).ec == std::errc()) {
        auto it = pending.find(id);
        if (it != pending.end()) p = &it->second;
      }
    }
    if (type == "token") {
      if (!has_id) return protocol_error();
      if (!p) return;  // cancelled or timed out earlier
      if (tokens < 0) return protocol_error();
      if (!p->got_first) {
        p->got_first = true;
        p->handler->on_headers(200, "text/event-stream", arrived_ns);
        if (t_ns > 0) p->handler->on_engine_first_token(t_ns);
      }
      p->completion_tokens += tokens;
      sse.clear();
      append_completion_chunk(&sse, text_json, p->prompt_tokens, p->completion_tokens, {});
      p->handler->on_body(sse, arrived_ns);
    } else if (type == "done") {
      if (!has_id) return protocol_error();
      if (!p) return;
      if (!p->got_first) {
        p->got_first = true;
        p->handler->on_headers(200, "text/event-stream", arrived_ns);
      }
      if (prompt_tokens >= 0) p->prompt_tokens = prompt_tokens;
      if (completion_tokens >= p->completion_tokens) p->completion_tokens = completion_tokens;
      sse.clear();
      append_completion_chunk(&sse, {}, p->prompt_tokens, p->completion_tokens, finish.empty() ? "stop" : finish);
      sse.append("data: [DONE]\n\n");
      p->handler->on_body(sse, arrived_ns);
      complete(id, FailureKind::kNone, {});
      update_idle();
    } else if (type == "error") {
      const std::string detail = "adapter: " + (message.empty() ? std::string("(no message)") : message);
      if (has_id) {
        if (p) complete(id, FailureKind::kAdapterError, detail);
      } else {
        fail_all(FailureKind::kAdapterError, detail);
      }
      update_idle();
    } else if (type == "ready" || type == "log") {
      // a second ready (restart) or a log line: nothing to do
    } else {
      protocol_error();
    }
  }

  void enqueue(std::string_view data) {
    write_queue.append(data);
    flush();
  }
  void enqueue_cancel(uint64_t id) {
    write_queue += "{\"type\":\"cancel\",\"id\":\"" + std::to_string(id) + "\"}\n";
    flush();
  }
  void flush() {
    if (write_busy || write_queue.empty() || !dead.empty()) return;
    writing.swap(write_queue);
    write_queue.clear();
    write_busy = true;
    asio::async_write(out, asio::buffer(writing), [this, alive = alive](const boost::system::error_code& ec, size_t) {
      if (!*alive) return;
      write_busy = false;
      writing.clear();
      if (ec == asio::error::operation_aborted) {
        write_queue.clear();  // nothing in flight any more; the adapter was not reading
        return;
      }
      if (ec) {
        fatal(FailureKind::kAdapterExited, "adapter " + engine.describe_exit(1000));
        return;
      }
      flush();
    });
  }
};

ExecTransport::ExecTransport(EventLoop& loop, ExecEngine& engine, ExecTransportOptions options)
    : impl_(std::make_unique<Impl>(loop, engine, std::move(options))) {}

ExecTransport::~ExecTransport() {
  *impl_->alive = false;
  boost::system::error_code ec;
  impl_->timer.cancel();
  impl_->in.close(ec);
  impl_->out.close(ec);
}

void ExecTransport::prepare(const HttpRequest& request) {
  if (impl_->prefixes.count(request.body)) return;
  impl_->prefixes.emplace(request.body, build_adapter_request_prefix(request.body));
}

uint64_t ExecTransport::send(const HttpRequest& request, ResponseHandler* handler) {
  auto& im = *impl_;
  const uint64_t id = im.next_id++;
  auto fail_later = [&](FailureKind kind, std::string detail) {
    asio::post(im.ioc, [handler, kind, detail = std::move(detail)] {
      handler->on_complete(Outcome{kind, detail, 0}, now_ns());
    });
    return id;
  };
  if (!im.dead.empty()) return fail_later(FailureKind::kAdapterExited, im.dead);
  auto it = im.prefixes.find(request.body);
  if (it == im.prefixes.end()) {
    try {
      it = im.prefixes.emplace(request.body, build_adapter_request_prefix(request.body)).first;
    } catch (const std::exception& e) {
      return fail_later(FailureKind::kOther, std::string("exec backend: ") + e.what());
    }
  }
  if (im.pending.empty()) im.last_line_ns = now_ns();  // the silence clock starts with the first request
  Impl::Pending p;
  p.handler = handler;
  im.pending.emplace(id, p);
  char num[24];
  const auto id_text = std::string_view(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, id).ptr - num));
  im.write_queue.append(it->second);
  im.write_queue.append(id_text);
  im.write_queue.append("\"}\n");
  im.flush();
  handler->on_sent(now_ns());
  im.update_idle();
  return id;
}

void ExecTransport::cancel(uint64_t request_id) {
  auto& im = *impl_;
  if (!im.pending.count(request_id)) return;
  im.enqueue_cancel(request_id);
  im.complete(request_id, FailureKind::kCancelled, "cancelled");
  im.update_idle();
}

void ExecTransport::cancel_all() {
  auto& im = *impl_;
  for (auto& [id, p] : im.pending) im.enqueue_cancel(id);
  im.fail_all(FailureKind::kCancelled, "cancelled");
}

size_t ExecTransport::open_connections() const {
  return impl_->dead.empty() ? 1 : 0;
}

}  // namespace llmbench::net

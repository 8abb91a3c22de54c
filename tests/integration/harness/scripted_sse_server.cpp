#include "scripted_sse_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "core/clock.h"

namespace llmbench::testing {
namespace {

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool send_chunk(int fd, const std::string& payload) {
  return send_all(fd, fmt::format("{:x}\r\n{}\r\n", payload.size(), payload));
}

void sleep_ms(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

ScriptedSseServer::ScriptedSseServer(std::function<ResponseScript(int64_t)> script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 512) != 0) {
    throw std::runtime_error("test server: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptedSseServer::~ScriptedSseServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  for (int fd : client_fds_) ::close(fd);
}

std::string ScriptedSseServer::base_url() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

std::vector<int64_t> ScriptedSseServer::arrival_ns() const {
  std::lock_guard lock(mutex_);
  return arrivals_;
}

void ScriptedSseServer::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    client_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void ScriptedSseServer::serve(int fd) {
  std::string buf;
  char tmp[8192];
  while (!stopping_) {
    // Read one request: headers, then Content-Length bytes of body.
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    size_t content_length = 0;
    std::string lower = buf.substr(0, header_end);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = lower.find("content-length:"); p != std::string::npos) {
      content_length = std::stoul(lower.substr(p + 15));
    }
    while (buf.size() < header_end + 4 + content_length) {
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    buf.erase(0, header_end + 4 + content_length);
    const int64_t index = requests_.fetch_add(1);
    {
      std::lock_guard lock(mutex_);
      arrivals_.push_back(now_ns());
    }
    const int64_t now = in_flight_.fetch_add(1) + 1;
    for (int64_t p = peak_.load(); now > p && !peak_.compare_exchange_weak(p, now);) {
    }
    const bool keep = respond(fd, index);
    in_flight_.fetch_sub(1);
    if (!keep) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

bool ScriptedSseServer::respond(int fd, int64_t index) {
  const ResponseScript s = script_(index);
  if (s.status != 200) {
    const std::string body = fmt::format(
        R"({{"error":{{"message":"scripted status {}","type":"ServerError","code":{}}}}})", s.status, s.status);
    return send_all(
        fd, fmt::format("HTTP/1.1 {} Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}", s.status,
                        body.size(), body));
  }
  if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")) {
    return false;
  }
  sleep_ms(s.ttft_ms);
  for (int32_t i = 0; i < s.tokens; ++i) {
    if (stopping_) return false;
    if (i > 0) sleep_ms(s.itl_ms);
    if (i == s.close_after) return false;
    if (i == s.stall_at) {
      // Hold the connection silent; wake early if the server is stopping.
      for (int64_t t = 0; t < s.stall_ms && !stopping_; t += 10) sleep_ms(10);
      return false;
    }
    std::string event;
    if (i == s.malformed_at) {
      event = "data: {\"choices\":[{\"text\":\"oops\"\n\n";
    } else {
      const bool last = i + 1 == s.tokens;
      const std::string usage =
          s.per_chunk_usage ? fmt::format(R"(,"usage":{{"prompt_tokens":8,"completion_tokens":{}}})", i + 1) : "";
      event = fmt::format(
          R"(data: {{"id":"cmpl-{}","object":"text_completion","choices":[{{"index":0,"text":"t{} ","finish_reason":{}}}]{}}})"
          "\n\n",
          index, i, last ? "\"length\"" : "null", usage);
    }
    if (!send_chunk(fd, event)) return false;
  }
  if (!send_chunk(fd, "data: [DONE]\n\n")) return false;
  return send_all(fd, "0\r\n\r\n");
}

}  // namespace llmbench::testing

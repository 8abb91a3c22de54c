#pragma once
// A tiny blocking HTTP/1.1 client over POSIX sockets for server tests: it sends raw bytes (so tests
// can send malformed or pipelined requests) and parses responses (Content-Length, chunked, or
// until close). Deliberately independent of the server's own HTTP stack.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::server::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  bool complete = false;
};

class TestConnection {
 public:
  explicit TestConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TestConnection() { close(); }
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with RST (SO_LINGER 0), as a client that crashes or is killed would.
  void reset() {
    if (fd_ < 0) return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // True when the server closed the connection (EOF) within timeout_ms.
  bool wait_closed(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return true;
        buffer_.append(buf, static_cast<size_t>(n));
      }
    }
    return false;
  }

  // Reads only the status line and headers (for streaming tests). Body bytes stay buffered.
  std::optional<RawResponse> read_head(int timeout_ms = 10000) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(timeout_ms)) return std::nullopt;
    }
    RawResponse r;
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers[name] = line.substr(v);
      }
      pos = e + 2;
    }
    return r;
  }

  // Reads one chunk of a chunked body; returns nullopt on error, "" for the last chunk.
  std::optional<std::string> read_chunk(int timeout_ms = 10000) {
    size_t line_end;
    while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
      if (!fill(timeout_ms)) return std::nullopt;
    }
    size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
    while (buffer_.size() < line_end + 2 + size + 2) {
      if (!fill(timeout_ms)) return std::nullopt;
    }
    std::string data = buffer_.substr(line_end + 2, size);
    buffer_.erase(0, line_end + 2 + size + 2);
    return data;
  }

  std::optional<RawResponse> read_response(int timeout_ms = 10000, bool head_request = false) {
    auto r = read_head(timeout_ms);
    if (!r) return std::nullopt;
    if (head_request || r->status == 100 || r->status == 204 || r->status == 304) {
      r->complete = true;
      return r;
    }
    auto te = r->headers.find("transfer-encoding");
    if (te != r->headers.end() && te->second.find("chunked") != std::string::npos) {
      for (;;) {
        auto chunk = read_chunk(timeout_ms);
        if (!chunk) return r;
        if (chunk->empty()) break;
        r->body += *chunk;
      }
      r->complete = true;
      return r;
    }
    auto cl = r->headers.find("content-length");
    if (cl != r->headers.end()) {
      size_t n = std::stoul(cl->second);
      while (buffer_.size() < n) {
        if (!fill(timeout_ms)) return r;
      }
      r->body = buffer_.substr(0, n);
      buffer_.erase(0, n);
      r->complete = true;
      return r;
    }
    while (fill(timeout_ms)) {
    }
    r->body = std::move(buffer_);
    buffer_.clear();
    r->complete = true;
    return r;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

inline std::string make_request(std::string_view method, std::string_view target, std::string_view body = {},
                                std::string_view extra_headers = {}) {
  std::string r;
  r += method;
  r += ' ';
  r += target;
  r += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += extra_headers;
  if (!body.empty() || method == "POST") {
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += "\r\n";
  r += body;
  return r;
}

// One request on a fresh connection.
inline RawResponse http_call(uint16_t port, std::string_view method, std::string_view target,
                             std::string_view body = {}, std::string_view extra_headers = {}, int timeout_ms = 20000) {
  TestConnection c(port);
  if (!c.ok() || !c.send(make_request(method, target, body, extra_headers))) return {};
  auto r = c.read_response(timeout_ms, method == "HEAD");
  return r ? *r : RawResponse{};
}

// Splits an SSE body into the payloads of its "data:" events (one leading space stripped).
inline std::vector<std::string> sse_data(std::string_view body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view event = body.substr(pos, end - pos);
    if (event.substr(0, 5) == "data:") {
      event.remove_prefix(5);
      if (!event.empty() && event[0] == ' ') event.remove_prefix(1);
      events.emplace_back(event);
    }
    pos = end + 2;
  }
  return events;
}

}  // namespace llmbench::server::testing

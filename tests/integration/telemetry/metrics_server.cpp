#include "metrics_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace llmbench::telemetry::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct MetricsServer::Impl {
  std::function<ScriptedResponse(uint64_t, const std::string&)> respond;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  uint16_t port = 0;
  std::atomic<bool> running{true};
  std::atomic<uint64_t> requests{0};
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::thread> sessions;
  // Sockets stay open until stop(), so that their descriptors cannot be reused while stop() may
  // still shut them down.
  std::vector<std::shared_ptr<tcp::socket>> sockets;

  void session(tcp::socket& socket) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (running) {
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) break;
      uint64_t n = requests++;
      ScriptedResponse r = respond(n, std::string(request.target()));
      if (r.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
      if (r.drop_connection || !running) break;
      http::response<http::string_body> response{static_cast<http::status>(r.status), request.version()};
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = std::move(r.body);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }

  void accept_loop() {
    while (running) {
      auto socket = std::make_shared<tcp::socket>(ioc);
      boost::system::error_code ec;
      acceptor.accept(*socket, ec);
      if (ec || !running) continue;
      std::lock_guard<std::mutex> lock(mu);
      sockets.push_back(socket);
      sessions.emplace_back([this, socket] { session(*socket); });
    }
  }
};

MetricsServer::MetricsServer(std::function<ScriptedResponse(uint64_t, const std::string&)> respond)
    : impl_(std::make_unique<Impl>()) {
  impl_->respond = std::move(respond);
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

MetricsServer::~MetricsServer() {
  stop();
}

uint16_t MetricsServer::port() const {
  return impl_->port;
}
uint64_t MetricsServer::requests() const {
  return impl_->requests.load();
}

void MetricsServer::stop() {
  if (!impl_->running.exchange(false)) return;
  // Wake the blocked accept() and reads: shutdown() on the descriptors is safe from this thread.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  impl_->accept_thread.join();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  std::vector<std::thread> sessions;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& socket : impl_->sockets) ::shutdown(socket->native_handle(), SHUT_RDWR);
    sessions.swap(impl_->sessions);
  }
  for (std::thread& t : sessions) t.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->sockets.clear();
}

}  // namespace llmbench::telemetry::testing

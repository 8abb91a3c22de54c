#pragma once
// What the load generator sends requests through: an HTTP connection pool (HttpClient) or an
// in-process engine behind a JSON-lines adapter (ExecTransport). Same contract as HttpClient: use
// from its loop's thread; every handler callback runs on that thread; on_complete exactly once.
#include <cstdint>

namespace llmbench::net {

struct HttpRequest;
class ResponseHandler;

class Transport {
 public:
  virtual ~Transport() = default;
  // Optional: called before the clock starts with every request that may later be sent, so a
  // transport can pre-build what it writes. Default: nothing.
  virtual void prepare(const HttpRequest& request) { (void)request; }
  // Starts a request now. `handler` must outlive on_complete. Returns an id usable with cancel().
  virtual uint64_t send(const HttpRequest& request, ResponseHandler* handler) = 0;
  virtual void cancel(uint64_t request_id) = 0;  // completes the request with kCancelled
  virtual void cancel_all() = 0;
  virtual size_t open_connections() const = 0;
};

}  // namespace llmbench::net

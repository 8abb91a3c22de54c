#pragma once
// Incremental Server-Sent Events parser (WHATWG HTML "event stream interpretation"), pure and
// allocation-free in steady state: buffers keep their capacity between events.
//
// Handles events split across reads and several events per read, LF / CRLF / CR line ends (a CRLF
// split across reads too), comments (':'), multi-line data joined with '\n', event/id/retry fields,
// the optional single space after the colon, a field with no colon, a leading UTF-8 BOM, and
// `data: [DONE]` (OpenAI's end marker). Each event carries the arrival stamp of the chunk that
// completed it. An event larger than max_event_bytes is skipped up to its end and reported once
// with overflow = true, so memory stays bounded whatever the server sends.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace llmbench::net {

struct SseEvent {
  std::string_view type;   // the "event:" field; empty means the default "message"
  std::string_view data;   // data lines joined with '\n' (no trailing '\n')
  std::string_view id;     // the last event ID seen so far (it persists across events, per spec)
  int64_t arrived_ns = 0;  // stamp of the chunk holding the blank line that completed the event
  bool done = false;       // data is exactly "[DONE]"
  bool overflow = false;   // the event exceeded max_event_bytes and was dropped; data is empty
};

class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = 16u << 20;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes) : max_event_bytes_(max_event_bytes) {}

  // Parses one chunk; calls on_event(const SseEvent&) for every event it completes. The views in
  // the event are valid only during the call. Returns the number of events dispatched.
  template <class Fn>
  size_t feed(std::string_view chunk, int64_t arrived_ns, Fn&& on_event) {
    using F = std::remove_reference_t<Fn>;
    return feed_impl(
        chunk, arrived_ns, [](void* ctx, const SseEvent& event) { (*static_cast<F*>(ctx))(event); },
        const_cast<void*>(static_cast<const void*>(&on_event)));
  }

  // True if bytes of an unfinished event are buffered (a stream that ends now ended mid-event;
  // per spec such an event is discarded).
  bool has_partial_event() const { return line_len_ > 0 || !data_.empty() || !type_.empty() || skipping_; }
  void reset();  // forget everything (keeps buffer capacity)

  uint64_t comments() const { return comments_; }    // ':' lines seen (keep-alive pings)
  uint64_t overflows() const { return overflows_; }  // events dropped for exceeding the limit
  int64_t retry_ms() const { return retry_ms_; }     // last "retry:" value, -1 if none
  size_t max_event_bytes() const { return max_event_bytes_; }

 private:
  using Callback = void (*)(void*, const SseEvent&);
  size_t feed_impl(std::string_view chunk, int64_t arrived_ns, Callback cb, void* ctx);
  // Handles one complete line; returns true if it dispatched an event.
  bool on_line(std::string_view line, int64_t arrived_ns, Callback cb, void* ctx);
  bool over_limit(size_t extra) const { return data_.size() + type_.size() + extra > max_event_bytes_; }

  size_t max_event_bytes_;
  std::string line_;     // a line split across chunks
  size_t line_len_ = 0;  // length of the current unfinished line (also while skipping)
  std::string data_;     // data buffer, lines joined with '\n' (trailing '\n' while building)
  std::string type_;
  std::string id_;
  bool has_data_ = false;
  bool after_cr_ = false;  // last byte was CR: a following LF belongs to the same line end
  bool skipping_ = false;  // current event overflowed: discard until its blank line
  bool at_start_ = true;   // no byte seen yet (BOM check)
  uint8_t bom_matched_ = 0;
  uint64_t comments_ = 0;
  uint64_t overflows_ = 0;
  int64_t retry_ms_ = -1;
};

}  // namespace llmbench::net

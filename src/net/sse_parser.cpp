#include "net/sse_parser.h"

#include <cstring>

namespace llmbench::net {

namespace {
constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
}  // namespace

void SseParser::reset() {
  line_.clear();
  line_len_ = 0;
  data_.clear();
  type_.clear();
  id_.clear();
  has_data_ = false;
  after_cr_ = false;
  skipping_ = false;
  at_start_ = true;
  bom_matched_ = 0;
  comments_ = 0;
  overflows_ = 0;
  retry_ms_ = -1;
}

size_t SseParser::feed_impl(std::string_view chunk, int64_t arrived_ns, Callback cb, void* ctx) {
  size_t events = 0;
  size_t pos = 0;
  const size_t n = chunk.size();
  if (at_start_) {
    // Strip one leading UTF-8 BOM, which may itself arrive split across chunks.
    while (pos < n && bom_matched_ < 3 && static_cast<unsigned char>(chunk[pos]) == kBom[bom_matched_]) {
      ++bom_matched_;
      ++pos;
    }
    if (pos == n && bom_matched_ < 3) return 0;  // still possibly a BOM
    if (bom_matched_ > 0 && bom_matched_ < 3) {  // not a BOM after all: those bytes are line text
      line_.assign(reinterpret_cast<const char*>(kBom), bom_matched_);
      line_len_ = bom_matched_;
    }
    at_start_ = false;
  }
  if (after_cr_ && pos < n) {
    after_cr_ = false;
    if (chunk[pos] == '\n') ++pos;  // the LF of a CRLF split across chunks
  }
  while (pos < n) {
    // Find the end of the current line.
    const char* begin = chunk.data() + pos;
    const char* end = chunk.data() + n;
    const char* eol = begin;
    while (eol < end && *eol != '\n' && *eol != '\r') ++eol;
    const size_t len = static_cast<size_t>(eol - begin);
    if (eol == end) {  // unfinished line: keep it for the next chunk
      line_len_ += len;
      if (!skipping_) {
        if (over_limit(line_len_)) {
          skipping_ = true;
          line_.clear();
        } else {
          line_.append(begin, len);
        }
      }
      break;
    }
    // A complete line [begin, eol); consume its terminator.
    pos += len + 1;
    if (*eol == '\r') {
      if (pos < n) {
        if (chunk[pos] == '\n') ++pos;
      } else {
        after_cr_ = true;
      }
    }
    const size_t full_len = line_len_ + len;
    line_len_ = 0;
    if (skipping_) {
      line_.clear();
      if (full_len == 0) {  // the blank line that ends the oversized event
        skipping_ = false;
        data_.clear();
        type_.clear();
        has_data_ = false;
        ++overflows_;
        SseEvent event;
        event.id = id_;
        event.arrived_ns = arrived_ns;
        event.overflow = true;
        cb(ctx, event);
        ++events;
      }
      continue;
    }
    if (!line_.empty()) {
      if (over_limit(full_len)) {
        skipping_ = true;
        line_.clear();
        continue;
      }
      line_.append(begin, len);
      const bool dispatched = on_line(line_, arrived_ns, cb, ctx);
      line_.clear();
      events += dispatched;
    } else {
      if (over_limit(len)) {
        skipping_ = true;
        continue;
      }
      events += on_line(std::string_view(begin, len), arrived_ns, cb, ctx);
    }
  }
  return events;
}

bool SseParser::on_line(std::string_view line, int64_t arrived_ns, Callback cb, void* ctx) {
  if (line.empty()) {  // dispatch
    if (!has_data_) {  // per spec: no data means no event; the type buffer resets
      type_.clear();
      return false;
    }
    if (!data_.empty() && data_.back() == '\n') data_.pop_back();
    SseEvent event;
    event.type = type_;
    event.data = data_;
    event.id = id_;
    event.arrived_ns = arrived_ns;
    event.done = event.data == "[DONE]";
    cb(ctx, event);
    data_.clear();
    type_.clear();
    has_data_ = false;
    return true;
  }
  if (line.front() == ':') {
    ++comments_;
    return false;
  }
  std::string_view field = line;
  std::string_view value;
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  } else if (field == "retry") {
    if (!value.empty() && value.size() <= 15 && value.find_first_not_of("0123456789") == std::string_view::npos) {
      int64_t v = 0;
      for (char c : value) v = v * 10 + (c - '0');
      retry_ms_ = v;
    }
  }
  return false;
}

}  // namespace llmbench::net

// Fuzzes the response decoders: any bytes as one SSE event's data and as a whole response body,
// for every dialect. Malformed input must be flagged, never crash; counts never go negative.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/dialect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto dialect : {llmbench::net::ApiDialect::kOpenAICompletions, llmbench::net::ApiDialect::kOpenAIChat,
                       llmbench::net::ApiDialect::kTgi}) {
    llmbench::net::EventDecoder decoder(dialect);
    llmbench::net::StreamState state;
    llmbench::net::DecodedEvent ev;
    // The input as one event, then split at newlines as a sequence of events.
    decoder.decode_event(text, &state, &ev, true);
    if (ev.tokens < 0 || (ev.malformed && ev.tokens != 0)) std::abort();
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      decoder.decode_event(text.substr(start, end - start), &state, &ev, false);
      if (ev.tokens < 0 || ev.text_bytes < 0) std::abort();
      start = end + 1;
    }
    if (state.tokens < 0) std::abort();
    llmbench::net::DecodedResponse response;
    decoder.decode_response(text, &response, true);
  }
  return 0;
}

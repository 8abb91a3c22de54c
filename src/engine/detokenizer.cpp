#include "engine/detokenizer.h"

#include <utility>

namespace llmbench::engine {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence a lead byte starts, or 0 for a byte that cannot start one.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `byte` is valid as continuation byte number `index` (1-based) after `lead`
// (the second byte has narrower ranges after E0, ED, F0 and F4, per Unicode table 3-7).
bool valid_continuation(unsigned char lead, int index, unsigned char byte) {
  if (index == 1) {
    if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
    if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
    if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
    if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
  }
  return byte >= 0x80 && byte <= 0xBF;
}

}  // namespace

void drain_utf8(std::string& bytes, std::string& out, bool final) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    const int len = sequence_length(lead);
    if (len == 1) {
      out.push_back(bytes[i]);
      ++i;
      continue;
    }
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    int matched = 1;
    while (matched < len && i + static_cast<size_t>(matched) < n &&
           valid_continuation(lead, matched, static_cast<unsigned char>(bytes[i + static_cast<size_t>(matched)]))) {
      ++matched;
    }
    if (matched == len) {
      out.append(bytes, i, static_cast<size_t>(len));
      i += static_cast<size_t>(len);
    } else if (i + static_cast<size_t>(matched) == n && !final) {
      break;  // incomplete so far: wait for more bytes
    } else {
      out += kReplacement;  // a maximal invalid subpart
      i += static_cast<size_t>(matched);
    }
  }
  bytes.erase(0, i);
}

IncrementalDetokenizer::IncrementalDetokenizer(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, bool skip_special)
    : tokenizer_(std::move(tokenizer)), skip_special_(skip_special) {}

void IncrementalDetokenizer::push(tokenizer::TokenId id, std::string& out) {
  if (!tokenizer_) return;
  if (skip_special_ && tokenizer_->is_special(id)) return;
  if (!tokenizer_->append_token_bytes(id, pending_)) return;  // ids beyond the vocabulary have no text
  drain_utf8(pending_, out, false);
}

void IncrementalDetokenizer::flush(std::string& out) {
  drain_utf8(pending_, out, true);
}

}  // namespace llmbench::engine

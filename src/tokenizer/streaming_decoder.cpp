#include <stdexcept>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {

StreamingDecoder::StreamingDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special)
    : tokenizer_(std::move(tokenizer)), skip_special_(skip_special) {
  if (!tokenizer_) throw std::invalid_argument("StreamingDecoder needs a tokenizer");
}

std::string StreamingDecoder::push(TokenId id) {
  if (skip_special_ && tokenizer_->is_special(id)) return {};
  if (!tokenizer_->append_token_bytes(id, pending_bytes_)) return {};  // unknown ids are skipped, as decode() does
  // Everything up to a trailing, still-completable sequence is final: emit it (invalid bytes as
  // U+FFFD, segmented exactly as decode() of the whole sequence would).
  const size_t ready = utf8_complete_prefix(pending_bytes_);
  if (ready == 0) return {};
  std::string text;
  append_utf8_lossy(std::string_view(pending_bytes_).substr(0, ready), text);
  pending_bytes_.erase(0, ready);
  return text;
}

std::string StreamingDecoder::flush() {
  std::string text;
  append_utf8_lossy(pending_bytes_, text);
  pending_bytes_.clear();
  return text;
}

}  // namespace llmbench::tokenizer

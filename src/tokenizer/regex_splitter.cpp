#include "tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {

struct RegexSplitter::Impl {
  pcre2_code* code = nullptr;  // compiled (and JIT-compiled) once; read-only afterwards
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

// Per-call match state. The default JIT stack (32 KiB on the machine stack) suffices for ordinary
// text; an input that exhausts it is retried once with a private 64 MiB JIT stack.
struct MatchData {
  pcre2_match_data* data;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!data) throw std::bad_alloc();
  }
  ~MatchData() {
    pcre2_match_data_free(data);
    if (context) pcre2_match_context_free(context);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
  }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  // Switches to a big JIT stack (after PCRE2_ERROR_JIT_STACKLIMIT on an unusual input).
  bool grow() {
    if (context) return false;
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (!context || !jit_stack) return false;
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
    pcre2_set_match_limit(context, 0xFFFFFFFFu);
    pcre2_set_depth_limit(context, 0xFFFFFFFFu);
    pcre2_set_heap_limit(context, 0xFFFFFFFFu);
    return true;
  }
};

}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern) : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error_code, &error_offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw std::runtime_error("tokenizer: cannot compile pre-tokenizer regex /" + pattern + "/ at offset " +
                             std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
  }
  // JIT is an optimisation; without it (unsupported CPU) pcre2_match interprets the pattern.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<SplitSpan>& out) const {
  if (text.empty()) return;
  MatchData match(impl_->code);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t previous_end = 0;
  size_t start = 0;
  while (start <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.data, match.context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && match.grow()) {
      rc = pcre2_match(impl_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.data, match.context);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw std::runtime_error(std::string("tokenizer: pre-tokenizer regex failed: ") +
                               reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end == begin) {
      // An empty match cuts nothing; move on by one character, as Oniguruma's find_iter does.
      if (begin >= text.size()) break;
      start = begin + utf8_step(text, begin).length;
      continue;
    }
    if (begin > previous_end) out.push_back({previous_end, begin, false});
    out.push_back({begin, end, true});
    previous_end = end;
    start = end;
  }
  if (previous_end < text.size()) out.push_back({previous_end, text.size(), false});
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  out.reserve(literal.size() * 2);
  for (const char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!plain) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace llmbench::tokenizer

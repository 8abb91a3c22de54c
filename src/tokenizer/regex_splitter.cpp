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
  // Switches to a big JIT stack (after PCRE2_ERROR_JIT_STACKLIMIT on an unusual input). The match
  // limit stays at PCRE2's default, so a pathological user-supplied Split regex fails instead of hanging.
  bool grow() {
    if (context) return false;
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (!context || !jit_stack) return false;
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
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
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && match.grow()) {
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

std::string onig_to_pcre2(std::string_view pattern) {
  constexpr std::string_view kSpace = R"(\t-\r\x{85}\p{Z})";
  constexpr std::string_view kWord = R"(\p{L}\p{M}\p{N}\p{Pc})";
  constexpr std::string_view kHex = "0-9a-fA-F";
  std::string out;
  out.reserve(pattern.size() + 32);
  bool in_class = false;
  size_t i = 0;
  const auto add_set = [&](std::string_view set, bool negated) {
    if (in_class) {
      out.append(set);
    } else {
      out.append(negated ? "[^" : "[").append(set).append("]");
    }
  };
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      i += 2;
      // Negated sets inside a class ([^\S]) have no inline form; PCRE2's own meaning is kept there.
      if (e == 's' || (e == 'S' && !in_class)) {
        add_set(kSpace, e == 'S');
      } else if (e == 'w' || (e == 'W' && !in_class)) {
        add_set(kWord, e == 'W');
      } else if (e == 'h' || (e == 'H' && !in_class)) {
        add_set(kHex, e == 'H');
      } else {
        out.push_back('\\');
        out.push_back(e);
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      ++i;
      if (i < pattern.size() && pattern[i] == '^') out.push_back(pattern[i++]);
      if (i < pattern.size() && pattern[i] == ']') out.push_back(pattern[i++]);  // a literal ']' first
      continue;
    }
    if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t close = pattern.find(":]", i + 2);
      if (close != std::string_view::npos) {
        out.append(pattern.substr(i, close + 2 - i));  // POSIX class such as [:alpha:]
        i = close + 2;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
    ++i;
  }
  return out;
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

#include "server/api_format.h"

#include <fmt/format.h>

namespace llmbench::server {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = 0;
  uint32_t min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_int(std::string& out, int64_t v) {
  fmt::format_to(std::back_inserter(out), "{}", v);
}

void append_usage(std::string& out, const Usage& usage, bool with_details) {
  out += "{\"prompt_tokens\":";
  append_int(out, usage.prompt_tokens);
  out += ",\"total_tokens\":";
  append_int(out, static_cast<int64_t>(usage.prompt_tokens) + usage.completion_tokens);
  out += ",\"completion_tokens\":";
  append_int(out, usage.completion_tokens);
  if (with_details) out += ",\"prompt_tokens_details\":null";
  out += '}';
}

void append_nullable(std::string& out, const char* s) {
  if (s == nullptr) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

void append_stop_reason(std::string& out, const StopReason& r) {
  switch (r.kind) {
    case StopReason::Kind::kNull:
      out += "null";
      break;
    case StopReason::Kind::kString:
      append_json_string(out, r.text);
      break;
    case StopReason::Kind::kTokenId:
      append_int(out, r.token_id);
      break;
  }
}

void append_head(std::string& out, const ResponseIds& ids, std::string_view object) {
  out += "{\"id\":";
  append_json_string(out, ids.id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":";
  append_int(out, ids.created);
  out += ",\"model\":";
  append_json_string(out, ids.model);
}

void append_tgi_token(std::string& out, const TgiToken& token) {
  out += "{\"id\":";
  append_int(out, token.id);
  out += ",\"text\":";
  append_json_string(out, token.text);
  // The engine does not compute log-probabilities; serde_json writes a NaN f32 as null.
  out += ",\"logprob\":null,\"special\":";
  out += token.special ? "true" : "false";
  out += '}';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string format_error(const ApiError& error) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(out, error.message);
  out += ",\"type\":";
  append_json_string(out, error.type);
  out += ",\"param\":";
  if (error.param.empty()) {
    out += "null";
  } else {
    append_json_string(out, error.param);
  }
  out += ",\"code\":";
  append_int(out, error.status);
  out += "}}";
  return out;
}

std::string format_tgi_error(const ApiError& error) {
  std::string out = "{\"error\":";
  append_json_string(out, error.message);
  out += ",\"error_type\":";
  const char* type = "validation";
  if (error.status == 503 || error.status == 429) type = "overloaded";
  if (error.status == 401) type = "unauthorized";
  if (error.status >= 500 && error.status != 503) type = "generation";
  append_json_string(out, type);
  out += '}';
  return out;
}

std::string format_tokenize_response(const std::vector<int32_t>& tokens, int max_model_len,
                                     const std::vector<std::string>* token_strs) {
  std::string out = "{\"count\":";
  append_int(out, static_cast<int64_t>(tokens.size()));
  out += ",\"max_model_len\":";
  append_int(out, max_model_len);
  out += ",\"tokens\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) out += ',';
    append_int(out, tokens[i]);
  }
  out += "],\"token_strs\":";
  if (token_strs == nullptr) {
    out += "null";
  } else {
    out += '[';
    for (size_t i = 0; i < token_strs->size(); ++i) {
      if (i > 0) out += ',';
      append_json_string(out, (*token_strs)[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string format_detokenize_response(std::string_view text) {
  std::string out = "{\"prompt\":";
  append_json_string(out, text);
  out += '}';
  return out;
}

void append_sse_data(std::string& out, std::string_view json) {
  out += "data: ";
  out += json;
  out += "\n\n";
}

void append_completion_chunk(std::string& out, const ResponseIds& ids, int index, std::string_view text,
                             const char* finish_reason, const StopReason& stop_reason, const Usage* usage) {
  out += "data: ";
  append_head(out, ids, "text_completion");
  out += ",\"choices\":[{\"index\":";
  append_int(out, index);
  out += ",\"text\":";
  append_json_string(out, text);
  out += ",\"logprobs\":null,\"finish_reason\":";
  append_nullable(out, finish_reason);
  out += ",\"stop_reason\":";
  append_stop_reason(out, stop_reason);
  out += "}],\"usage\":";
  if (usage == nullptr) {
    out += "null";
  } else {
    append_usage(out, *usage, false);
  }
  out += "}\n\n";
}

void append_chat_role_chunk(std::string& out, const ResponseIds& ids, int index, const Usage* usage) {
  out += "data: ";
  append_head(out, ids, "chat.completion.chunk");
  out += ",\"choices\":[{\"index\":";
  append_int(out, index);
  out += ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]";
  if (usage != nullptr) {
    out += ",\"usage\":";
    append_usage(out, *usage, false);
  }
  out += "}\n\n";
}

void append_chat_chunk(std::string& out, const ResponseIds& ids, int index, std::string_view text,
                       const char* finish_reason, const StopReason& stop_reason, const Usage* usage) {
  out += "data: ";
  append_head(out, ids, "chat.completion.chunk");
  out += ",\"choices\":[{\"index\":";
  append_int(out, index);
  out += ",\"delta\":{\"content\":";
  append_json_string(out, text);
  out += "},\"logprobs\":null,\"finish_reason\":";
  append_nullable(out, finish_reason);
  if (finish_reason != nullptr) {
    out += ",\"stop_reason\":";
    append_stop_reason(out, stop_reason);
  }
  out += "}]";
  if (usage != nullptr) {
    out += ",\"usage\":";
    append_usage(out, *usage, false);
  }
  out += "}\n\n";
}

void append_usage_chunk(std::string& out, const ResponseIds& ids, std::string_view object, const Usage& usage) {
  out += "data: ";
  append_head(out, ids, object);
  out += ",\"choices\":[],\"usage\":";
  append_usage(out, usage, false);
  out += "}\n\n";
}

std::string format_completion_response(const ResponseIds& ids, const std::vector<ChoiceResult>& choices,
                                       const Usage& usage) {
  std::string out;
  append_head(out, ids, "text_completion");
  out += ",\"choices\":[";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"index\":";
    append_int(out, static_cast<int64_t>(i));
    out += ",\"text\":";
    append_json_string(out, choices[i].text);
    out += ",\"logprobs\":null,\"finish_reason\":";
    append_nullable(out, choices[i].finish_reason);
    out += ",\"stop_reason\":";
    append_stop_reason(out, choices[i].stop_reason);
    if (choices[i].token_ids != nullptr) {
      out += ",\"token_ids\":[";
      for (size_t k = 0; k < choices[i].token_ids->size(); ++k) {
        if (k > 0) out += ',';
        append_int(out, (*choices[i].token_ids)[k]);
      }
      out += ']';
    }
    out += ",\"prompt_logprobs\":null}";
  }
  out += "],\"usage\":";
  append_usage(out, usage, true);
  out += '}';
  return out;
}

std::string format_chat_response(const ResponseIds& ids, const std::vector<ChoiceResult>& choices, const Usage& usage) {
  std::string out;
  append_head(out, ids, "chat.completion");
  out += ",\"choices\":[";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"index\":";
    append_int(out, static_cast<int64_t>(i));
    out += ",\"message\":{\"role\":\"assistant\",\"content\":";
    append_json_string(out, choices[i].text);
    out += ",\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":";
    append_nullable(out, choices[i].finish_reason);
    out += ",\"stop_reason\":";
    append_stop_reason(out, choices[i].stop_reason);
    out += '}';
  }
  out += "],\"usage\":";
  append_usage(out, usage, true);
  out += ",\"prompt_logprobs\":null}";
  return out;
}

void append_tgi_stream_event(std::string& out, int index, const TgiToken& token, const std::string* generated_text,
                             const TgiDetails* details) {
  out += "data:{\"index\":";
  append_int(out, index);
  out += ",\"token\":";
  append_tgi_token(out, token);
  out += ",\"generated_text\":";
  if (generated_text == nullptr) {
    out += "null";
  } else {
    append_json_string(out, *generated_text);
  }
  out += ",\"details\":";
  if (details == nullptr) {
    out += "null";
  } else {
    out += "{\"finish_reason\":";
    append_json_string(out, details->finish_reason);
    out += ",\"generated_tokens\":";
    append_int(out, details->generated_tokens);
    out += ",\"seed\":";
    if (details->seed) {
      fmt::format_to(std::back_inserter(out), "{}", *details->seed);
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "}\n\n";
}

std::string format_tgi_response(std::string_view generated_text, const TgiDetails* details,
                                const std::vector<TgiToken>& tokens) {
  std::string out = "{\"generated_text\":";
  append_json_string(out, generated_text);
  if (details != nullptr) {
    out += ",\"details\":{\"finish_reason\":";
    append_json_string(out, details->finish_reason);
    out += ",\"generated_tokens\":";
    append_int(out, details->generated_tokens);
    out += ",\"seed\":";
    if (details->seed) {
      fmt::format_to(std::back_inserter(out), "{}", *details->seed);
    } else {
      out += "null";
    }
    out += ",\"prefill\":[],\"tokens\":[";
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ',';
      append_tgi_token(out, tokens[i]);
    }
    out += "]}";
  }
  out += '}';
  return out;
}

}  // namespace llmbench::server

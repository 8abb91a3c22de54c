// Response decoders on simdjson's on-demand API: the per-event hot path. Field iteration in
// document order (no lookups), no allocation once the scratch buffers have grown.
#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "net/dialect.h"

namespace llmbench::net {

namespace od = simdjson::ondemand;

struct EventDecoder::Impl {
  od::parser parser;
  std::string scratch;  // the document copied with simdjson's padding

  simdjson::padded_string_view load(std::string_view data) {
    const size_t need = data.size() + simdjson::SIMDJSON_PADDING;
    if (scratch.size() < need) scratch.resize(std::max(need, scratch.size() * 2));
    std::memcpy(scratch.data(), data.data(), data.size());
    return simdjson::padded_string_view(scratch.data(), data.size(), scratch.size());
  }
};

namespace {

// Everything one document can say, before dialect-specific token accounting.
struct Fields {
  bool has_choices = false;
  bool has_content = false;
  int64_t text_bytes = 0;
  bool has_usage = false;
  int32_t prompt_tokens = -1;
  int32_t completion_tokens = -1;
  bool tgi_token = false;
  bool is_error = false;
  bool object_is_error = false;
  std::string_view top_message;
  std::string_view top_type;
};

int32_t to_i32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, -1, INT32_MAX));
}

void append_text(std::string_view s, Fields& f, std::string* text) {
  if (s.empty()) return;
  f.has_content = true;
  f.text_bytes += static_cast<int64_t>(s.size());
  if (text) text->append(s);
}

void parse_usage(od::value v, Fields& f) {
  if (v.is_null()) return;
  f.has_usage = true;
  for (auto field : v.get_object()) {
    std::string_view key = field.unescaped_key();
    if (key == "prompt_tokens") {
      f.prompt_tokens = to_i32(field.value().get_int64());
    } else if (key == "completion_tokens") {
      od::value c = field.value();
      if (!c.is_null()) f.completion_tokens = to_i32(c.get_int64());
    }
  }
}

void parse_message_like(od::value v, Fields& f, std::string* text) {
  if (v.is_null()) return;
  for (auto field : v.get_object()) {
    std::string_view key = field.unescaped_key();
    if (key == "content" || key == "reasoning_content" || key == "reasoning") {
      od::value c = field.value();
      if (c.type() == od::json_type::string) append_text(c.get_string(), f, text);
    }
  }
}

void parse_choices(od::value v, Fields& f, std::string* finish_reason, std::string* text) {
  for (od::value choice : v.get_array()) {
    f.has_choices = true;  // a non-empty choices array (the final usage chunk has "choices": [])
    for (auto field : choice.get_object()) {
      std::string_view key = field.unescaped_key();
      od::value c = field.value();
      if (key == "text") {
        if (c.type() == od::json_type::string) append_text(c.get_string(), f, text);
      } else if (key == "delta" || key == "message") {
        parse_message_like(c, f, text);
      } else if (key == "finish_reason") {
        if (!c.is_null()) finish_reason->assign(std::string_view(c.get_string()));
      }
    }
  }
}

void parse_error(od::value v, Fields& f, std::string* message, std::string* type) {
  f.is_error = true;
  switch (v.type()) {
    case od::json_type::string:
      message->assign(std::string_view(v.get_string()));
      return;
    case od::json_type::object:
      for (auto field : v.get_object()) {
        std::string_view key = field.unescaped_key();
        od::value c = field.value();
        if (key == "message" && c.type() == od::json_type::string) message->assign(std::string_view(c.get_string()));
        if (key == "type" && c.type() == od::json_type::string) type->assign(std::string_view(c.get_string()));
      }
      return;
    default:
      message->assign(std::string_view(simdjson::to_json_string(v).value()));
  }
}

void parse_tgi_token(od::value v, Fields& f, std::string* text) {
  f.tgi_token = true;
  bool special = false;
  std::string_view token_text;
  for (auto field : v.get_object()) {
    std::string_view key = field.unescaped_key();
    if (key == "text") {
      token_text = field.value().get_string();
    } else if (key == "special") {
      special = field.value().get_bool();
    }
  }
  f.has_content = true;  // a generated token, even if special (it still counts toward TTFT/ITL)
  if (!special) {
    f.text_bytes += static_cast<int64_t>(token_text.size());
    if (text) text->append(token_text);
  }
}

void parse_tgi_details(od::value v, Fields& f, std::string* finish_reason) {
  if (v.is_null()) return;
  f.has_usage = true;
  for (auto field : v.get_object()) {
    std::string_view key = field.unescaped_key();
    od::value c = field.value();
    if (key == "generated_tokens") {
      f.completion_tokens = to_i32(c.get_int64());
    } else if (key == "input_length" || key == "prompt_tokens") {
      f.prompt_tokens = to_i32(c.get_int64());
    } else if (key == "finish_reason") {
      finish_reason->assign(std::string_view(c.get_string()));
    }
  }
}

// Walks one top-level object.
void parse_object(od::object root, Fields& f, std::string* finish_reason, std::string* error_message,
                  std::string* error_type, std::string* text, std::string* tgi_generated_text) {
  for (auto field : root) {
    std::string_view key = field.unescaped_key();
    od::value v = field.value();
    if (key == "choices") {
      parse_choices(v, f, finish_reason, text);
    } else if (key == "usage") {
      parse_usage(v, f);
    } else if (key == "error") {
      parse_error(v, f, error_message, error_type);
    } else if (key == "error_type") {
      if (v.type() == od::json_type::string) error_type->assign(std::string_view(v.get_string()));
    } else if (key == "object") {
      if (v.type() == od::json_type::string && std::string_view(v.get_string()) == "error") f.object_is_error = true;
    } else if (key == "message") {
      if (v.type() == od::json_type::string) error_message->assign(std::string_view(v.get_string()));
    } else if (key == "type") {
      if (v.type() == od::json_type::string) f.top_type = v.get_string();
      if (!f.top_type.empty()) error_type->assign(f.top_type);
    } else if (key == "token") {
      parse_tgi_token(v, f, text);
    } else if (key == "details") {
      parse_tgi_details(v, f, finish_reason);
    } else if (key == "generated_text" && tgi_generated_text) {
      if (v.type() == od::json_type::string) tgi_generated_text->assign(std::string_view(v.get_string()));
    }
  }
  if (f.object_is_error) f.is_error = true;
}

}  // namespace

EventDecoder::EventDecoder(ApiDialect dialect) : dialect_(dialect), impl_(std::make_unique<Impl>()) {}
EventDecoder::~EventDecoder() = default;

void EventDecoder::decode_event(std::string_view data, StreamState* state, DecodedEvent* out, bool keep_text) {
  out->clear();
  if (data == "[DONE]") {
    out->done = true;
    return;
  }
  Fields f;
  try {
    od::document doc = impl_->parser.iterate(impl_->load(data));
    parse_object(doc.get_object(), f, &out->finish_reason, &out->error_message, &out->error_type,
                 keep_text ? &out->text : nullptr, nullptr);
    if (doc.current_location().error() == simdjson::SUCCESS) throw simdjson::simdjson_error(simdjson::TRAILING_CONTENT);
  } catch (const simdjson::simdjson_error& e) {
    out->clear();
    out->malformed = true;
    out->malformed_detail =
        std::string("malformed JSON in SSE event: ") + e.what() + ": " + std::string(data.substr(0, 120));
    return;
  }
  if (!f.is_error) {
    out->error_message.clear();
    out->error_type.clear();
  }
  out->is_error = f.is_error;
  out->has_content = f.has_content;
  out->text_bytes = f.text_bytes;
  out->has_usage = f.has_usage;
  out->prompt_tokens = f.prompt_tokens;
  out->completion_tokens = f.completion_tokens;
  if (f.tgi_token) {
    out->tokens = 1;  // TGI sends exactly one generated token per event
    out->tokens_from_server = true;
  } else if (f.has_usage && f.completion_tokens >= 0 && !state->any_fallback &&
             (f.has_choices || state->saw_chunk_usage)) {
    // Cumulative usage in every chunk (continuous_usage_stats): the delta is exact. A final
    // usage-only chunk after per-chunk usage adds whatever the chunks did not already count.
    if (f.has_choices) state->saw_chunk_usage = true;
    out->tokens = std::max(0, f.completion_tokens - state->last_completion_tokens);
    out->tokens_from_server = true;
    state->last_completion_tokens = std::max(state->last_completion_tokens, f.completion_tokens);
  } else if (f.has_content) {
    out->tokens = 1;  // no server count: one token per content chunk (flagged)
    out->tokens_from_server = false;
    state->any_fallback = true;
  }
  state->tokens += out->tokens;
  if (f.prompt_tokens >= 0) state->prompt_tokens = f.prompt_tokens;
  if (f.completion_tokens >= 0) state->completion_tokens = f.completion_tokens;
}

void EventDecoder::decode_response(std::string_view body, DecodedResponse* out, bool keep_text) {
  *out = DecodedResponse{};
  Fields f;
  std::string generated_text;
  try {
    od::document doc = impl_->parser.iterate(impl_->load(body));
    if (doc.type() == od::json_type::array) {  // older TGI /generate answers [ {...} ]
      for (od::value item : doc.get_array()) {
        parse_object(item.get_object(), f, &out->finish_reason, &out->error_message, &out->error_type,
                     keep_text ? &out->text : nullptr, &generated_text);
        break;
      }
    } else {
      parse_object(doc.get_object(), f, &out->finish_reason, &out->error_message, &out->error_type,
                   keep_text ? &out->text : nullptr, &generated_text);
    }
  } catch (const simdjson::simdjson_error& e) {
    *out = DecodedResponse{};
    out->malformed = true;
    out->malformed_detail =
        std::string("malformed JSON response: ") + e.what() + ": " + std::string(body.substr(0, 120));
    return;
  }
  out->is_error = f.is_error;
  if (!f.is_error) {
    out->error_message.clear();
    out->error_type.clear();
  }
  out->text_bytes = f.text_bytes;
  if (!generated_text.empty()) {
    out->text_bytes = static_cast<int64_t>(generated_text.size());
    if (keep_text) out->text = std::move(generated_text);
  }
  out->prompt_tokens = f.prompt_tokens;
  out->completion_tokens = f.completion_tokens;
}

}  // namespace llmbench::net

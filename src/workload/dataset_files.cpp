// The file-backed datasets: JSONL (one request a line) and ShareGPT JSON.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "workload/dataset.h"

namespace llmbench::workload {
namespace {

using json = nlohmann::json;
constexpr size_t kMaxBadLinesKept = 20;

// Records a bad line/entry, or throws with --on-bad-line error.
void bad(Dataset& ds, const DatasetOptions& o, const std::string& source, const char* what, int64_t line,
         const std::string& message) {
  if (o.on_bad_line == BadLinePolicy::kError) {
    throw DatasetError(source + ":" + std::to_string(line) + ": " + message + " (" + what +
                       " rejected with --on-bad-line error; use --on-bad-line skip to skip it)");
  }
  ++ds.skipped;
  if (ds.bad_lines.size() < kMaxBadLinesKept) ds.bad_lines.push_back({line, message});
}

int32_t count_tokens(const tokenizer::Tokenizer& tok, const std::string& text) {
  return static_cast<int32_t>(tok.encode(text).size());
}

// Reads one JSONL object into an item; returns an error message or "" on success.
std::string read_jsonl_item(const json& j, const DatasetOptions& o, const tokenizer::Tokenizer& tok,
                            WorkloadItem& item) {
  if (!j.is_object()) return "expected a JSON object";
  const auto prompt = j.find("prompt");
  const auto messages = j.find("messages");
  if (prompt != j.end() && messages != j.end()) return "give either 'prompt' or 'messages', not both";
  if (prompt == j.end() && messages == j.end()) return "missing 'prompt' (text or token ids) or 'messages'";
  if (prompt != j.end()) {
    if (prompt->is_string()) {
      item.text = prompt->get<std::string>();
      if (item.text.empty()) return "'prompt' is empty";
      item.prompt_len = count_tokens(tok, item.text);
    } else if (prompt->is_array()) {
      if (prompt->empty()) return "'prompt' is an empty token list";
      const auto vocab = static_cast<int64_t>(tok.vocab_size());
      for (const auto& id : *prompt) {
        if (!id.is_number_integer()) return "'prompt' list must hold integer token ids";
        const auto v = id.get<int64_t>();
        if (v < 0 || v > std::numeric_limits<int32_t>::max()) return "token id out of range: " + std::to_string(v);
        if (v >= vocab) return "token id " + std::to_string(v) + " is not in the tokenizer's vocabulary";
        item.token_ids.push_back(static_cast<int32_t>(v));
      }
      item.prompt_len = static_cast<int32_t>(item.token_ids.size());
    } else {
      return "'prompt' must be a string or a list of token ids";
    }
  } else {
    if (!messages->is_array() || messages->empty()) return "'messages' must be a non-empty list";
    for (const auto& m : *messages) {
      if (!m.is_object()) return "each message must be an object with 'role' and 'content'";
      const auto role = m.find("role");
      const auto content = m.find("content");
      if (role == m.end() || !role->is_string()) return "a message has no string 'role'";
      if (content == m.end() || !content->is_string()) return "a message has no string 'content'";
      item.messages.push_back({role->get<std::string>(), content->get<std::string>()});
      item.prompt_len += count_tokens(tok, item.messages.back().content);
    }
  }
  item.max_tokens = o.output_len;
  if (const auto mt = j.find("max_tokens"); mt != j.end()) {
    if (!mt->is_number_integer() || mt->get<int64_t>() < 1 || mt->get<int64_t>() > 10'000'000) {
      return "'max_tokens' must be a positive integer";
    }
    item.max_tokens = static_cast<int32_t>(mt->get<int64_t>());
  }
  if (const auto ts = j.find("timestamp"); ts != j.end()) {
    if (!ts->is_number() || !(ts->get<double>() >= 0) || !std::isfinite(ts->get<double>())) {
      return "'timestamp' must be a number of seconds >= 0";
    }
    item.timestamp_s = ts->get<double>();
  } else if (o.require_timestamps) {
    return "missing 'timestamp' (needed by --trace-replay)";
  }
  return {};
}

bool is_human(const std::string& from) {
  return from == "human" || from == "user";
}
bool is_model(const std::string& from) {
  return from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bard" || from == "model";
}

int64_t line_of_byte(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
}

}  // namespace

Dataset parse_jsonl(const std::string& text, const std::string& source, const DatasetOptions& o,
                    const tokenizer::Tokenizer& tok) {
  Dataset ds;
  ds.kind = DatasetKind::kJsonl;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank line
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e600
      std::string what = e.what();
      if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
      bad(ds, o, source, "line", line_no, "not valid JSON: " + what);
      continue;
    }
    WorkloadItem item;
    const std::string error = read_jsonl_item(j, o, tok, item);
    if (!error.empty()) {
      bad(ds, o, source, "line", line_no, error);
      continue;
    }
    ds.items.push_back(std::move(item));
    if (o.num_prompts > 0 && static_cast<int64_t>(ds.items.size()) >= o.num_prompts && !o.require_timestamps) break;
  }
  if (ds.items.empty()) {
    throw DatasetError(source + ": no usable request lines" +
                       (ds.skipped ? " (" + std::to_string(ds.skipped) + " malformed lines skipped)" : std::string()));
  }
  if (o.require_timestamps) {
    // A trace is replayed in time order; the first num_prompts requests of it are sent.
    std::stable_sort(ds.items.begin(), ds.items.end(),
                     [](const WorkloadItem& a, const WorkloadItem& b) { return *a.timestamp_s < *b.timestamp_s; });
    if (o.num_prompts > 0 && static_cast<int64_t>(ds.items.size()) > o.num_prompts) {
      ds.items.resize(static_cast<size_t>(o.num_prompts));
    }
  }
  return ds;
}

Dataset parse_sharegpt(const std::string& text, const std::string& source, const DatasetOptions& o,
                       const tokenizer::Tokenizer& tok) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw DatasetError(source + ":" + std::to_string(line_of_byte(text, e.byte)) +
                       ": not valid JSON (ShareGPT files are one JSON list): " + e.what());
  } catch (const json::exception& e) {  // out_of_range: a number like 1e600
    throw DatasetError(source + ": not valid JSON (ShareGPT files are one JSON list): " + e.what());
  }
  if (!doc.is_array()) throw DatasetError(source + ": expected a JSON list of {\"conversations\": [...]} entries");
  Dataset ds;
  ds.kind = DatasetKind::kShareGpt;
  struct Candidate {
    std::string prompt;
    std::string reply;
  };
  std::vector<Candidate> candidates;
  for (size_t k = 0; k < doc.size(); ++k) {
    const auto& entry = doc[k];
    const auto entry_no = static_cast<int64_t>(k + 1);
    const auto conv = entry.is_object() ? entry.find("conversations") : entry.end();
    if (!entry.is_object() || conv == entry.end() || !conv->is_array()) {
      bad(ds, o, source, "entry", entry_no, "entry " + std::to_string(entry_no) + " has no \"conversations\" list");
      continue;
    }
    std::string error;
    for (const auto& turn : *conv) {
      if (!turn.is_object() || !turn.contains("from") || !turn["from"].is_string() || !turn.contains("value") ||
          !turn["value"].is_string()) {
        error = "entry " + std::to_string(entry_no) + ": each turn needs string \"from\" and \"value\"";
        break;
      }
    }
    if (!error.empty()) {
      bad(ds, o, source, "entry", entry_no, error);
      continue;
    }
    if (conv->size() < 2) {  // vLLM drops entries with fewer than two turns
      ++ds.filtered;
      continue;
    }
    // First human turn and the model reply that follows it.
    size_t h = 0;
    while (h < conv->size() && !is_human((*conv)[h]["from"].get<std::string>())) ++h;
    size_t r = h + 1;
    while (r < conv->size() && !is_model((*conv)[r]["from"].get<std::string>())) ++r;
    if (r >= conv->size()) {
      ++ds.filtered;
      continue;
    }
    candidates.push_back({(*conv)[h]["value"].get<std::string>(), (*conv)[r]["value"].get<std::string>()});
  }
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t want = o.num_prompts > 0 ? o.num_prompts : static_cast<int64_t>(candidates.size());
  for (size_t idx : order) {
    if (static_cast<int64_t>(ds.items.size()) >= want) break;
    const auto& c = candidates[idx];
    WorkloadItem item;
    item.text = c.prompt;
    item.prompt_len = count_tokens(tok, c.prompt);
    item.max_tokens = o.sharegpt_output_len ? *o.sharegpt_output_len : count_tokens(tok, c.reply);
    // vLLM's is_valid_sequence.
    const bool too_short = item.prompt_len < o.min_len || (!o.sharegpt_output_len && item.max_tokens < o.min_len);
    if (too_short || item.prompt_len > o.max_prompt_len || item.prompt_len + item.max_tokens > o.max_total_len ||
        item.max_tokens < 1) {
      ++ds.filtered;
      continue;
    }
    ds.items.push_back(std::move(item));
  }
  if (ds.items.empty()) {
    throw DatasetError(source + ": no conversation passes the length rules (prompt " + std::to_string(o.min_len) +
                       ".." + std::to_string(o.max_prompt_len) +
                       " tokens, prompt + output <= " + std::to_string(o.max_total_len) + ")" +
                       (ds.skipped ? "; " + std::to_string(ds.skipped) + " malformed entries skipped" : std::string()));
  }
  // Too few: repeat random picks, as vLLM's oversampling does.
  const size_t valid = ds.items.size();
  std::uniform_int_distribution<size_t> pick(0, valid - 1);
  while (static_cast<int64_t>(ds.items.size()) < want) {
    ds.items.push_back(ds.items[pick(rng)]);
    ++ds.oversampled;
  }
  return ds;
}

}  // namespace llmbench::workload

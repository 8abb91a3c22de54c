#include "tokenizer/tokenizer_loader.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "tokenizer/gpt2_data.h"

namespace llmbench::tokenizer {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error("tokenizer: " + source + ": " + what);
}

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail(source, std::string("malformed JSON: ") + e.what());
  }
}

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& object, const char* key, bool fallback, const std::string& source) {
  const json* value = member(object, key);
  if (!value) return fallback;
  if (!value->is_boolean()) fail(source, std::string("'") + key + "' must be true or false");
  return value->get<bool>();
}

std::string get_string(const json& value, const std::string& what, const std::string& source) {
  if (!value.is_string()) fail(source, what + " must be a string");
  return value.get<std::string>();
}

TokenId get_id(const json& value, const std::string& what, const std::string& source) {
  if (!value.is_number_integer()) fail(source, what + " must be an integer id");
  const auto id = value.get<int64_t>();
  if (id < 0 || id > INT32_MAX) fail(source, what + " has an out-of-range id " + std::to_string(id));
  return static_cast<TokenId>(id);
}

TokenMap parse_vocab(const json& vocab, const std::string& source) {
  if (!vocab.is_object()) fail(source, "the vocabulary must be a JSON object of token -> id");
  TokenMap map;
  map.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    map.emplace(it.key(), get_id(it.value(), "vocabulary entry '" + it.key() + "'", source));
  }
  return map;
}

// "a b" (older tokenizer.json and merges.txt) or ["a", "b"] (tokenizers >= 0.20).
std::pair<std::string, std::string> parse_merge(const json& merge, size_t index, const std::string& source) {
  if (merge.is_string()) {
    const auto& text = merge.get_ref<const std::string&>();
    const size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      fail(source, "merge " + std::to_string(index) + " '" + text + "' is not two tokens separated by a space");
    }
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  }
  fail(source, "merge " + std::to_string(index) + " must be \"a b\" or [\"a\", \"b\"]");
}

SplitBehavior parse_behavior(const std::string& name, const std::string& source) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail(source, "Split behavior '" + name + "' is not supported");
}

void parse_pre_tokenizer(const json& node, std::vector<PreTokenizerStep>& steps, const std::string& source, int depth) {
  if (depth > 8) fail(source, "pre_tokenizer nesting is too deep");
  if (!node.is_object()) fail(source, "pre_tokenizer must be an object");
  const std::string type = member(node, "type") ? get_string(node["type"], "pre_tokenizer type", source) : "";
  if (type == "Sequence") {
    const json* list = member(node, "pretokenizers");
    if (!list || !list->is_array()) fail(source, "Sequence pre_tokenizer needs a 'pretokenizers' list");
    for (const auto& child : *list) parse_pre_tokenizer(child, steps, source, depth + 1);
  } else if (type == "ByteLevel") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = get_bool(node, "add_prefix_space", true, source);
    step.use_regex = get_bool(node, "use_regex", true, source);
    steps.push_back(step);
  } else if (type == "Split") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kSplit;
    const json* pattern = member(node, "pattern");
    if (!pattern || !pattern->is_object()) fail(source, "Split pre_tokenizer needs a 'pattern' object");
    if (const json* regex = member(*pattern, "Regex")) {
      step.pattern = get_string(*regex, "Split pattern Regex", source);
    } else if (const json* literal = member(*pattern, "String")) {
      step.pattern = regex_escape(get_string(*literal, "Split pattern String", source));
    } else {
      fail(source, "Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    const json* behavior = member(node, "behavior");
    step.behavior = parse_behavior(behavior ? get_string(*behavior, "Split behavior", source) : "Isolated", source);
    step.invert = get_bool(node, "invert", false, source);
    steps.push_back(step);
  } else {
    fail(source, "pre_tokenizer type '" + type + "' is not supported (supported: ByteLevel, Split, Sequence)");
  }
}

void check_decoder(const json& decoder, const std::string& source, int depth) {
  if (depth > 8 || !decoder.is_object()) fail(source, "decoder must be an object");
  const std::string type = member(decoder, "type") ? get_string(decoder["type"], "decoder type", source) : "";
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const json* list = member(decoder, "decoders");
    if (!list || !list->is_array() || list->size() != 1) {
      fail(source, "a Sequence decoder is supported only as [ByteLevel]");
    }
    check_decoder((*list)[0], source, depth + 1);
    return;
  }
  fail(source, "decoder type '" + type + "' is not supported (byte-level BPE needs the ByteLevel decoder)");
}

// Conventional names, in order of preference, for tokenizers that don't say (tokenizer.json doesn't).
std::optional<TokenId> find_named(const TokenizerSpec& spec, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    for (const auto& token : spec.added_tokens) {
      if (token.special && token.content == name) return token.id;
    }
  }
  return std::nullopt;
}

void guess_bos_eos(TokenizerSpec& spec) {
  if (!spec.eos_id) {
    spec.eos_id =
        find_named(spec, {"<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>", "<eos>", "<|eot_id|>", "<|end|>"});
  }
  if (!spec.bos_id) {
    spec.bos_id = find_named(spec, {"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"});
  }
}

}  // namespace

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error("tokenizer: file not found: " + path);
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error("tokenizer: " + path + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("tokenizer: cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error("tokenizer: cannot read " + path);
  return std::move(buffer).str();
}

TokenizerSpec parse_tokenizer_json(std::string_view json_text, const std::string& source) {
  const json root = parse_json(json_text, source);
  try {
    if (!root.is_object()) fail(source, "tokenizer.json must be a JSON object");
    TokenizerSpec spec;
    spec.source = source;

    const json* model = member(root, "model");
    if (!model || !model->is_object()) fail(source, "no 'model' object");
    const std::string type = member(*model, "type") ? get_string((*model)["type"], "model type", source) : "BPE";
    if (type != "BPE") fail(source, "model type '" + type + "' is not supported (only byte-level BPE)");
    if (const json* dropout = member(*model, "dropout");
        dropout && !(dropout->is_number() && dropout->get<double>() == 0)) {
      fail(source, "BPE dropout is not supported");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (const json* value = member(*model, key);
          value && !(value->is_string() && value->get<std::string>().empty())) {
        fail(source, std::string("BPE ") + key + " is not supported");
      }
    }
    if (get_bool(*model, "byte_fallback", false, source)) fail(source, "BPE byte_fallback is not supported");
    spec.bpe.ignore_merges = get_bool(*model, "ignore_merges", false, source);
    spec.bpe.fuse_unk = get_bool(*model, "fuse_unk", false, source);
    if (const json* unk = member(*model, "unk_token")) spec.bpe.unk_token = get_string(*unk, "unk_token", source);

    const json* vocab = member(*model, "vocab");
    if (!vocab) fail(source, "model has no 'vocab'");
    spec.vocab = parse_vocab(*vocab, source);
    const json* merges = member(*model, "merges");
    if (merges) {
      if (!merges->is_array()) fail(source, "'merges' must be a list");
      spec.merges.reserve(merges->size());
      for (size_t i = 0; i < merges->size(); ++i) spec.merges.push_back(parse_merge((*merges)[i], i, source));
    }

    if (const json* added = member(root, "added_tokens")) {
      if (!added->is_array()) fail(source, "'added_tokens' must be a list");
      for (const auto& entry : *added) {
        if (!entry.is_object()) fail(source, "each added token must be an object");
        AddedToken token;
        const json* id = member(entry, "id");
        const json* content = member(entry, "content");
        if (!id || !content) fail(source, "an added token needs 'id' and 'content'");
        token.content = get_string(*content, "added token content", source);
        token.id = get_id(*id, "added token '" + token.content + "'", source);
        token.special = get_bool(entry, "special", false, source);
        token.single_word = get_bool(entry, "single_word", false, source);
        token.lstrip = get_bool(entry, "lstrip", false, source);
        token.rstrip = get_bool(entry, "rstrip", false, source);
        token.normalized = get_bool(entry, "normalized", !token.special, source);
        spec.added_tokens.push_back(std::move(token));
      }
    }

    if (const json* normalizer = member(root, "normalizer")) {
      const bool empty_sequence = normalizer->is_object() && normalizer->value("type", "") == "Sequence" &&
                                  normalizer->contains("normalizers") && (*normalizer)["normalizers"].is_array() &&
                                  (*normalizer)["normalizers"].empty();
      if (!empty_sequence) {
        const std::string name = normalizer->is_object() ? normalizer->value("type", "?") : "?";
        fail(source, "normalizer '" + name + "' is not supported (only null)");
      }
    }
    const json* pre_tokenizer = member(root, "pre_tokenizer");
    if (!pre_tokenizer) fail(source, "pre_tokenizer null is not supported (byte-level BPE needs ByteLevel)");
    parse_pre_tokenizer(*pre_tokenizer, spec.pre_tokenizer, source, 0);
    size_t byte_levels = 0;
    for (const auto& step : spec.pre_tokenizer) byte_levels += step.kind == PreTokenizerStep::Kind::kByteLevel;
    if (byte_levels != 1 || spec.pre_tokenizer.back().kind != PreTokenizerStep::Kind::kByteLevel) {
      fail(source, "the pre_tokenizer must contain exactly one ByteLevel, as its last step");
    }
    const json* decoder = member(root, "decoder");
    if (!decoder) fail(source, "decoder null is not supported (byte-level BPE needs the ByteLevel decoder)");
    check_decoder(*decoder, source, 0);
    guess_bos_eos(spec);
    return spec;
  } catch (const json::exception& e) {
    fail(source, std::string("malformed tokenizer.json: ") + e.what());
  }
}

TokenizerSpec parse_vocab_merges(std::string_view vocab_json, std::string_view merges_txt, const std::string& source) {
  TokenizerSpec spec;
  spec.source = source;
  spec.vocab = parse_vocab(parse_json(vocab_json, source), source);
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < merges_txt.size()) {
    size_t end = merges_txt.find('\n', pos);
    if (end == std::string_view::npos) end = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.starts_with("#version")) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      fail(source, "merges.txt line " + std::to_string(line_number) + " is not two tokens separated by a space");
    }
    spec.merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.add_prefix_space = false;
  byte_level.use_regex = true;
  spec.pre_tokenizer.push_back(byte_level);
  if (auto it = spec.vocab.find("<|endoftext|>"); it != spec.vocab.end()) {
    AddedToken eos;
    eos.id = it->second;
    eos.content = it->first;
    eos.special = true;
    spec.added_tokens.push_back(eos);
  }
  guess_bos_eos(spec);
  return spec;
}

std::shared_ptr<const Tokenizer> Tokenizer::from_tokenizer_json(const std::string& path) {
  return std::make_shared<BpeTokenizer>(parse_tokenizer_json(read_file(path), path));
}

std::shared_ptr<const Tokenizer> Tokenizer::from_vocab_merges(const std::string& vocab_json_path,
                                                              const std::string& merges_txt_path) {
  return std::make_shared<BpeTokenizer>(parse_vocab_merges(read_file(vocab_json_path), read_file(merges_txt_path),
                                                           vocab_json_path + " + " + merges_txt_path));
}

std::shared_ptr<const Tokenizer> Tokenizer::gpt2() {
  // Parsed once per process (thread-safe static initialisation); immutable afterwards.
  static const std::shared_ptr<const Tokenizer> instance = std::make_shared<BpeTokenizer>(
      parse_vocab_merges(gpt2_vocab_json(), gpt2_merges_txt(), "built-in GPT-2 vocabulary"));
  return instance;
}

}  // namespace llmbench::tokenizer

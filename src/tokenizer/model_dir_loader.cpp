// Tokenizer::from_model_dir: a Hugging Face model folder, with the special tokens and bos/eos that
// tokenizer_config.json and special_tokens_map.json name (tokenizer.json itself doesn't say which
// tokens are bos and eos).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizer/tokenizer_loader.h"

namespace llmbench::tokenizer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A token in a config file: "text" or {"content": "text", ...}.
std::optional<std::string> token_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<TokenId> lookup(const TokenizerSpec& spec, const std::string& text) {
  for (const auto& token : spec.added_tokens) {
    if (token.content == text) return token.id;
  }
  auto it = spec.vocab.find(text);
  if (it != spec.vocab.end()) return it->second;
  return std::nullopt;
}

// Reads tokenizer_config.json and special_tokens_map.json, when present and well-formed (they are
// optional hints: a broken one is reported, not guessed around).
void apply_configs(const fs::path& dir, TokenizerSpec& spec, bool register_specials) {
  std::optional<TokenId> bos, eos;
  for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
    const fs::path path = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    json config;
    try {
      config = json::parse(read_file(path.string()));
    } catch (const json::exception& e) {
      throw std::runtime_error("tokenizer: " + path.string() + ": malformed JSON: " + e.what());
    }
    if (!config.is_object()) continue;
    std::vector<std::string> specials;
    for (const char* key :
         {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}) {
      if (!config.contains(key)) continue;
      if (auto text = token_text(config[key])) {
        specials.push_back(*text);
        if (std::string_view(key) == "bos_token") bos = lookup(spec, *text);
        if (std::string_view(key) == "eos_token") eos = lookup(spec, *text);
      }
    }
    if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array()) {
      for (const auto& value : config["additional_special_tokens"]) {
        if (auto text = token_text(value)) specials.push_back(*text);
      }
    }
    if (!register_specials) continue;
    // vocab.json + merges.txt: the slow-to-fast conversion makes these added special tokens.
    for (const auto& text : specials) {
      bool present = false;
      for (auto& token : spec.added_tokens) {
        if (token.content == text) {
          token.special = true;
          present = true;
        }
      }
      auto it = spec.vocab.find(text);
      if (!present && it != spec.vocab.end()) {
        AddedToken token;
        token.id = it->second;
        token.content = text;
        token.special = true;
        spec.added_tokens.push_back(token);
      }
    }
  }
  if (bos) spec.bos_id = bos;
  if (eos) spec.eos_id = eos;
}

}  // namespace

std::shared_ptr<const Tokenizer> Tokenizer::from_model_dir(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw std::runtime_error("tokenizer: model directory not found: " + dir);
  TokenizerSpec spec;
  bool from_vocab = false;
  if (fs::is_regular_file(root / "tokenizer.json", ec)) {
    const std::string path = (root / "tokenizer.json").string();
    spec = parse_tokenizer_json(read_file(path), path);
  } else if (fs::is_regular_file(root / "vocab.json", ec) && fs::is_regular_file(root / "merges.txt", ec)) {
    const std::string vocab = (root / "vocab.json").string();
    const std::string merges = (root / "merges.txt").string();
    spec = parse_vocab_merges(read_file(vocab), read_file(merges), vocab + " + " + merges);
    from_vocab = true;
  } else {
    throw std::runtime_error("tokenizer: " + dir + " has neither tokenizer.json nor vocab.json + merges.txt");
  }
  apply_configs(root, spec, from_vocab);
  return std::make_shared<BpeTokenizer>(std::move(spec));
}

}  // namespace llmbench::tokenizer

#pragma once
// Byte-level BPE tokenizer (GPT-2, OPT, Llama-3 style), loaded from a Hugging Face tokenizer.json
// or from vocab.json + merges.txt. Immutable after load; every method is safe to call from many
// threads at once.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::tokenizer {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Throws std::runtime_error with a clear message on a missing or malformed file.
  static std::shared_ptr<const Tokenizer> from_tokenizer_json(const std::string& path);
  static std::shared_ptr<const Tokenizer> from_vocab_merges(const std::string& vocab_json_path,
                                                            const std::string& merges_txt_path);
  // Loads <dir>/tokenizer.json, else <dir>/vocab.json + <dir>/merges.txt.
  static std::shared_ptr<const Tokenizer> from_model_dir(const std::string& dir);
  // GPT-2's vocabulary shipped with llmbench (data/gpt2/), used with dummy weights.
  static std::shared_ptr<const Tokenizer> gpt2();

  virtual ~Tokenizer() = default;
  // Encodes text as the HF tokenizer does with add_special_tokens=false.
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  // Decodes ids to text; skip_special drops special tokens. Invalid UTF-8 becomes U+FFFD, as HF does.
  virtual std::string decode(std::span<const TokenId> ids, bool skip_special = true) const = 0;
  virtual size_t vocab_size() const = 0;  // including added tokens
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual std::optional<TokenId> bos_id() const = 0;
  virtual std::optional<TokenId> eos_id() const = 0;
  // Appends the raw bytes of one token (after byte-level un-mapping) to out; false for unknown ids.
  virtual bool append_token_bytes(TokenId id, std::string& out) const = 0;
  virtual bool is_special(TokenId id) const = 0;
};

// Streaming detokenizer for one sequence: push ids one at a time and get the newly completed text.
// Never emits a partial UTF-8 sequence; holds incomplete bytes until they complete (or flush()).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special = true);
  // Returns the text delta made available by this token (possibly empty).
  std::string push(TokenId id);
  // Emits whatever is still held (invalid trailing bytes as U+FFFD).
  std::string flush();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool skip_special_;
  std::string pending_bytes_;
};

}  // namespace llmbench::tokenizer

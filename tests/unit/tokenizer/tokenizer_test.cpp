// Tokenizer behaviour beyond the HF fixtures: errors, added-token options, streaming, round trips,
// invalid UTF-8, long inputs, threads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace llmbench::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kFixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizer/";
const std::string kGpt2Dir = std::string(LLMBENCH_SOURCE_DIR) + "/data/gpt2/";

class TempDir {
 public:
  TempDir() {
    path_ =
        fs::temp_directory_path() / ("llmbench_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

json load_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::vector<std::string> corpus() {
  std::ifstream in(kFixtures + "corpus.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(json::parse(line)["text"].get<std::string>());
  }
  return lines;
}

std::shared_ptr<const Tokenizer> load_modified(const std::function<void(json&)>& edit,
                                               const std::string& base = "gpt2_style_tokenizer.json") {
  json j = load_json(kFixtures + base);
  edit(j);
  TempDir dir;
  return Tokenizer::from_tokenizer_json(dir.write("tokenizer.json", j.dump()));
}

// Expects loading to throw std::runtime_error whose message contains `needle`.
void expect_load_error(const std::function<void(json&)>& edit, const std::string& needle) {
  try {
    load_modified(edit);
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::vector<TokenId> concat(std::initializer_list<std::vector<TokenId>> parts) {
  std::vector<TokenId> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Tokenizer, MissingFilesGiveClearErrors) {
  try {
    Tokenizer::from_tokenizer_json("/nonexistent/tokenizer.json");
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_vocab_merges(kGpt2Dir + "vocab.json", "/nonexistent/merges.txt"), std::runtime_error);
  TempDir empty;
  try {
    Tokenizer::from_model_dir(empty.path());
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("neither tokenizer.json nor vocab.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_model_dir("/nonexistent/dir"), std::runtime_error);
  EXPECT_THROW(Tokenizer::from_tokenizer_json(empty.path()), std::runtime_error);  // a directory
}

TEST(Tokenizer, MalformedFilesGiveClearErrors) {
  TempDir dir;
  for (const std::string text : {"", "{", "[1,2]", "{\"model\": 3}", "{\"model\": {\"vocab\": []}}", "\xff\xfe"}) {
    try {
      Tokenizer::from_tokenizer_json(dir.write("t.json", text));
      ADD_FAILURE() << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("t.json"), std::string::npos) << e.what();
    }
  }
  const std::string merges = dir.write("merges.txt", "#version: 0.2\n\xC4\xA0 t\nthree parts here\n");
  try {
    Tokenizer::from_vocab_merges(kGpt2Dir + "vocab.json", merges);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_vocab_merges(dir.write("v.json", "{\"a\": \"x\"}"), merges), std::runtime_error);
}

TEST(Tokenizer, UnsupportedFeaturesAreNamed) {
  expect_load_error([](json& j) { j["model"]["type"] = "WordPiece"; }, "WordPiece");
  expect_load_error([](json& j) { j["model"]["byte_fallback"] = true; }, "byte_fallback");
  expect_load_error([](json& j) { j["model"]["dropout"] = 0.1; }, "dropout");
  expect_load_error([](json& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "continuing_subword_prefix");
  expect_load_error([](json& j) { j["normalizer"] = {{"type", "NFC"}}; }, "NFC");
  expect_load_error([](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }, "Metaspace");
  expect_load_error([](json& j) { j["pre_tokenizer"] = nullptr; }, "pre_tokenizer");
  expect_load_error([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "WordPiece");
  expect_load_error(
      [](json& j) {
        j["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             json::array({{{"type", "Split"},
                           {"pattern", {{"Regex", "(unclosed"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
      },
      "(unclosed");
  expect_load_error(
      [](json& j) {
        j["model"]["merges"].push_back(json::array({"zz\xE2\x82\xAC", "q"}));
      },
      "not in the vocabulary");
  expect_load_error([](json& j) { j["model"]["merges"].push_back("only-one-token"); }, "two tokens");
  expect_load_error([](json& j) { j["model"]["vocab"]["x"] = -5; }, "out-of-range");
  expect_load_error([](json& j) { j["added_tokens"][0]["id"] = "zero"; }, "integer id");
}

TEST(Tokenizer, MergesAsStringsEqualMergesAsPairs) {
  auto pairs = Tokenizer::from_tokenizer_json(kFixtures + "gpt2_style_tokenizer.json");
  auto strings = load_modified([](json& j) {
    json merges = json::array();
    for (const auto& m : j["model"]["merges"])
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    j["model"]["merges"] = merges;
  });
  for (const auto& text : corpus()) EXPECT_EQ(strings->encode(text), pairs->encode(text)) << text;
}

TEST(Tokenizer, Gpt2Metadata) {
  auto t = Tokenizer::gpt2();
  EXPECT_EQ(t->vocab_size(), 50257u);
  EXPECT_EQ(t->eos_id(), 50256);
  EXPECT_EQ(t->bos_id(), 50256);
  EXPECT_EQ(t->token_to_id("\xC4\xA0the"), 262);  // "Ġthe"
  EXPECT_EQ(t->token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(t->token_to_id("no such token"), std::nullopt);
  EXPECT_TRUE(t->is_special(50256));
  EXPECT_FALSE(t->is_special(262));
  EXPECT_FALSE(t->is_special(-1));
  EXPECT_FALSE(t->is_special(1 << 30));
  std::string bytes;
  EXPECT_TRUE(t->append_token_bytes(262, bytes));
  EXPECT_EQ(bytes, " the");
  EXPECT_FALSE(t->append_token_bytes(50257, bytes));
  EXPECT_FALSE(t->append_token_bytes(-3, bytes));
  EXPECT_EQ(bytes, " the");
  const std::vector<TokenId> with_unknown = {262, -1, 99999999, 50257, 262};
  EXPECT_EQ(t->decode(with_unknown), " the the");
  EXPECT_TRUE(t->encode("").empty());
  EXPECT_EQ(t->decode({}), "");
  EXPECT_EQ(Tokenizer::gpt2().get(), t.get());  // parsed once
}

TEST(Tokenizer, BosEosFromTokenizerJsonAndModelDir) {
  auto llama = Tokenizer::from_tokenizer_json(kFixtures + "llama3_style_tokenizer.json");
  EXPECT_EQ(llama->bos_id(), 0);  // <|begin_of_text|>
  EXPECT_EQ(llama->eos_id(), 1);  // <|end_of_text|>
  EXPECT_TRUE(llama->is_special(0));

  TempDir dir;
  fs::copy_file(kFixtures + "llama3_style_tokenizer.json", fs::path(dir.path()) / "tokenizer.json");
  dir.write("tokenizer_config.json",
            R"({"bos_token": "<|end_of_text|>", "eos_token": {"content": "<|begin_of_text|>"}})");
  auto from_dir = Tokenizer::from_model_dir(dir.path());
  EXPECT_EQ(from_dir->bos_id(), 1);
  EXPECT_EQ(from_dir->eos_id(), 0);
  EXPECT_EQ(from_dir->encode("hello world"), llama->encode("hello world"));

  // vocab.json + merges.txt with an OPT-style special_tokens_map.json: "</s>" becomes special.
  TempDir opt;
  json vocab = load_json(kGpt2Dir + "vocab.json");
  vocab["</s>"] = 50257;
  opt.write("vocab.json", vocab.dump());
  fs::copy_file(kGpt2Dir + "merges.txt", fs::path(opt.path()) / "merges.txt");
  opt.write("special_tokens_map.json", R"({"bos_token": "</s>", "eos_token": "</s>", "pad_token": "<|endoftext|>"})");
  auto opt_tok = Tokenizer::from_model_dir(opt.path());
  EXPECT_EQ(opt_tok->bos_id(), 50257);
  EXPECT_EQ(opt_tok->eos_id(), 50257);
  EXPECT_TRUE(opt_tok->is_special(50257));
  EXPECT_EQ(opt_tok->encode("a</s>b"), (std::vector<TokenId>{64, 50257, 65}));
  EXPECT_EQ(opt_tok->vocab_size(), 50258u);
}

TEST(Tokenizer, AddedTokenOptionsFollowHuggingFace) {
  // Cases from tokenizers' added_vocabulary.rs tests (without their lowercasing normalizer).
  auto base = Tokenizer::from_tokenizer_json(kFixtures + "gpt2_style_tokenizer.json");
  const TokenId mask = 600;
  auto with_mask = [&](bool single_word, bool lstrip, bool rstrip) {
    return load_modified([=](json& j) {
      j["added_tokens"].push_back({{"id", mask},
                                   {"content", "<mask>"},
                                   {"single_word", single_word},
                                   {"lstrip", lstrip},
                                   {"rstrip", rstrip},
                                   {"normalized", false},
                                   {"special", true}});
    });
  };
  auto plain = with_mask(false, false, false);
  EXPECT_EQ(plain->encode("a<mask>b"), concat({base->encode("a"), {mask}, base->encode("b")}));

  auto single = with_mask(true, false, false);
  EXPECT_EQ(single->encode("<mask> My name <mask> A<mask> <mask>ony <mask>"),
            concat({{mask}, base->encode(" My name "), {mask}, base->encode(" A<mask> <mask>ony "), {mask}}));
  // Punctuation is not a word character; a combining mark is.
  EXPECT_EQ(single->encode("<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>"),
            concat({{mask}, base->encode(", "), {mask}, base->encode("- \xE2\x97\x8C\xCC\xB0<mask>")}));

  auto strip = with_mask(true, true, true);
  EXPECT_EQ(strip->encode("Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80"),
            concat({base->encode("Hi"), {mask}, base->encode("there"), {mask}, {mask}}));
  EXPECT_EQ(strip->decode(strip->encode("Hi <mask> there"), /*skip_special=*/false), "Hi<mask>there");

  // A non-special added token is kept by decode(skip_special=true).
  auto normal = load_modified([](json& j) {
    j["added_tokens"].push_back({{"id", 600}, {"content", "hello world"}, {"special", false}, {"normalized", true}});
  });
  const auto ids = normal->encode("say hello world!");
  EXPECT_EQ(ids, concat({base->encode("say "), {600}, base->encode("!")}));
  EXPECT_EQ(normal->decode(ids, /*skip_special=*/true), "say hello world!");
  EXPECT_FALSE(normal->is_special(600));
}

TEST(Tokenizer, AddPrefixSpaceAndSplitBehaviors) {
  auto base = Tokenizer::from_tokenizer_json(kFixtures + "gpt2_style_tokenizer.json");
  auto prefixed = load_modified([](json& j) { j["pre_tokenizer"]["add_prefix_space"] = true; });
  EXPECT_EQ(prefixed->encode("hello"), base->encode(" hello"));
  EXPECT_EQ(prefixed->encode(" hello"), base->encode(" hello"));
  EXPECT_EQ(prefixed->encode("\thello"), base->encode(" \thello"));  // only a literal space counts
  // Each piece around an added token gets its own prefix space.
  EXPECT_EQ(prefixed->encode("a<|endoftext|>b"), concat({base->encode(" a"), {0}, base->encode(" b")}));

  auto removed = load_modified([](json& j) {
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Removed"}, {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  });
  EXPECT_EQ(removed->encode("the cat"), concat({base->encode("the"), base->encode("cat")}));
  auto merged_next = load_modified([](json& j) {
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Split"}, {"pattern", {{"Regex", "\\s"}}}, {"behavior", "MergedWithNext"}, {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  });
  EXPECT_EQ(merged_next->encode("the cat sat"),
            concat({base->encode("the"), base->encode(" cat"), base->encode(" sat")}));
}

// Random strings over a mix of scripts, emoji, whitespace and special-token text.
std::string random_text(std::mt19937& rng) {
  static const std::vector<uint32_t> pool = {' ',     '\n',    '\t',   'a',     'Z',      '0',    '9',    '\'',
                                             '<',     '|',     '>',    0xE9,    0xDF,     0x3B1,  0x416,  0x5D0,
                                             0x627,   0x915,   0x3042, 0x65E5,  0xAC00,   0x200B, 0x3000, 0x1F642,
                                             0x1F680, 0x1F3FD, 0x200D, 0x1F468, 0x10FFFF, 0xFFFD, 0x7F,   0x1};
  std::string text;
  const size_t length = rng() % 40;
  for (size_t i = 0; i < length; ++i) {
    const unsigned choice = rng() % 10;
    if (choice == 0) {
      text += "<|endoftext|>";
    } else if (choice == 1) {
      uint32_t cp = rng() % 0x10FFFF;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
      append_utf8(cp, text);
    } else {
      append_utf8(pool[rng() % pool.size()], text);
    }
  }
  return text;
}

TEST(Tokenizer, RandomUtf8RoundTrips) {
  std::vector<std::shared_ptr<const Tokenizer>> tokenizers = {
      Tokenizer::gpt2(), Tokenizer::from_tokenizer_json(kFixtures + "gpt2_style_tokenizer.json"),
      Tokenizer::from_tokenizer_json(kFixtures + "llama3_style_tokenizer.json")};
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const std::string text = random_text(rng);
    for (const auto& t : tokenizers) {
      const auto ids = t->encode(text);
      EXPECT_EQ(t->decode(ids, /*skip_special=*/false), text);
      StreamingDecoder stream(t, /*skip_special=*/false);
      std::string streamed;
      for (const TokenId id : ids) {
        const std::string delta = stream.push(id);
        EXPECT_TRUE(is_valid_utf8(delta));
        streamed += delta;
      }
      EXPECT_EQ(stream.flush(), "");
      EXPECT_EQ(streamed, text);
    }
  }
}

TEST(Tokenizer, InvalidUtf8IsReadLossily) {
  auto t = Tokenizer::gpt2();
  const std::string bad = "ok \xFF\xFE then \xE2\x82 end \xF0\x9F\x98";
  std::string repaired;
  append_utf8_lossy(bad, repaired);
  EXPECT_EQ(t->encode(bad), t->encode(repaired));
  EXPECT_EQ(t->decode(t->encode(bad)), repaired);
  EXPECT_EQ(t->encode(std::string("a\0b", 3)).size(), 3u);
}

TEST(StreamingDecoder, HoldsSplitCharactersAndSkipsSpecials) {
  auto t = Tokenizer::gpt2();
  const auto byte_id = [&](unsigned char b) {
    return *t->token_to_id(byte_level::encode(std::string(1, static_cast<char>(b))));
  };
  StreamingDecoder d(t);
  EXPECT_EQ(d.push(byte_id(0xF0)), "");
  EXPECT_EQ(d.push(byte_id(0x9F)), "");
  EXPECT_EQ(d.push(byte_id(0x99)), "");
  EXPECT_EQ(d.push(byte_id(0x82)), "\xF0\x9F\x99\x82");
  EXPECT_EQ(d.push(50256), "");  // special, skipped
  EXPECT_EQ(d.push(262), " the");
  // A sequence that can no longer complete is replaced as soon as that is known.
  EXPECT_EQ(d.push(byte_id(0xE2)), "");
  EXPECT_EQ(d.push(byte_id('A')),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(d.push(byte_id(0xFF)), "\xEF\xBF\xBD");
  EXPECT_EQ(d.push(byte_id(0xE2)), "");
  EXPECT_EQ(d.push(byte_id(0x82)), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.push(-1), "");

  StreamingDecoder keep(t, /*skip_special=*/false);
  EXPECT_EQ(keep.push(50256), "<|endoftext|>");
  EXPECT_THROW(StreamingDecoder(nullptr), std::invalid_argument);
}

TEST(Tokenizer, LongAndRepetitiveInputs) {
  auto t = Tokenizer::gpt2();
  auto llama = Tokenizer::from_tokenizer_json(kFixtures + "llama3_style_tokenizer.json");
  for (const std::string& text : {std::string(200000, ' '), std::string(100000, 'a'), std::string(50000, '\n'),
                                  std::string(30000, '!') + std::string(30000, '7'), std::string(20000, '\xE4')}) {
    for (const auto& tok : {t, llama}) {
      const auto ids = tok->encode(text);
      EXPECT_FALSE(ids.empty());
      std::string expected;
      append_utf8_lossy(text, expected);
      EXPECT_EQ(tok->decode(ids), expected);
    }
  }
}

TEST(Tokenizer, ConcurrentEncodeMatchesSerial) {
  auto t = Tokenizer::gpt2();
  const auto texts = corpus();
  std::vector<std::vector<TokenId>> serial;
  for (const auto& text : texts) serial.push_back(t->encode(text));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < texts.size(); ++i)
          mismatches[static_cast<size_t>(k)] += t->encode(texts[i]) != serial[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace llmbench::tokenizer

namespace llmbench::tokenizer {
namespace {

TEST(Tokenizer, FuzzSeedTokenizersLoad) {
  // The fuzz seeds that are valid tokenizer.json files (one exercising String patterns, inverted
  // MergedWithPrevious splits, add_prefix_space and added-token options) must load and round-trip.
  const std::string dir = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fuzz/tokenizer/corpus_json/";
  for (const char* name : {"gpt2_style.json", "llama3_style.json", "tiny.json"}) {
    auto t = Tokenizer::from_tokenizer_json(dir + name);
    const std::string text = "the-thin <mask> thing's 123456 hello world";
    const auto ids = t->encode(text);
    EXPECT_FALSE(ids.empty()) << name;
    std::string decoded = t->decode(ids, /*skip_special=*/false);
    if (std::string(name) == "tiny.json") {
      // Worked out by hand from HF's rules: <mask> takes the spaces around it (lstrip/rstrip), the
      // inverted "-" split merges "-thin" back together, and every piece gets its own prefix space.
      EXPECT_EQ(decoded, " the -thin<mask> thing 's  123 456 hello world");
    } else {
      EXPECT_EQ(decoded, text) << name;
    }
  }
}

}  // namespace
}  // namespace llmbench::tokenizer

#include "tokenizer/regex_splitter.h"

namespace llmbench::tokenizer {
namespace {

std::vector<std::string> split_pieces(const RegexSplitter& splitter, std::string_view text) {
  std::vector<SplitSpan> spans;
  splitter.split(text, spans);
  std::vector<std::string> out;
  size_t covered = 0;
  for (const auto& s : spans) {
    EXPECT_EQ(s.begin, covered);  // spans tile the input
    covered = s.end;
    out.emplace_back(text.substr(s.begin, s.end - s.begin));
  }
  EXPECT_EQ(covered, text.size());
  return out;
}

TEST(RegexSplitter, OnigurumaClassesTranslate) {
  EXPECT_EQ(onig_to_pcre2(R"(\s+(?!\S)|[^\s\p{L}\p{N}]+)"),
            R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}])|[^\t-\r\x{85}\p{Z}\p{L}\p{N}]+)");
  EXPECT_EQ(onig_to_pcre2(R"(\\s[\]\w]\h[[:alpha:]\s])"),
            R"(\\s[\]\p{L}\p{M}\p{N}\p{Pc}][0-9a-fA-F][[:alpha:]\t-\r\x{85}\p{Z}])");
  // U+180E is not whitespace for Oniguruma (Unicode >= 6.3), so it joins a punctuation run.
  RegexSplitter gpt2(onig_to_pcre2(kGpt2Pattern));
  EXPECT_EQ(split_pieces(gpt2, "x!\xE1\xA0\x8E"), (std::vector<std::string>{"x", "!\xE1\xA0\x8E"}));
  EXPECT_EQ(split_pieces(gpt2, "Hello  world's 123\n\n x"),
            (std::vector<std::string>{"Hello", " ", " world", "'s", " 123", "\n\n", " x"}));
  RegexSplitter literal(regex_escape("a.b"));
  EXPECT_EQ(split_pieces(literal, "xa.bya_b"), (std::vector<std::string>{"x", "a.b", "ya_b"}));
  EXPECT_THROW(RegexSplitter("(?<"), std::runtime_error);
}

}  // namespace
}  // namespace llmbench::tokenizer

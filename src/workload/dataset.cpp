#include "workload/dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "workload/exact_text.h"

namespace llmbench::workload {
namespace {

std::string read_file(const std::string& path) {
  if (path.empty()) throw DatasetError("--dataset-path is required for this dataset");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError("cannot open dataset file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw DatasetError("cannot read dataset file '" + path + "'");
  return ss.str();
}

int32_t draw(std::mt19937_64& rng, LengthRange range) {
  return std::uniform_int_distribution<int32_t>(range.low, range.high)(rng);
}

Dataset make_random(const DatasetOptions& o, const tokenizer::Tokenizer& tok) {
  if (o.num_prompts < 1) throw std::invalid_argument("--num-prompts must be >= 1");
  if (o.input_len < 0) throw std::invalid_argument("--random-input-len must be >= 0");
  if (o.random_prefix_len < 0) throw std::invalid_argument("--random-prefix-len must be >= 0");
  if (o.output_len < 1) throw std::invalid_argument("--random-output-len must be >= 1");
  const LengthRange in = length_range(o.input_len, o.range_ratio, 0);
  const LengthRange out = length_range(o.output_len, o.range_ratio, 1);
  if (o.random_prefix_len + in.low < 1) {
    throw std::invalid_argument("--random-input-len is too small: the shortest prompt would have " +
                                std::to_string(o.random_prefix_len + in.low) + " tokens (need >= 1)");
  }
  ExactTextGenerator gen(tok);
  std::mt19937_64 rng(o.seed);
  Dataset ds;
  ds.kind = DatasetKind::kRandom;
  ds.items.reserve(static_cast<size_t>(o.num_prompts));
  std::vector<int32_t> prefix_ids;
  std::string prefix_text;
  if (o.token_id_prompts) {
    prefix_ids = gen.random_any_ids(o.random_prefix_len, rng);
  } else if (o.random_prefix_len > 0) {
    bool fixed = false;
    prefix_text = gen.complete({}, o.random_prefix_len, rng, &fixed);
    ds.exact_fixups += fixed;
  }
  for (int64_t i = 0; i < o.num_prompts; ++i) {
    WorkloadItem item;
    const int32_t len = draw(rng, in);
    item.max_tokens = draw(rng, out);
    item.requested_prompt_len = o.random_prefix_len + len;
    if (o.token_id_prompts) {
      item.token_ids = prefix_ids;
      const auto body = gen.random_any_ids(len, rng);
      item.token_ids.insert(item.token_ids.end(), body.begin(), body.end());
      item.prompt_len = static_cast<int32_t>(item.token_ids.size());
    } else {
      bool fixed = false;
      item.text = prefix_text + gen.complete(prefix_text, item.requested_prompt_len, rng, &fixed);
      ds.exact_fixups += fixed;
      item.prompt_len = gen.count(item.text);
      item.shared_prefix_bytes = prefix_text.size();
      item.requested_prefix_len = o.random_prefix_len;
    }
    ds.items.push_back(std::move(item));
  }
  return ds;
}

// Prompts sharing one of num_prefixes prefixes (vLLM's prefix_repetition), optionally as
// multi-turn sessions whose turns carry the previous turns.
Dataset make_prefix(const DatasetOptions& o, const tokenizer::Tokenizer& tok) {
  if (o.num_prompts < 1) throw std::invalid_argument("--num-prompts must be >= 1");
  if (o.prefix_len < 0 || o.suffix_len < 0) throw std::invalid_argument("--prefix-len/--suffix-len must be >= 0");
  if (o.prefix_len + o.suffix_len < 1) throw std::invalid_argument("--prefix-len + --suffix-len must be >= 1");
  if (o.num_prefixes < 1) throw std::invalid_argument("--num-prefixes must be >= 1");
  if (o.num_turns < 1) throw std::invalid_argument("--num-turns must be >= 1");
  if (o.output_len < 1) throw std::invalid_argument("--random-output-len must be >= 1");
  ExactTextGenerator gen(tok);
  std::mt19937_64 rng(o.seed);
  Dataset ds;
  ds.kind = DatasetKind::kPrefix;
  bool fixed = false;
  const bool ids = o.token_id_prompts && !o.chat_turns && o.num_turns == 1;
  std::vector<std::string> prefix_texts;
  std::vector<std::vector<int32_t>> prefix_ids;
  for (int32_t p = 0; p < o.num_prefixes; ++p) {
    if (ids) {
      prefix_ids.push_back(gen.random_any_ids(o.prefix_len, rng));
    } else {
      prefix_texts.push_back(gen.complete({}, o.prefix_len, rng, &fixed));
      ds.exact_fixups += fixed;
    }
  }
  if (o.num_turns == 1) {
    // Request i uses prefix i % P; the order is shuffled so equal prefixes are not all adjacent.
    for (int64_t i = 0; i < o.num_prompts; ++i) {
      WorkloadItem item;
      const auto p = static_cast<size_t>(i % o.num_prefixes);
      item.max_tokens = o.output_len;
      item.requested_prompt_len = o.prefix_len + o.suffix_len;
      if (ids) {
        item.token_ids = prefix_ids[p];
        const auto suffix = gen.random_any_ids(o.suffix_len, rng);
        item.token_ids.insert(item.token_ids.end(), suffix.begin(), suffix.end());
        item.prompt_len = static_cast<int32_t>(item.token_ids.size());
      } else {
        item.text = prefix_texts[p] + gen.complete(prefix_texts[p], item.requested_prompt_len, rng, &fixed);
        ds.exact_fixups += fixed;
        item.prompt_len = gen.count(item.text);
        item.shared_prefix_bytes = prefix_texts[p].size();
        item.requested_prefix_len = o.prefix_len;
      }
      ds.items.push_back(std::move(item));
    }
    std::shuffle(ds.items.begin(), ds.items.end(), rng);
    return ds;
  }
  // Multi-turn: sessions of num_turns turns. Turn t of a session sends the first user message
  // (prefix + suffix), then for each earlier turn a synthetic assistant reply of output_len
  // tokens and the next user message (suffix_len tokens). Items are turn-major (turn 1 of every
  // session, then turn 2, ...), so a session's earlier turn has been sent before its next one.
  const int64_t sessions = (o.num_prompts + o.num_turns - 1) / o.num_turns;
  std::vector<std::vector<net::ChatMessage>> history(static_cast<size_t>(sessions));
  for (int32_t t = 0; t < o.num_turns && static_cast<int64_t>(ds.items.size()) < o.num_prompts; ++t) {
    for (int64_t s = 0; s < sessions && static_cast<int64_t>(ds.items.size()) < o.num_prompts; ++s) {
      auto& h = history[static_cast<size_t>(s)];
      std::string user;
      if (t == 0) {
        const auto& prefix = prefix_texts[static_cast<size_t>(s % o.num_prefixes)];
        user = prefix + gen.complete(prefix, o.prefix_len + o.suffix_len, rng, &fixed);
      } else {
        h.push_back({"assistant", gen.complete({}, o.output_len, rng, &fixed)});
        ds.exact_fixups += fixed;
        user = gen.complete({}, std::max(o.suffix_len, 1), rng, &fixed);
      }
      ds.exact_fixups += fixed;
      h.push_back({"user", std::move(user)});
      WorkloadItem item;
      item.max_tokens = o.output_len;
      if (o.chat_turns) {
        item.messages = h;
        for (const auto& m : h) item.prompt_len += gen.count(m.content);
      } else {
        for (const auto& m : h) item.text += m.content;
        item.prompt_len = gen.count(item.text);
      }
      item.requested_prompt_len = item.prompt_len;
      ds.items.push_back(std::move(item));
    }
  }
  return ds;
}

}  // namespace

std::optional<DatasetKind> parse_dataset_kind(const std::string& name) {
  if (name == "random") return DatasetKind::kRandom;
  if (name == "sharegpt") return DatasetKind::kShareGpt;
  if (name == "jsonl" || name == "custom") return DatasetKind::kJsonl;
  if (name == "prefix" || name == "prefix_repetition" || name == "prefix-repetition") return DatasetKind::kPrefix;
  return std::nullopt;
}

const char* to_string(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kRandom:
      return "random";
    case DatasetKind::kShareGpt:
      return "sharegpt";
    case DatasetKind::kJsonl:
      return "jsonl";
    case DatasetKind::kPrefix:
      return "prefix";
  }
  return "random";
}

LengthRange length_range(int32_t len, double r, int32_t min_value) {
  if (!(r >= 0 && r < 1)) throw std::invalid_argument("--random-range-ratio must be in [0, 1)");
  LengthRange range;
  range.low = std::max(static_cast<int32_t>(std::floor(len * (1 - r))), min_value);
  range.high = std::max(static_cast<int32_t>(std::ceil(len * (1 + r))), min_value);
  return range;
}

Dataset load_dataset(const DatasetOptions& options, const tokenizer::Tokenizer& tokenizer) {
  switch (options.kind) {
    case DatasetKind::kRandom:
      return make_random(options, tokenizer);
    case DatasetKind::kPrefix:
      return make_prefix(options, tokenizer);
    case DatasetKind::kShareGpt:
      return parse_sharegpt(read_file(options.path), options.path, options, tokenizer);
    case DatasetKind::kJsonl:
      return parse_jsonl(read_file(options.path), options.path, options, tokenizer);
  }
  throw std::invalid_argument("unknown dataset");
}

}  // namespace llmbench::workload

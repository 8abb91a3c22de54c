#include "workload/server_realign.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>

namespace llmbench::workload {
namespace {

// Splits text into units that each start at a space (the first may not): " river", " stone".
std::vector<std::string> split_units(std::string_view text) {
  std::vector<std::string> units;
  size_t start = 0;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      if (i > start) units.emplace_back(text.substr(start, i - start));
      start = i;
    }
  }
  return units;
}

// One text being realigned: head (fixed) + the first k units of the tail (+ padding).
struct Job {
  std::string head;
  std::vector<std::string> units;
  int32_t target = 0;
  std::mt19937_64 rng;

  int64_t lo_k = 0;  // count(text(lo_k)) < target, once lo_c is known
  std::optional<int32_t> lo_c;
  int64_t hi_k = -1;  // count(text(hi_k)) > target (-1: not seen yet)
  int32_t hi_c = 0;
  int64_t probe_k = 0;
  int64_t last_width = -1;
  bool padding = false;  // past the search: base text(lo_k) + pad
  std::string pad;

  int32_t rounds = 0;
  bool done = false;
  bool exact = false;
  std::string candidate;  // the text counted this round
  std::string best;
  int32_t best_c = -1;

  std::string text(int64_t k) const {
    std::string out = head;
    for (int64_t i = 0; i < k && i < static_cast<int64_t>(units.size()); ++i) out += units[static_cast<size_t>(i)];
    return out;
  }
  void next_candidate() { candidate = padding ? text(lo_k) + pad : text(probe_k); }
  void finish(bool is_exact) {
    done = true;
    exact = is_exact;
  }
  void add_pad(int32_t n) {
    std::uniform_int_distribution<int> letter('a', 'z');
    for (int32_t i = 0; i < n; ++i) {
      pad += ' ';
      pad += static_cast<char>(letter(rng));
    }
  }
  void extend(int64_t n, const ExactTextGenerator& words) {
    while (n > 0) {
      const auto ids = words.random_word_ids(static_cast<int32_t>(std::min<int64_t>(n, 4096)), rng);
      for (auto& u : split_units(words.tokenizer().decode(ids))) {
        // Decoded word tokens start with a space; keep units space-separated whatever comes back.
        if (u.front() != ' ') u.insert(u.begin(), ' ');
        units.push_back(std::move(u));
        --n;
      }
      if (ids.empty()) break;
    }
  }

  void update(int32_t c, int32_t max_rounds, const ExactTextGenerator& words) {
    ++rounds;
    const auto dist = [&](int32_t v) { return std::abs(static_cast<int64_t>(v) - target); };
    if (best_c < 0 || dist(c) < dist(best_c) || (dist(c) == dist(best_c) && c < target && best_c > target)) {
      best = candidate;
      best_c = c;
    }
    if (c == target) return finish(true);
    if (rounds >= max_rounds) return finish(false);
    if (padding) {
      if (c < target) {
        add_pad(target - c);
      } else if (pad.empty()) {
        return finish(false);
      } else {
        pad.pop_back();
      }
      return next_candidate();
    }
    if (c < target) {
      lo_k = probe_k;
      lo_c = c;
    } else {
      hi_k = probe_k;
      hi_c = c;
    }
    if (hi_k < 0) {  // every unit so far is too short: add words, as many as the count so far suggests
      const double base = lo_k > 0 ? static_cast<double>(*lo_c) : 0.0;
      const double per_unit = lo_k > 0 ? std::max(0.25, base / static_cast<double>(lo_k)) : 1.0;
      const auto need = static_cast<int64_t>(std::ceil((target - *lo_c) / per_unit * 1.1)) + 1;
      const int64_t want = lo_k + need;
      if (want > static_cast<int64_t>(units.size())) extend(want - static_cast<int64_t>(units.size()), words);
      probe_k = std::min<int64_t>(want, static_cast<int64_t>(units.size()));
      return next_candidate();
    }
    if (hi_k == 0) return finish(false);  // the head alone is already longer than the target
    if (hi_k - lo_k <= 1) {
      if (!lo_c) {  // count(head) not known yet: measure it
        probe_k = lo_k;
        return next_candidate();
      }
      padding = true;  // one more word overshoots: pad with one-letter words
      pad.clear();
      add_pad(target - *lo_c);
      return next_candidate();
    }
    const int64_t width = hi_k - lo_k;
    const double lc = lo_c.value_or(0);
    const double est = static_cast<double>(lo_k) + (target - lc) * static_cast<double>(width) / (hi_c - lc);
    int64_t k = std::clamp<int64_t>(std::llround(est), lo_k + 1, hi_k - 1);
    if (last_width > 0 && width * 2 > last_width) k = lo_k + width / 2;  // the last step shrank too little
    last_width = width;
    probe_k = k;
    next_candidate();
  }
};

// Counts every open job's candidate, one batch per round, until all are done.
void run_jobs(std::vector<Job>& jobs, const ExactTextGenerator& words, const ServerCountFn& count,
              const RealignOptions& o, RealignReport& report) {
  for (auto& j : jobs) {
    if (!j.done) j.next_candidate();
  }
  for (;;) {
    std::vector<size_t> open;
    std::vector<std::string> texts;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].done) continue;
      open.push_back(i);
      texts.push_back(jobs[i].candidate);
    }
    if (open.empty()) break;
    const auto counts = count(texts);
    if (counts.size() != texts.size()) throw std::runtime_error("tokenize: wrong number of counts returned");
    ++report.rounds;
    report.counts += static_cast<int64_t>(texts.size());
    for (size_t n = 0; n < open.size(); ++n) jobs[open[n]].update(counts[n], o.max_rounds, words);
  }
  for (const auto& j : jobs) report.max_rounds_per_prompt = std::max(report.max_rounds_per_prompt, j.rounds);
}

}  // namespace

bool realignable(const Dataset& ds) {
  if (ds.kind != DatasetKind::kRandom && ds.kind != DatasetKind::kPrefix) return false;
  if (ds.items.empty()) return false;
  return std::all_of(ds.items.begin(), ds.items.end(), [](const WorkloadItem& it) {
    return it.token_ids.empty() && it.messages.empty() && it.requested_prompt_len >= 0;
  });
}

RealignReport realign_with_server(Dataset& ds, const ExactTextGenerator& words, const ServerCountFn& count,
                                  const RealignOptions& o) {
  if (!realignable(ds)) {
    throw std::invalid_argument(
        "--tokenize-via-server realigns text prompts of a requested length: --dataset-name random (or prefix with "
        "one turn) with text prompts");
  }
  RealignReport report;
  report.prompts = static_cast<int64_t>(ds.items.size());
  const auto seeded = [&](uint64_t salt) { return std::mt19937_64(o.seed ^ (0x9E3779B97F4A7C15ULL * (salt + 1))); };

  // 1. Shared prefixes, each realigned on its own to its requested length.
  std::map<std::string, size_t> head_index;
  std::vector<Job> heads;
  for (const auto& it : ds.items) {
    if (it.shared_prefix_bytes == 0) continue;
    std::string prefix = it.text.substr(0, it.shared_prefix_bytes);
    if (head_index.count(prefix)) continue;
    head_index.emplace(prefix, heads.size());
    Job j;
    j.units = split_units(prefix);
    j.target = it.requested_prefix_len;
    j.rng = seeded(1'000'000'000ULL + heads.size());
    j.probe_k = static_cast<int64_t>(j.units.size());
    heads.push_back(std::move(j));
  }
  run_jobs(heads, words, count, o, report);
  report.prefixes = static_cast<int64_t>(heads.size());
  for (const auto& h : heads) report.prefixes_inexact += !h.exact;

  // 2. Every prompt: its (realigned) prefix, then its own tail.
  std::vector<Job> jobs(ds.items.size());
  for (size_t i = 0; i < ds.items.size(); ++i) {
    const auto& it = ds.items[i];
    Job& j = jobs[i];
    j.target = it.requested_prompt_len;
    j.rng = seeded(i);
    j.units = split_units(std::string_view(it.text).substr(it.shared_prefix_bytes));
    j.probe_k = static_cast<int64_t>(j.units.size());
    if (it.shared_prefix_bytes > 0) {
      const Job& h = heads[head_index.at(it.text.substr(0, it.shared_prefix_bytes))];
      j.head = h.best;
      j.lo_c = h.best_c;
      if (h.best_c == j.target) {  // the prefix alone is the whole prompt
        j.best = j.head;
        j.best_c = h.best_c;
        j.finish(true);
      } else if (h.best_c > j.target) {
        j.best = j.head;
        j.best_c = h.best_c;
        j.finish(false);
      }
    }
  }
  run_jobs(jobs, words, count, o, report);

  for (size_t i = 0; i < ds.items.size(); ++i) {
    auto& it = ds.items[i];
    const Job& j = jobs[i];
    const size_t head_bytes = j.head.size();
    it.text = j.best;
    it.prompt_len = j.best_c;
    if (it.shared_prefix_bytes > 0) it.shared_prefix_bytes = head_bytes;
    if (j.exact) {
      ++report.exact;
    } else {
      ++report.inexact;
      if (static_cast<int32_t>(report.inexact_examples.size()) < o.max_examples) {
        report.inexact_examples.push_back("prompt " + std::to_string(i + 1) + ": requested " +
                                          std::to_string(j.target) + " tokens, server counts " +
                                          std::to_string(j.best_c));
      }
    }
  }
  ds.length_source = "server";
  return report;
}

}  // namespace llmbench::workload

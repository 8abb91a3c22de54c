#include "report/compare_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

namespace llmbench::report {
namespace {

using Json = nlohmann::json;

const Json* find_path(const Json& root, std::initializer_list<const char*> path) {
  const Json* cur = &root;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::optional<double> number(const Json& root, std::initializer_list<const char*> path) {
  const Json* v = find_path(root, path);
  if (!v || !v->is_number()) return std::nullopt;
  double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// Peak of a telemetry series over GPUs: telemetry.gpu[*].memory_used_bytes.peak.
std::optional<double> peak_gpu_memory_gib(const Json& r) {
  const Json* gpus = find_path(r, {"llmbench", "telemetry", "gpu"});
  if (!gpus || !gpus->is_array()) return std::nullopt;
  std::optional<double> best;
  for (const auto& g : *gpus) {
    auto v = number(g, {"memory_used_bytes", "peak"});
    if (v) best = std::max(best.value_or(0.0), *v / (1024.0 * 1024.0 * 1024.0));
  }
  return best;
}

struct Column {
  std::string name;
  int decimals;
  bool lower_is_better;
  std::function<std::optional<double>(const Json&)> value;
  std::string repetition_key = {};  // key in llmbench.repetitions.metrics (--num-runs), scaled as the column
  double repetition_scale = 1.0;
};

struct Cell {
  double value;
  std::optional<double> ci_half_width;  // 95% CI across --num-runs repetitions
};

// The column's value; with --num-runs data, the mean across runs and its 95% CI half-width.
std::optional<Cell> cell_value(const Column& column, const Json& r) {
  if (!column.repetition_key.empty()) {
    if (const Json* m = find_path(r, {"llmbench", "repetitions", "metrics"}); m && m->is_object()) {
      auto it = m->find(column.repetition_key);
      if (it != m->end() && it->is_object()) {
        auto mean = number(*it, {"mean"});
        auto low = number(*it, {"ci95_low"});
        auto high = number(*it, {"ci95_high"});
        if (mean) {
          Cell c{*mean * column.repetition_scale, std::nullopt};
          if (low && high) c.ci_half_width = (*high - *low) / 2.0 * column.repetition_scale;
          return c;
        }
      }
    }
  }
  auto v = column.value(r);
  if (!v) return std::nullopt;
  return Cell{*v, std::nullopt};
}

std::vector<Column> columns() {
  auto ms_to_s = [](std::optional<double> v) { return v ? std::optional<double>(*v / 1e3) : std::nullopt; };
  return {
      {"TTFT (sec)", 3, true, [ms_to_s](const Json& r) { return ms_to_s(number(r, {"mean_ttft_ms"})); }, "mean_ttft_ms",
       1e-3},
      // Aggregate output tokens/s under load; for `single` results, one request's tokens/s (mean of the trials).
      {"Tokens/sec", 2, false,
       [](const Json& r) {
         auto v = number(r, {"output_throughput"});
         return v ? v : number(r, {"llmbench", "single", "tokens_per_s", "mean"});
       },
       "output_throughput"},
      {"Req/s", 2, false, [](const Json& r) { return number(r, {"request_throughput"}); }, "request_throughput"},
      {"TTFT p99 (ms)", 1, true, [](const Json& r) { return number(r, {"p99_ttft_ms"}); }, "p99_ttft_ms"},
      {"TPOT mean (ms)", 2, true, [](const Json& r) { return number(r, {"mean_tpot_ms"}); }, "mean_tpot_ms"},
      {"ITL p99 (ms)", 2, true, [](const Json& r) { return number(r, {"p99_itl_ms"}); }, "p99_itl_ms"},
      {"E2E p50 (ms)", 1, true, [](const Json& r) { return number(r, {"median_e2el_ms"}); }, "median_e2el_ms"},
      {"E2E p99 (ms)", 1, true, [](const Json& r) { return number(r, {"p99_e2el_ms"}); }, "p99_e2el_ms"},
      {"Failed", 0, true, [](const Json& r) { return number(r, {"failed"}); }},
      {"Peak KV cache (%)", 1, true,
       [](const Json& r) {
         auto v = number(r, {"llmbench", "telemetry", "server", "normalized", "kv_cache_usage", "peak"});
         return v ? std::optional<double>(*v * 100.0) : std::nullopt;
       }},
      {"Peak GPU mem (GiB)", 2, true, [](const Json& r) { return peak_gpu_memory_gib(r); }},
  };
}

std::string notes_for(const Json& r) {
  std::vector<std::string> parts;
  auto c = number(r, {"llmbench", "load", "concurrency"});
  if (!c || *c <= 0) c = number(r, {"max_concurrency"});
  auto rate = number(r, {"request_rate"});
  auto completed = number(r, {"completed"});
  if (c) parts.push_back(fmt::format("concurrency {:.0f}", *c));
  if (rate) parts.push_back(fmt::format("rate {:.4g}/s", *rate));
  if (completed) parts.push_back(fmt::format("{:.0f} requests", *completed));
  if (const Json* model = find_path(r, {"model_id"});
      model && model->is_string() && !model->get<std::string>().empty()) {
    parts.push_back(model->get<std::string>());
  }
  if (const Json* partial = find_path(r, {"llmbench", "partial"}); partial && partial->is_boolean() && *partial) {
    parts.push_back("PARTIAL");
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

}  // namespace

std::string render_compare_table(const std::vector<ResultFile>& runs, TableFormat format, bool show_deltas) {
  const auto cols = columns();
  // Only the columns some run has a value for.
  std::vector<size_t> used;
  for (size_t c = 0; c < cols.size(); ++c) {
    bool any = std::any_of(runs.begin(), runs.end(), [&](const ResultFile& f) { return cols[c].value(f.result); });
    if (any) used.push_back(c);
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header{"Approach"};
  for (size_t c : used) header.push_back(cols[c].name);
  header.push_back("Notes");
  cells.push_back(header);
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> row{run_label(runs[i])};
    for (size_t c : used) {
      auto v = cell_value(cols[c], runs[i].result);
      if (!v) {
        row.push_back("n/a");
        continue;
      }
      std::string cell = fmt::format("{:.{}f}", v->value, cols[c].decimals);
      if (v->ci_half_width) cell += fmt::format(" ± {:.{}f}", *v->ci_half_width, cols[c].decimals);
      auto base = cell_value(cols[c], runs[0].result);
      if (show_deltas && i > 0 && base && base->value != 0.0) {
        double pct = (v->value - base->value) / std::fabs(base->value) * 100.0;
        cell += fmt::format(" ({:+.1f}%)", pct);
      }
      row.push_back(cell);
    }
    row.push_back(notes_for(runs[i].result));
    cells.push_back(row);
  }

  std::string out;
  if (format == TableFormat::kMarkdown) {
    for (size_t r = 0; r < cells.size(); ++r) {
      out += "|";
      for (const auto& cell : cells[r]) out += " " + cell + " |";
      out += "\n";
      if (r == 0) {
        out += "|";
        for (size_t k = 0; k < cells[0].size(); ++k) out += k == 0 || k + 1 == cells[0].size() ? " --- |" : " ---: |";
        out += "\n";
      }
    }
    return out;
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (size_t k = 0; k < row.size(); ++k) width[k] = std::max(width[k], row[k].size());
  }
  for (size_t r = 0; r < cells.size(); ++r) {
    for (size_t k = 0; k < cells[r].size(); ++k) {
      bool left = k == 0 || k + 1 == cells[r].size();
      out += left ? fmt::format("{:<{}}", cells[r][k], width[k]) : fmt::format("{:>{}}", cells[r][k], width[k]);
      out += k + 1 == cells[r].size() ? "\n" : "  ";
    }
    if (r == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  return out;
}

}  // namespace llmbench::report

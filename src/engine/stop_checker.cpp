#include "engine/stop_checker.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace llmbench::engine {

StopChecker::StopChecker(std::vector<std::string> stop_strings) {
  for (auto& s : stop_strings) {
    if (!s.empty()) stop_.push_back(std::move(s));  // an empty stop string would match everywhere
  }
  for (const auto& s : stop_) max_stop_len_ = std::max(max_stop_len_, s.size());
}

size_t StopChecker::holdback_length() const {
  // The longest suffix of held_ that is a proper prefix of some stop string.
  const std::string_view text(held_);
  size_t best = 0;
  for (const auto& s : stop_) {
    const size_t longest = std::min(text.size(), s.size() - 1);
    for (size_t len = longest; len > best; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        best = len;
        break;
      }
    }
  }
  return best;
}

std::optional<std::string> StopChecker::append(const std::string& delta, bool check, std::string& out) {
  if (stopped_) return std::nullopt;
  if (stop_.empty()) {
    out += delta;
    return std::nullopt;
  }
  held_ += delta;
  if (check) {
    size_t match_pos = std::string::npos;
    const std::string* match = nullptr;
    for (const auto& s : stop_) {
      const size_t pos = held_.find(s);
      if (pos < match_pos) {
        match_pos = pos;
        match = &s;
      }
    }
    if (match != nullptr) {
      out.append(held_, 0, match_pos);
      held_.clear();
      stopped_ = true;
      return *match;
    }
  }
  const size_t keep = holdback_length();
  out.append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return std::nullopt;
}

void StopChecker::flush(std::string& out) {
  if (stopped_) return;
  out += held_;
  held_.clear();
}

}  // namespace llmbench::engine

#pragma once
// Stop strings on the streamed text of one sequence. Text that could still be the start of a stop
// string is held back until it cannot be; a matched stop string and everything after it is never
// released (as vLLM does, without include_stop_str_in_output).
#include <optional>
#include <string>
#include <vector>

namespace llmbench::engine {

class StopChecker {
 public:
  explicit StopChecker(std::vector<std::string> stop_strings);

  bool empty() const { return stop_.empty(); }
  // Adds newly detokenized text. With `check`, searches the new text (and the held-back tail before
  // it) for a stop string; earlier text is not searched again. Appends the text now safe to release
  // to `out`. Returns the stop string that matched, if any (then nothing more is ever released).
  std::optional<std::string> append(const std::string& delta, bool check, std::string& out);
  // Releases the held-back text (the sequence ended for another reason).
  void flush(std::string& out);

 private:
  size_t holdback_length() const;

  std::vector<std::string> stop_;
  size_t max_stop_len_ = 0;
  std::string held_;  // not yet released; always shorter than the longest stop string
  bool stopped_ = false;
};

}  // namespace llmbench::engine

#pragma once
// The one clock every measurement uses: std::chrono::steady_clock in integer nanoseconds.
#include <chrono>
#include <cstdint>

namespace llmbench {

using SteadyClock = std::chrono::steady_clock;

// Monotonic time in nanoseconds since an arbitrary epoch (steady_clock's).
inline int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

// Wall-clock time in nanoseconds since the Unix epoch, for metadata only (never for intervals).
inline int64_t wall_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr double ns_to_ms(int64_t ns) noexcept {
  return static_cast<double>(ns) / 1e6;
}
constexpr double ns_to_s(int64_t ns) noexcept {
  return static_cast<double>(ns) / 1e9;
}
constexpr int64_t ms_to_ns(double ms) noexcept {
  return static_cast<int64_t>(ms * 1e6);
}
constexpr int64_t s_to_ns(double s) noexcept {
  return static_cast<int64_t>(s * 1e9);
}

}  // namespace llmbench

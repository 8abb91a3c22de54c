#pragma once
// A port for tests that need a target refusing connections.
#include <cstdint>

namespace llmbench::testing {

// A loopback port with nothing listening on it (bound, then closed).
uint16_t unused_port();

}  // namespace llmbench::testing

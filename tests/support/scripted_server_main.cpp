// llmbench-scripted-server: the scripted test server as a program, for trying llmbench by hand.
//   llmbench-scripted-server [--port N] [--tls] [--script <preset|JSON>]
// Prints its URL, serves until SIGINT/SIGTERM. See scripted_server.h for the formats and scripts.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "scripted_server.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
  llmbench::testing::ScriptedServerOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--port") {
      options.port = static_cast<uint16_t>(std::stoi(next()));
    } else if (arg == "--tls") {
      options.tls = true;
    } else if (arg == "--script") {
      std::string error;
      auto script = llmbench::testing::parse_script(next(), &error);
      if (!script) {
        std::fprintf(stderr, "bad --script: %s\n", error.c_str());
        return 2;
      }
      options.default_script = *script;
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: llmbench-scripted-server [--port N] [--tls] [--script <preset|JSON>]\n");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s (try --help)\n", arg.c_str());
      return 2;
    }
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  llmbench::testing::ScriptedServer server(options);
  std::printf("%s\n", server.url().c_str());
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::printf("served %zu requests on %zu connections\n", server.requests().size(), server.connections_accepted());
  return 0;
}

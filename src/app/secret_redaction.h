#pragma once
// Keeping credentials out of everything llmbench prints or saves. The command line recorded in a
// result's metadata, dry-run output and error messages all pass through here: values of
// --api-key, of credential headers (--header Authorization=..., X-Api-Key, ...) and of
// $OPENAI_API_KEY become "***".
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::app {

inline constexpr std::string_view kRedacted = "***";

// Authorization, Proxy-Authorization, Cookie, and any name with "key", "token", "secret" or
// "password" in it (X-Api-Key, Api-Key, X-Auth-Token, ...), case-insensitively.
bool is_credential_header(std::string_view name);

// `args` (without the program name) with every credential value replaced: "--api-key X",
// "--api-key=X", "--header NAME=X", "--header=NAME=X" and "--header 'NAME: X'" for a credential
// NAME.
std::vector<std::string> redact_arguments(std::vector<std::string> args);

// The secret values in `args` (as above) and in `env_api_key` (when not null or empty).
std::vector<std::string> secrets_in(const std::vector<std::string>& args, const char* env_api_key);

// `text` with every occurrence of each secret replaced. Secrets shorter than 4 characters are left
// alone (replacing every "a" would destroy the text and reveal the key anyway).
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

// This process's arguments (from /proc/self/cmdline, without the program path), and the whole
// command line shell-quoted and redacted, as recorded in result files.
std::vector<std::string> process_arguments();
std::string redacted_command_line();

}  // namespace llmbench::app

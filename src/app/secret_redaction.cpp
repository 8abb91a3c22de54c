#include "app/secret_redaction.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

namespace llmbench::app {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "NAME=VALUE" or curl's "NAME: VALUE": the position where the value starts and the name, or npos.
size_t header_value_start(std::string_view header, std::string& name) {
  const auto eq = header.find('=');
  const auto colon = header.find(':');
  const auto sep = std::min(eq, colon);
  if (sep == std::string_view::npos || sep == 0) return std::string_view::npos;
  name = std::string(header.substr(0, sep));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  size_t start = sep + 1;
  while (start < header.size() && header[start] == ' ') ++start;
  return start;
}

bool is_api_key_flag(std::string_view arg) {
  return arg == "--api-key";
}

// Calls fn(arg, value_start) for each argument that holds a secret from value_start on.
template <typename Fn>
void for_each_secret(std::vector<std::string>& args, Fn fn) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (is_api_key_flag(a) && i + 1 < args.size()) {
      fn(args[++i], 0);
    } else if (a.rfind("--api-key=", 0) == 0) {
      fn(args[i], std::string_view("--api-key=").size());
    } else if (a == "--header" && i + 1 < args.size()) {
      std::string name;
      const size_t start = header_value_start(args[i + 1], name);
      ++i;
      if (start != std::string_view::npos && is_credential_header(name)) fn(args[i], start);
    } else if (a.rfind("--header=", 0) == 0) {
      const size_t prefix = std::string_view("--header=").size();
      std::string name;
      const size_t start = header_value_start(a.substr(prefix), name);
      if (start != std::string_view::npos && is_credential_header(name)) fn(args[i], prefix + start);
    }
  }
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@%+") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

bool is_credential_header(std::string_view name) {
  const std::string n = lower(name);
  if (n == "authorization" || n == "proxy-authorization" || n == "cookie") return true;
  for (const char* word : {"key", "token", "secret", "password"}) {
    if (n.find(word) != std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> redact_arguments(std::vector<std::string> args) {
  for_each_secret(args, [](std::string& arg, size_t start) { arg = arg.substr(0, start) + std::string(kRedacted); });
  return args;
}

std::vector<std::string> secrets_in(const std::vector<std::string>& args, const char* env_api_key) {
  std::vector<std::string> out;
  std::vector<std::string> copy = args;
  for_each_secret(copy, [&out](std::string& arg, size_t start) {
    std::string value = arg.substr(start);
    if (!value.empty()) out.push_back(value);
    // "Bearer sk-..." : the token alone may show up elsewhere too.
    if (const auto space = value.rfind(' '); space != std::string::npos && space + 1 < value.size()) {
      out.push_back(value.substr(space + 1));
    }
  });
  if (env_api_key != nullptr && *env_api_key != '\0') out.emplace_back(env_api_key);
  return out;
}

std::string redact_secrets(std::string text, const std::vector<std::string>& secrets) {
  std::vector<std::string> sorted = secrets;
  // Longest first, so that "Bearer X" goes before "X".
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& secret : sorted) {
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + kRedacted.size())) {
      text.replace(pos, secret.size(), kRedacted);
    }
  }
  return text;
}

std::vector<std::string> process_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

std::string redacted_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string program;
  std::getline(in, program, '\0');
  std::string out = shell_quote(program);
  for (const auto& a : redact_arguments(process_arguments())) out += ' ' + shell_quote(a);
  return out;
}

}  // namespace llmbench::app

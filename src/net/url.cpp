// Url parsing and FailureKind names: no Boost here, so this stays cheap to compile.
#include <charconv>
#include <string>

#include "net/http_client.h"

namespace llmbench::net {

namespace {

bool set_error(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<Url> Url::parse(std::string_view text, std::string* error) {
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    set_error(error, "URL '" + std::string(text) + "' has no scheme (expected http:// or https://)");
    return std::nullopt;
  }
  for (char c : text.substr(0, scheme_end)) url.scheme.push_back(lower(c));
  if (url.scheme != "http" && url.scheme != "https") {
    set_error(error, "URL scheme '" + url.scheme + "' is not supported (expected http or https)");
    return std::nullopt;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    set_error(error, "URL '" + std::string(text) + "': user info in URLs is not supported (use --api-key)");
    return std::nullopt;
  }
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      set_error(error, "URL '" + std::string(text) + "': unterminated IPv6 address");
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        set_error(error, "URL '" + std::string(text) + "': unexpected text after IPv6 address");
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) {
    set_error(error, "URL '" + std::string(text) + "' has no host");
    return std::nullopt;
  }
  for (char c : host) url.host.push_back(lower(c));
  if (port_text.empty()) {
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      set_error(error, "URL '" + std::string(text) + "': invalid port '" + std::string(port_text) + "'");
      return std::nullopt;
    }
    url.port = static_cast<uint16_t>(value);
  }
  const auto fragment = path.find('#');
  if (fragment != std::string_view::npos) path = path.substr(0, fragment);
  if (path.empty()) {
    url.target = "/";
  } else if (path.front() == '?') {
    url.target = "/" + std::string(path);
  } else {
    url.target = std::string(path);
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      set_error(error, "URL '" + std::string(text) + "': the path contains a space or control character");
      return std::nullopt;
    }
  }
  return url;
}

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kConnectRefused:
      return "connect_refused";
    case FailureKind::kConnectTimeout:
      return "connect_timeout";
    case FailureKind::kDns:
      return "dns";
    case FailureKind::kTls:
      return "tls";
    case FailureKind::kReadTimeout:
      return "read_timeout";
    case FailureKind::kTotalTimeout:
      return "total_timeout";
    case FailureKind::kConnectionClosed:
      return "connection_closed";
    case FailureKind::kHttpStatus:
      return "http_status";
    case FailureKind::kProtocol:
      return "protocol";
    case FailureKind::kBodyTooLarge:
      return "body_too_large";
    case FailureKind::kCancelled:
      return "cancelled";
    case FailureKind::kOther:
      return "other";
    case FailureKind::kAdapterExited:
      return "adapter_exited";
    case FailureKind::kAdapterProtocol:
      return "adapter_protocol";
    case FailureKind::kAdapterError:
      return "adapter_error";
  }
  return "unknown";
}

}  // namespace llmbench::net

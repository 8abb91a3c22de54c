#include <gtest/gtest.h>

#include "net/http_client.h"

namespace llmbench::net {
namespace {

TEST(Url, ParsesSchemeHostPortTarget) {
  std::string err;
  auto u = Url::parse("http://127.0.0.1:8000/v1/completions?x=1#frag", &err);
  ASSERT_TRUE(u) << err;
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->target, "/v1/completions?x=1");
  EXPECT_EQ(u->origin(), "http://127.0.0.1:8000");
}

TEST(Url, DefaultsPortAndPath) {
  auto u = Url::parse("HTTPS://Example.COM", nullptr);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(Url::parse("http://h", nullptr)->port, 80);
  EXPECT_EQ(Url::parse("http://h?q=1", nullptr)->target, "/?q=1");
}

TEST(Url, Ipv6Literal) {
  auto u = Url::parse("http://[::1]:9000/x", nullptr);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->origin(), "http://[::1]:9000");
}

TEST(Url, RejectsBadInputWithAReason) {
  for (const char* bad : {"localhost:8000", "ftp://x", "http://", "http://h:0", "http://h:65536", "http://h:12x",
                          "http://[::1", "http://u:p@h/", "http://h/a b"}) {
    std::string err;
    EXPECT_FALSE(Url::parse(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(FailureKind, StableNames) {
  EXPECT_STREQ(to_string(FailureKind::kReadTimeout), "read_timeout");
  EXPECT_STREQ(to_string(FailureKind::kConnectRefused), "connect_refused");
  EXPECT_STREQ(to_string(FailureKind::kHttpStatus), "http_status");
}

}  // namespace
}  // namespace llmbench::net

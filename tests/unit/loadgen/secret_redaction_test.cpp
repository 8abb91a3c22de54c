// Credentials never reach printed or saved text: the command line's --api-key and credential
// --header values, and any known secret inside other text.
#include "app/secret_redaction.h"

#include <gtest/gtest.h>

#include "app/bench_options.h"

namespace llmbench::app {
namespace {

TEST(SecretRedaction, CredentialHeaderNames) {
  for (const char* name : {"Authorization", "authorization", "Proxy-Authorization", "X-Api-Key", "api-key", "Cookie",
                           "X-Auth-Token", "X-Secret", "OpenAI-Password"}) {
    EXPECT_TRUE(is_credential_header(name)) << name;
  }
  for (const char* name : {"Accept", "X-Request-Id", "User-Agent", "Content-Type"}) {
    EXPECT_FALSE(is_credential_header(name)) << name;
  }
}

TEST(SecretRedaction, ArgumentsLoseEveryCredentialValue) {
  const std::vector<std::string> args = {"load",
                                         "--api-key",
                                         "sk-one",
                                         "--api-key=sk-two",
                                         "--header",
                                         "Authorization=Bearer sk-three",
                                         "--header=X-Api-Key=sk-four",
                                         "--header",
                                         "authorization: Bearer sk-five",
                                         "--header",
                                         "X-Request-Id=keep-me",
                                         "--model",
                                         "m"};
  const auto out = redact_arguments(args);
  EXPECT_EQ(out, (std::vector<std::string>{"load", "--api-key", "***", "--api-key=***", "--header", "Authorization=***",
                                           "--header=X-Api-Key=***", "--header", "authorization: ***", "--header",
                                           "X-Request-Id=keep-me", "--model", "m"}));
  const auto secrets = secrets_in(args, "sk-env");
  for (const char* s :
       {"sk-one", "sk-two", "Bearer sk-three", "sk-three", "sk-four", "Bearer sk-five", "sk-five", "sk-env"}) {
    EXPECT_NE(std::find(secrets.begin(), secrets.end(), s), secrets.end()) << s;
  }
  EXPECT_EQ(std::find(secrets.begin(), secrets.end(), "keep-me"), secrets.end());
  // A trailing flag without its value is left as it is.
  EXPECT_EQ(redact_arguments({"--api-key"}), (std::vector<std::string>{"--api-key"}));
}

TEST(SecretRedaction, KnownSecretsVanishFromAnyText) {
  EXPECT_EQ(redact_secrets("401 for Bearer sk-abc, and sk-abc again", {"sk-abc", "Bearer sk-abc"}),
            "401 for ***, and *** again");
  EXPECT_EQ(redact_secrets("abc", {}), "abc");
  EXPECT_EQ(redact_secrets("a b c", {"a"}), "a b c");  // too short to redact without wrecking the text
  EXPECT_EQ(redact_secrets("xxxx", {"xx", "xxxx"}), "***");
}

TEST(SecretRedaction, PlanRecordsNoCredential) {
  CLI::App app;
  BenchFlags flags;
  add_bench_flags(app, flags, BenchScenario::kLoad);
  std::vector<std::string> args = {"--api-key",  "sk-flag-secret",     "--header", "X-Api-Key: hdr-secret-value",
                                   "--metadata", "note=sk-flag-secret"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  const auto plan = resolve_bench_plan(
      flags, BenchScenario::kLoad, "llmbench load --api-key sk-flag-secret --metadata note=env-secret", "env-secret");
  EXPECT_EQ(plan.load.client.bearer_token, "sk-flag-secret");  // still sent
  ASSERT_EQ(plan.load.client.headers.size(), 1u);
  EXPECT_EQ(plan.load.client.headers[0], (std::pair<std::string, std::string>{"X-Api-Key", "hdr-secret-value"}));
  EXPECT_EQ(plan.info.command_line.find("sk-flag-secret"), std::string::npos) << plan.info.command_line;
  EXPECT_EQ(plan.info.command_line.find("env-secret"), std::string::npos) << plan.info.command_line;
  for (const auto& [k, v] : plan.info.metadata) EXPECT_EQ(v.find("sk-flag-secret"), std::string::npos) << k;
}

TEST(SecretRedaction, MalformedHeaderIsRefusedWithoutEchoingIt) {
  CLI::App app;
  BenchFlags flags;
  add_bench_flags(app, flags, BenchScenario::kLoad);
  std::vector<std::string> args = {"--header", "sk-looks-like-a-token"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  try {
    resolve_bench_plan(flags, BenchScenario::kLoad, "llmbench load", nullptr);
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).find("sk-looks"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llmbench::app

#include "sluice/connectors/http/request_sender.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "sluice/connectors/http/http_sink.h"

namespace sluice::connectors::http {
namespace {

using std::chrono::milliseconds;

TEST(RequestSenderTest, JudgesAnswers) {
  for (int status : {200, 201, 202, 204}) EXPECT_EQ(Judge(status), Verdict::kDelivered);
  for (int status : {408, 429, 500, 502, 503, 504}) EXPECT_EQ(Judge(status), Verdict::kRetry);
  for (int status : {301, 400, 401, 403, 404, 409, 413, 422}) {
    EXPECT_EQ(Judge(status), Verdict::kReject) << status;
  }
}

TEST(RequestSenderTest, WaitsDoubleUpToTheBoundAndHonourRetryAfter) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(200);
  policy.max_backoff = milliseconds(1000);
  EXPECT_EQ(RetryWait(policy, 1, std::nullopt), milliseconds(200));
  EXPECT_EQ(RetryWait(policy, 2, std::nullopt), milliseconds(400));
  EXPECT_EQ(RetryWait(policy, 3, std::nullopt), milliseconds(800));
  EXPECT_EQ(RetryWait(policy, 4, std::nullopt), milliseconds(1000));
  EXPECT_EQ(RetryWait(policy, 60, std::nullopt), milliseconds(1000));
  EXPECT_EQ(RetryWait(policy, 1, milliseconds(700)), milliseconds(700));
  EXPECT_EQ(RetryWait(policy, 1, milliseconds(0)), milliseconds(0));
  EXPECT_EQ(RetryWait(policy, 1, milliseconds(3'600'000)), milliseconds(1000));
}

TEST(RequestSenderTest, ExcerptsCutAtCharactersOnOneLine) {
  EXPECT_EQ(Excerpt("bad\nrow\n", 100), "bad row");
  EXPECT_EQ(Excerpt("abcdef", 3), "abc...");
  // "é" is two bytes: a cut inside it drops it whole.
  EXPECT_EQ(Excerpt("ab\xC3\xA9z", 3), "ab...");
  EXPECT_EQ(Excerpt("ab\xC3\xA9z", 4), "ab\xC3\xA9...");
}

Result<SinkSettings> Settings(const std::string& yaml) {
  exec::Registry registry;
  RegisterHttpSink(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSink, "http");
  if (spec == nullptr) return Status::Invalid("http not registered");
  SLUICE_ASSIGN_OR_RAISE(config::Options options, config::ValidateOptions(*spec, YAML::Load(yaml),
                                                                          "p.yaml", {"connector"}));
  return SinkSettingsFromConfig(options);
}

TEST(HttpSinkOptionsTest, ReadsEveryOption) {
  auto settings = Settings(
      "{connector: http, url: 'http://h/x?k=1', method: PUT, format: csv,"
      " headers: {X-Api-Key: k3y, X-Source: s}, auth: {basic: {username: u, password: pw}},"
      " batch: {rows: 7, bytes: 2KB, linger: 1s}, timeout: 3s, max_in_flight: 4,"
      " retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 1s}}");
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->method, "PUT");
  EXPECT_EQ(settings->format, BodyFormat::kCsv);
  EXPECT_EQ(settings->headers.size(), 2u);
  EXPECT_EQ(settings->username, "u");
  EXPECT_EQ(settings->batch_rows, 7);
  EXPECT_EQ(settings->batch_bytes, 2048);
  EXPECT_EQ(settings->timeout, milliseconds(3000));
  EXPECT_EQ(settings->max_in_flight, 4);
  EXPECT_EQ(settings->retry.max_attempts, 2);
  EXPECT_EQ(settings->retry.initial_backoff, milliseconds(10));
  // The password and the key header are secrets; X-Source is not.
  auto secrets = settings->Secrets();
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "pw"), secrets.end());
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "k3y"), secrets.end());
  EXPECT_EQ(std::find(secrets.begin(), secrets.end(), "s"), secrets.end());

  auto defaults = Settings("{connector: http, url: 'https://h'}");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->method, "POST");
  EXPECT_EQ(defaults->format, BodyFormat::kJson);
  EXPECT_EQ(defaults->batch_rows, 500);
  EXPECT_EQ(defaults->batch_bytes, 1 << 20);
  EXPECT_EQ(defaults->retry.max_attempts, 5);
}

TEST(HttpSinkOptionsTest, RefusesBadOptionsAtTheirPlace) {
  auto credentials = Settings("{connector: http, url: 'http://u:secret@h/x'}");
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.status().message().find("p.yaml:1:"), std::string::npos);
  EXPECT_EQ(credentials.status().ToString().find("secret"), std::string::npos);
  EXPECT_FALSE(Settings("{connector: http, url: 'ftp://h'}").ok());
  EXPECT_FALSE(Settings("{connector: http, url: 'http://h', headers: {'a b': c}}").ok());
  EXPECT_FALSE(Settings("{connector: http, url: 'http://h', auth: {bearer_token: t,"
                        " basic: {username: u}}}").ok());
  EXPECT_FALSE(Settings("{connector: http, url: 'http://h', auth: {bearer_token: t},"
                        " headers: {Authorization: x}}").ok());
  EXPECT_FALSE(Settings("{connector: http, url: 'http://h', max_in_flight: 0}").ok());
  EXPECT_FALSE(Settings("{connector: http, url: 'http://h', batch: {bytes: lots}}").ok());
}

}  // namespace
}  // namespace sluice::connectors::http

#include "sluice/connectors/influxdb/point_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::connectors::influxdb {
namespace {

TEST(PointWriterTest, ErrorMessageFromEitherApi) {
  HttpResponse v1;
  v1.status = 400;
  v1.body = R"({"error":"partial write: unable to parse 'm f= 8': missing field value dropped=0"})";
  EXPECT_EQ(ErrorMessage(v1), "partial write: unable to parse 'm f= 8': missing field value "
                              "dropped=0");
  HttpResponse v2;
  v2.status = 422;
  v2.body = R"({"code":"unprocessable entity","message":"field type conflict"})";
  EXPECT_EQ(ErrorMessage(v2), "field type conflict");
  HttpResponse plain;
  plain.status = 502;
  plain.body = "Bad Gateway\n";
  EXPECT_EQ(ErrorMessage(plain), "Bad Gateway");
}

TEST(PointWriterTest, ParseFailuresNameTheirLines) {
  std::vector<std::string_view> lines = {"m f=1i 1\n", "m f= 2\n", "m s=\"a\nb\" x\n",
                                         "m f=3i 3\n"};
  std::string message =
      "partial write: unable to parse 'm f= 2': missing field value\n"
      "unable to parse 'm s=\"a\nb\" x': bad timestamp dropped=0";
  auto failures = ParseFailures(message, lines, {0, 1, 2, 3});
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].line, 1u);
  EXPECT_EQ(failures[0].reason, "unable to parse 'm f= 2': missing field value");
  EXPECT_EQ(failures[1].line, 2u);
  EXPECT_EQ(failures[1].reason, "unable to parse 'm s=\"a\nb\" x': bad timestamp");
  EXPECT_EQ(DroppedPoints(message), 0);
  EXPECT_EQ(DroppedPoints("partial write: field type conflict: ... dropped=12"), 12);
  EXPECT_EQ(DroppedPoints("database not found"), -1);
}

TEST(PointWriterTest, TypeConflictSuspects) {
  std::vector<std::string_view> lines = {
      "temp\\ c,sensor=a value=1.5 1\n",  // measurement "temp c"
      "temp\\ c,sensor=a other=1.5 2\n",
      "temp,sensor=a value=1.5 3\n",
      "temp\\ c x=\"a value=b\" 4\n",   // a false suspect: the key inside a string
      "temp\\ c,value=t v=1i,value=2 5\n",
  };
  std::string message =
      "partial write: field type conflict: input field \"value\" on measurement \"temp c\" "
      "is type float, already exists as type integer dropped=2";
  EXPECT_EQ(ConflictSuspects(message, lines, {0, 1, 2, 3, 4}), (std::vector<size_t>{0, 3, 4}));
  EXPECT_EQ(ConflictSuspects(message, lines, {1, 2}), (std::vector<size_t>{}));
  EXPECT_TRUE(ConflictSuspects("partial write: unable to parse 'x': y", lines, {0}).empty());
}

TEST(PointWriterTest, WriteUrls) {
  WriteEndpoint endpoint;
  endpoint.url = "http://127.0.0.1:8086";
  endpoint.database = "my db";
  endpoint.retention_policy = "a&b";
  endpoint.precision = Precision::kMicroseconds;
  EXPECT_EQ(endpoint.WriteUrl(), "http://127.0.0.1:8086/write?db=my%20db&precision=u&rp=a%26b");
  endpoint.api = WriteEndpoint::Api::kV2;
  endpoint.org = "o";
  endpoint.bucket = "b/1";
  endpoint.token = "secret";
  EXPECT_EQ(endpoint.WriteUrl(),
            "http://127.0.0.1:8086/api/v2/write?org=o&bucket=b%2F1&precision=us");
  EXPECT_EQ(endpoint.Describe().find("secret"), std::string::npos);
}

TEST(HttpClientTest, UrlsForMessagesCarryNoSecrets) {
  EXPECT_EQ(UrlForMessages("http://user:pw@host:1/write?db=x&p=pw"), "http://host:1/write");
  EXPECT_EQ(Redact("token abc and abc", {"abc", ""}), "token *** and ***");
  HttpResponse response;
  response.headers["retry-after"] = "7";
  EXPECT_EQ(response.RetryAfter(), std::chrono::milliseconds(7000));
  response.headers["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT";  // in the past
  EXPECT_EQ(response.RetryAfter(), std::chrono::milliseconds(0));
  response.headers["retry-after"] = "soon";
  EXPECT_FALSE(response.RetryAfter().has_value());
}

}  // namespace
}  // namespace sluice::connectors::influxdb

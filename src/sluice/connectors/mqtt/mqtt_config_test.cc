// Topic filters and names, the sink's topic templates, and configuration errors of the mqtt
// source and sink (no broker needed: building a connector never connects).

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <string>

#include "sluice/connectors/mqtt/topic_names.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors::mqtt {
namespace {

TEST(MqttTopicFilter, AcceptsWildcardsAndSharedSubscriptions) {
  for (const char* filter : {"a", "a/b/c", "+", "#", "a/+/c", "a/#", "+/+/#", "/a", "a//b",
                             "$share/group/a/#", "$share/g/+", "$SYS/#"}) {
    EXPECT_TRUE(CheckTopicFilter(filter).ok()) << filter;
  }
}

TEST(MqttTopicFilter, RefusesMalformedFilters) {
  for (const char* filter : {"", "a/#/b", "a#", "a/b+", "+a/b", "$share/g", "$share//a",
                             "$share/g/", "$share/g+/a"}) {
    EXPECT_FALSE(CheckTopicFilter(filter).ok()) << filter;
  }
  EXPECT_FALSE(CheckTopicFilter(std::string("a\0b", 3)).ok());
}

TEST(MqttTopicName, RefusesWildcardsAndEmptyNames) {
  EXPECT_TRUE(CheckTopicName("alerts/A").ok());
  EXPECT_FALSE(CheckTopicName("").ok());
  EXPECT_FALSE(CheckTopicName("alerts/+").ok());
  EXPECT_FALSE(CheckTopicName("alerts/#").ok());
}

TEST(MqttTopicTemplate, PutsRowValuesIn) {
  auto parsed = TopicTemplate::Parse(config::LocatedText{"alerts/{symbol}/{level}/{{x}}"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  TopicTemplate topic = *parsed;
  EXPECT_FALSE(topic.fixed());
  auto schema = arrow::schema({arrow::field("level", arrow::int64()),
                               arrow::field("symbol", arrow::utf8())});
  ASSERT_TRUE(topic.Bind(*schema).ok());
  arrow::Int64Builder levels;
  arrow::StringBuilder symbols;
  ASSERT_TRUE(levels.AppendValues({3, 4, 5}).ok());
  ASSERT_TRUE(symbols.Append("A").ok());
  ASSERT_TRUE(symbols.AppendNull().ok());
  ASSERT_TRUE(symbols.Append("B#").ok());
  auto batch = arrow::RecordBatch::Make(schema, 3, {*levels.Finish(), *symbols.Finish()});
  std::string name;
  std::string reason;
  ASSERT_TRUE(topic.Render(*batch, 0, &name, &reason));
  EXPECT_EQ(name, "alerts/A/3/{x}");
  EXPECT_FALSE(topic.Render(*batch, 1, &name, &reason));
  EXPECT_EQ(reason, "topic field 'symbol' is null");
  EXPECT_FALSE(topic.Render(*batch, 2, &name, &reason));
  EXPECT_NE(reason.find("wildcard"), std::string::npos) << reason;
}

TEST(MqttTopicTemplate, NamesAMissingFieldAtItsPlace) {
  auto parsed = TopicTemplate::Parse(config::LocatedText{"alerts/{sybmol}"});
  ASSERT_TRUE(parsed.ok());
  TopicTemplate topic = *parsed;
  Status bound = topic.Bind(*arrow::schema({arrow::field("symbol", arrow::utf8())}));
  ASSERT_FALSE(bound.ok());
  EXPECT_NE(bound.message().find("'sybmol' is not in the output"), std::string::npos)
      << bound.message();
  EXPECT_NE(bound.message().find("symbol"), std::string::npos);
  EXPECT_FALSE(TopicTemplate::Parse(config::LocatedText{"alerts/{"}).ok());
  EXPECT_FALSE(TopicTemplate::Parse(config::LocatedText{"alerts/}"}).ok());
  EXPECT_FALSE(TopicTemplate::Parse(config::LocatedText{"alerts/#"}).ok());
}

/// The message of building the source or sink from `yaml` (empty when it builds).
std::string SourceError(const std::string& yaml) {
  exec::ConnectorContext context;
  context.pipeline_name = "test";
  context.name = "in";
  auto source = testing::SourceFromYaml("mqtt", yaml, context);
  return source.ok() ? std::string() : source.status().message();
}

TEST(MqttSourceConfig, ReportsBadOptionsAtTheirPlace) {
  EXPECT_EQ(SourceError("{url: 'mqtt://127.0.0.1:1883', topics: [a/#], schema: {x: int64}}"), "");
  EXPECT_NE(SourceError("{url: 'http://x', topics: [a], schema: {x: int64}}")
                .find("test.yaml:1:7: error: bad MQTT URL: the URL must start with mqtt://"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h:99999', topics: [a], schema: {x: int64}}")
                .find("'99999' is not a port number"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h', topics: ['a/#/b'], schema: {x: int64}}")
                .find("# must be the last level"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h', topics: [a], schema: {x: int64}, version: '3.1.1', "
                        "session_expiry: 1h}")
                .find("session_expiry needs version 5"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h', topics: [a], schema: {x: int64}, tls: {ca: c.pem}}")
                .find("tls is used only with a TLS url"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h', topics: [a], schema: {_topic: string}, metadata: true}")
                .find("clashes with the metadata field"),
            std::string::npos);
  EXPECT_NE(SourceError("{url: 'mqtt://h', topics: [a]}").find("format json needs a schema"),
            std::string::npos);
}

TEST(MqttSinkConfig, ChecksTheTopicAgainstTheInput) {
  exec::ConnectorContext context;
  context.pipeline_name = "test";
  context.name = "out";
  context.input_schema = arrow::schema({arrow::field("symbol", arrow::utf8())});
  auto sink = testing::SinkFromYaml("mqtt", "{url: 'mqtt://h', topic: 'alerts/{symbol}'}", context);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  sink = testing::SinkFromYaml("mqtt", "{url: 'mqtt://h', topic: 'alerts/{sym}'}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("test.yaml:1:35: error: topic field 'sym'"),
            std::string::npos)
      << sink.status().message();
  sink = testing::SinkFromYaml(
      "mqtt", "{url: 'mqtt://h', topic: 'alerts/{symbol}', format: arrow}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("to one topic"), std::string::npos)
      << sink.status().message();
  sink = testing::SinkFromYaml(
      "mqtt", "{url: 'mqtt://h', topic: t, version: '3.1.1', message_expiry: 1m}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("message_expiry needs version 5"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connectors::mqtt

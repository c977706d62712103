#include "sluice/connectors/blackhole/blackhole_sink.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace sluice::connectors {
namespace {

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml) {
  exec::Registry registry;
  RegisterBlackholeSink(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSink, "blackhole");
  if (spec == nullptr) return Status::Invalid("blackhole not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  return (*registry.FindSink("blackhole"))(exec::ConnectorContext{"test", "sink"}, options);
}

TEST(BlackholeSink, AcceptsEveryBatch) {
  auto sink = MakeSink("{connector: blackhole}");
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  auto schema = arrow::schema({arrow::field("x", arrow::int64())});
  auto values = arrow::MakeArrayOfNull(arrow::int64(), 1000).ValueOrDie();
  auto batch = arrow::RecordBatch::Make(schema, 1000, {values});
  ASSERT_TRUE((*sink)->Open(schema).ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*sink)->Write(batch).ok());
  // The sink keeps nothing: the batch is referenced only here again.
  EXPECT_EQ(batch.use_count(), 1);
  EXPECT_TRUE((*sink)->Flush().ok());
  EXPECT_TRUE((*sink)->Close().ok());
}

TEST(BlackholeSink, HasNoOptions) {
  auto sink = MakeSink("{path: out.txt}");
  ASSERT_FALSE(sink.ok());
  EXPECT_TRUE(sink.status().IsInvalid());
}

}  // namespace
}  // namespace sluice::connectors

// A batch job raises real-time alerts as it goes: the `rule` processor's alerts reach the sink
// while the bounded input is still being read, not at the end of the run.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include <atomic>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"

namespace sluice::exec {
namespace {

const Pipeline* g_pipeline = nullptr;
std::vector<int64_t>* g_rows_read_at_alert = nullptr;

/// Notes how many input rows the pipeline had read when each alert batch arrived.
class AlertSink : public Sink {
 public:
  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    EXPECT_EQ(schema->field(0)->name(), "rule");
    return Status::OK();
  }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    for (int64_t i = 0; i < batch->num_rows(); ++i)
      g_rows_read_at_alert->push_back(g_pipeline->progress().rows_in);
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }
};

TEST(MixedModeTest, ABatchJobRaisesAlertsAsItGoes) {
  Registry registry = BuiltinRegistry();
  registry.AddSink(
      {config::PluginKind::kSink, "alerts", "test", {}},
      [](const ConnectorContext&, const config::Options&) -> Result<std::unique_ptr<Sink>> {
        return std::make_unique<AlertSink>();
      });
  // 200,000 generated quotes in batches of 1,000; about 1% are crossed (ask < bid).
  auto config = config::LoadPipelineText(
      "sources: {q: {connector: generator, count: 200000, batch_size: 1000, seed: 5, event_time: "
      "ts}}\n"
      "pipeline:\n  - rule: {rules: {crossed: \"ask < bid\"}, fields: [symbol, bid, ask, ts]}\n"
      "sinks: {out: {connector: alerts}}\n",
      "test.yaml", {}, registry);
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto pipeline = Pipeline::Make(*config, registry);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  EXPECT_TRUE((*pipeline)->bounded());
  std::vector<int64_t> rows_read_at_alert;
  g_pipeline = pipeline->get();
  g_rows_read_at_alert = &rows_read_at_alert;
  auto summary = (*pipeline)->Run();
  g_pipeline = nullptr;
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  ASSERT_GT(rows_read_at_alert.size(), 100u);
  EXPECT_EQ(summary->rows_out, static_cast<int64_t>(rows_read_at_alert.size()));
  // The first alert went out after its own batch, long before the input ended.
  EXPECT_LE(rows_read_at_alert.front(), 10 * 1000);
  EXPECT_LT(rows_read_at_alert.front(), summary->rows_in / 10);
}

}  // namespace
}  // namespace sluice::exec

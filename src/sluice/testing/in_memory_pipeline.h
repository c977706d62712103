#pragma once

// Test-only: a GoogleTest fixture that runs real pipelines, built from YAML, over batches held
// in memory. It registers, beside every builtin plugin, a `memory` source that pushes `input_`
// and a `recording` sink that keeps what reaches it in `output_`, so that a processor is tested
// inside the real driver (watermarks, final flush, dead letters).

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

namespace sluice::testing {

/// A sink that keeps every batch written to it in `output` (owned by the test).
class RecordingSink : public exec::Sink {
 public:
  explicit RecordingSink(std::vector<std::shared_ptr<arrow::RecordBatch>>* output)
      : output_(output) {}
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    output_->push_back(batch);
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  std::vector<std::shared_ptr<arrow::RecordBatch>>* output_;
};

class InMemoryPipelineTest : public ::testing::Test {
 protected:
  explicit InMemoryPipelineTest(std::shared_ptr<arrow::Schema> schema)
      : registry_(exec::BuiltinRegistry()), schema_(std::move(schema)) {
    registry_.AddSource({config::PluginKind::kSource, "memory", "test", {}},
                        [this](const exec::ConnectorContext&,
                               const config::Options&) -> Result<std::unique_ptr<exec::Source>> {
                          return std::make_unique<MemorySource>(schema_, &input_);
                        });
    registry_.AddSink({config::PluginKind::kSink, "recording", "test", {}},
                      [this](const exec::ConnectorContext&,
                             const config::Options&) -> Result<std::unique_ptr<exec::Sink>> {
                        return std::make_unique<RecordingSink>(&output_);
                      });
  }

  /// Loads `yaml` (named test.yaml in errors) against the registry and builds the pipeline.
  Result<std::unique_ptr<exec::Pipeline>> Build(const std::string& yaml) {
    SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry_));
    return exec::Pipeline::Make(config, registry_);
  }

  /// The int64 column `name` of every output row, in order.
  std::vector<int64_t> OutputInt64(const std::string& name) const {
    std::vector<int64_t> values;
    for (const auto& batch : output_) {
      auto column = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName(name));
      for (int64_t i = 0; i < column->length(); ++i) values.push_back(column->Value(i));
    }
    return values;
  }

  exec::Registry registry_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> input_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> output_;

 private:
  class MemorySource : public exec::Source {
   public:
    MemorySource(std::shared_ptr<arrow::Schema> schema,
                 const std::vector<std::shared_ptr<arrow::RecordBatch>>* input)
        : schema_(std::move(schema)), input_(input) {}
    std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
    bool bounded() const override { return true; }
    Status Run(exec::SourceOutput& out) override {
      for (const auto& batch : *input_) SLUICE_RETURN_NOT_OK(out.Push(batch));
      return Status::OK();
    }

   private:
    std::shared_ptr<arrow::Schema> schema_;
    const std::vector<std::shared_ptr<arrow::RecordBatch>>* input_;
  };
};

}  // namespace sluice::testing

// libFuzzer target for the expression language: parses each input, compiles it against a small
// fixed schema and, when that succeeds, evaluates it on a batch with NULLs. Any Status is an
// acceptable outcome; crashes, sanitizer reports, leaks and hangs are not.

#include <arrow/api.h>
#include <arrow/json/from_string.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sluice/expr/expression.h"

namespace {

struct FuzzInput {
  std::shared_ptr<arrow::Schema> schema;
  std::shared_ptr<arrow::RecordBatch> batch;
};

std::shared_ptr<arrow::Array> Column(const std::shared_ptr<arrow::DataType>& type,
                                     const char* json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

const FuzzInput& Input() {
  static const FuzzInput* input = [] {
    auto schema = arrow::schema({
        arrow::field("i", arrow::int64()),
        arrow::field("x", arrow::float64()),
        arrow::field("s", arrow::utf8()),
        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
        arrow::field("b", arrow::boolean()),
        arrow::field("d", arrow::date32()),
    });
    auto batch = arrow::RecordBatch::Make(
        schema, 5,
        {Column(arrow::int64(), "[0, -1, 9223372036854775807, null, 42]"),
         Column(arrow::float64(), "[0.5, -0.0, 1e308, null, 3]"),
         Column(arrow::utf8(), R"(["", "héllo wörld", "12", null, "%_\\"])"),
         Column(
             arrow::timestamp(arrow::TimeUnit::MICRO),
             R"(["1970-01-01", "2024-02-29 23:59:59.999999", "1900-01-01 00:00:00", null, "2262-04-11"])"),
         Column(arrow::boolean(), "[true, false, null, true, false]"),
         Column(arrow::date32(), "[0, -1, 19787, null, 2932896]")});
    return new FuzzInput{std::move(schema), std::move(batch)};
  }();
  return *input;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sluice::config::LocatedText source{std::string(reinterpret_cast<const char*>(data), size),
                                           sluice::config::Location{"fuzz.yaml", 1, 1}, false};
  auto tree = sluice::expr::ParseExpression(source);
  if (!tree.ok()) return 0;
  // Rendering walks every node kind.
  (void)sluice::expr::ToString(**tree);
  const FuzzInput& input = Input();
  auto compiled = sluice::expr::Compile(source, *input.schema);
  if (!compiled.ok()) return 0;
  auto result = sluice::expr::Evaluate(*compiled, *input.batch);
  if (result.ok() && (*result)->length() != input.batch->num_rows()) __builtin_trap();
  return 0;
}

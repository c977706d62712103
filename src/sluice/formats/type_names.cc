#include "sluice/formats/type_names.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "sluice/common/spelling.h"

namespace sluice::formats {
namespace {

using TypeMaker = std::shared_ptr<arrow::DataType> (*)();

/// Every accepted name with its type; the first name of each type is its canonical one.
const std::vector<std::pair<std::string_view, TypeMaker>>& NamedTypes() {
  static const std::vector<std::pair<std::string_view, TypeMaker>> types = {
      {"bool", [] { return arrow::boolean(); }},
      {"boolean", [] { return arrow::boolean(); }},
      {"int8", [] { return arrow::int8(); }},
      {"int16", [] { return arrow::int16(); }},
      {"int32", [] { return arrow::int32(); }},
      {"int", [] { return arrow::int32(); }},
      {"int64", [] { return arrow::int64(); }},
      {"long", [] { return arrow::int64(); }},
      {"uint8", [] { return arrow::uint8(); }},
      {"uint16", [] { return arrow::uint16(); }},
      {"uint32", [] { return arrow::uint32(); }},
      {"uint64", [] { return arrow::uint64(); }},
      {"float32", [] { return arrow::float32(); }},
      {"float", [] { return arrow::float32(); }},
      {"double", [] { return arrow::float64(); }},
      {"float64", [] { return arrow::float64(); }},
      {"string", [] { return arrow::utf8(); }},
      {"utf8", [] { return arrow::utf8(); }},
      {"str", [] { return arrow::utf8(); }},
      {"large_string", [] { return arrow::large_utf8(); }},
      {"large_utf8", [] { return arrow::large_utf8(); }},
      {"binary", [] { return arrow::binary(); }},
      {"timestamp", [] { return TimestampType(); }},
      {"date", [] { return arrow::date32(); }},
      {"date32", [] { return arrow::date32(); }},
  };
  return types;
}

}  // namespace

const std::shared_ptr<arrow::DataType>& TimestampType() {
  static const std::shared_ptr<arrow::DataType> type =
      arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  return type;
}

Result<std::shared_ptr<arrow::DataType>> ParseTypeName(std::string_view name) {
  std::string lowered(name);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [type_name, make] : NamedTypes()) {
    if (type_name == lowered) return make();
  }
  return Status::Invalid(
      fmt::format("unknown type '{}': {}", name, SpellingHint(lowered, TypeNames())));
}

namespace {

constexpr std::pair<std::string_view, arrow::TimeUnit::type> kEpochUnitTypes[] = {
    {"timestamp_s", arrow::TimeUnit::SECOND},
    {"timestamp_ms", arrow::TimeUnit::MILLI},
    {"timestamp_us", arrow::TimeUnit::MICRO},
    {"timestamp_ns", arrow::TimeUnit::NANO},
};

}  // namespace

Result<DeclaredType> ParseDeclaredType(std::string_view name) {
  std::string lowered(name);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [type_name, unit] : kEpochUnitTypes) {
    if (type_name == lowered) return DeclaredType{TimestampType(), unit};
  }
  auto type = ParseTypeName(name);
  if (!type.ok()) {
    return Status::Invalid(
        fmt::format("unknown type '{}': {}", name, SpellingHint(lowered, DeclaredTypeNames())));
  }
  return DeclaredType{*std::move(type), std::nullopt};
}

std::vector<std::string> DeclaredTypeNames() {
  std::vector<std::string> names = TypeNames();
  for (const auto& [type_name, unit] : kEpochUnitTypes) names.emplace_back(type_name);
  return names;
}

std::string TypeName(const arrow::DataType& type) {
  if (type.Equals(*TimestampType())) return "timestamp";
  switch (type.id()) {
    case arrow::Type::BOOL:
      return "bool";
    case arrow::Type::DOUBLE:
      return "double";
    case arrow::Type::FLOAT:
      return "float32";
    case arrow::Type::STRING:
      return "string";
    case arrow::Type::DATE32:
      return "date";
    default:
      return type.ToString();
  }
}

std::vector<std::string> TypeNames() {
  return {"bool",   "int8",         "int16",  "int32",     "int64",   "uint8",
          "uint16", "uint32",       "uint64", "float32",   "float64", "double",
          "string", "large_string", "binary", "timestamp", "date"};
}

}  // namespace sluice::formats

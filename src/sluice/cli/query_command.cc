#include "sluice/cli/query_command.h"

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/scalar.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sluice/connectors/duckdb_store/store_database.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/query_stream.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeFailure = 1;
constexpr int kExitInvalid = 2;
constexpr int kExitReaderGone = 128 + SIGPIPE;

/// A value as text for the table and CSV formats; nullopt for a null.
std::optional<std::string> CellText(const arrow::Array& column, int64_t row) {
  if (column.IsNull(row)) return std::nullopt;
  auto scalar = column.GetScalar(row);
  if (!scalar.ok()) return std::string("?");
  return (*scalar)->ToString();
}

/// The columns `text` takes on a terminal: its UTF-8 code points (wide characters count one).
size_t DisplayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool IsNumeric(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         arrow::is_decimal(type.id());
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

/// Columns padded to their widest value, numbers right-aligned, NULL for nulls.
void PrintTable(const arrow::Schema& schema,
                const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                std::ostream& out) {
  const int columns = schema.num_fields();
  std::vector<std::vector<std::string>> cells(columns);
  std::vector<size_t> widths(columns);
  int64_t rows = 0;
  for (int column = 0; column < columns; ++column) {
    widths[column] = DisplayWidth(schema.field(column)->name());
  }
  for (const auto& batch : batches) {
    rows += batch->num_rows();
    for (int column = 0; column < columns; ++column) {
      for (int64_t row = 0; row < batch->num_rows(); ++row) {
        std::string text = CellText(*batch->column(column), row).value_or("NULL");
        // One line per row: control characters would break the alignment.
        std::replace_if(
            text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; },
            ' ');
        widths[column] = std::max(widths[column], DisplayWidth(text));
        cells[column].push_back(std::move(text));
      }
    }
  }
  auto line = [&](auto&& text_of, auto&& right_of) {
    std::string text;
    for (int column = 0; column < columns; ++column) {
      if (column > 0) text += " | ";
      const std::string& value = text_of(column);
      const std::string pad(widths[column] - DisplayWidth(value), ' ');
      text += right_of(column) ? pad + value : value + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  auto numeric = [&](int column) { return IsNumeric(*schema.field(column)->type()); };
  line([&](int column) -> const std::string& { return schema.field(column)->name(); }, numeric);
  std::string rule;
  for (int column = 0; column < columns; ++column) {
    if (column > 0) rule += "-+-";
    rule += std::string(widths[column], '-');
  }
  out << rule << '\n';
  for (int64_t row = 0; row < rows; ++row) {
    line([&](int column) -> const std::string& { return cells[column][row]; }, numeric);
  }
  out << fmt::format("({} {})\n", rows, rows == 1 ? "row" : "rows");
}

}  // namespace

int RunQuery(const QueryArguments& arguments, std::ostream& out, std::ostream& err) {
  if (arguments.format != "table" && arguments.format != "jsonl" && arguments.format != "csv") {
    err << fmt::format("sluice query: unknown format '{}'\n  hint: use table, jsonl or csv\n",
                       arguments.format);
    return kExitInvalid;
  }
  std::error_code missing;
  if (arguments.database != ":memory:" &&
      !std::filesystem::exists(arguments.database, missing)) {
    err << fmt::format("sluice query: DuckDB database '{}' does not exist\n",
                       arguments.database);
    return kExitInvalid;
  }
  auto database = connectors::duckdb_store::OpenStore(arguments.database, /*read_only=*/true);
  if (!database.ok()) {
    err << "sluice query: " << database.status().message() << '\n';
    return kExitRuntimeFailure;
  }
  auto connection = duckdb::Connection::Open(*database);
  if (!connection.ok()) {
    err << "sluice query: " << connection.status().message() << '\n';
    return kExitRuntimeFailure;
  }
  // Bind first: an error in the SQL itself is the user's to fix (exit 2).
  if (auto prepared = (*connection)->Prepare(arguments.sql); !prepared.ok()) {
    err << "sluice query: " << prepared.status().message() << '\n';
    return kExitInvalid;
  }
  auto stream = (*connection)->Stream(arguments.sql);
  if (!stream.ok()) {
    err << "sluice query: " << stream.status().message() << '\n';
    return kExitRuntimeFailure;
  }
  const arrow::Schema& schema = *(*stream)->schema();
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  if (arguments.format == "csv") {
    std::string header;
    for (int column = 0; column < schema.num_fields(); ++column) {
      if (column > 0) header += ',';
      header += CsvField(schema.field(column)->name());
    }
    out << header << '\n';
  }
  while (true) {
    auto batch = (*stream)->Next();
    if (!batch.ok()) {
      out.flush();
      err << "sluice query: " << batch.status().message() << '\n';
      return kExitRuntimeFailure;
    }
    if (*batch == nullptr) break;
    const arrow::RecordBatch& rows = **batch;
    if (arguments.format == "table") {
      batches.push_back(*batch);
      continue;
    }
    for (int64_t row = 0; row < rows.num_rows(); ++row) {
      if (arguments.format == "jsonl") {
        out << exec::RowToJson(rows, row) << '\n';
        continue;
      }
      std::string line;
      for (int column = 0; column < rows.num_columns(); ++column) {
        if (column > 0) line += ',';
        line += CsvField(CellText(*rows.column(column), row).value_or(""));
      }
      out << line << '\n';
    }
    if (!out) return kExitReaderGone;
  }
  if (arguments.format == "table") PrintTable(schema, batches, out);
  out.flush();
  return out ? kExitOk : kExitReaderGone;
}

}  // namespace sluice::cli

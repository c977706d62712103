#include "sluice/connectors/console/console_sink.h"

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/type_traits.h>
#include <arrow/util/io_util.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/blocking_write.h"
#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/utf8_text.h"
#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

enum class ConsoleFormat { kTable, kJsonLines };

/// Buffered JSON lines are written out once they pass this size, so that a large batch never
/// becomes one huge string.
constexpr size_t kWriteChunkBytes = size_t{1} << 20;

/// What separates table columns: spaces rather than rules, so a table pastes cleanly.
constexpr std::string_view kColumnGap = "  ";

/// The width of `text` on a terminal, counting each UTF-8 code point as one column (wide
/// East Asian characters are rare in pipeline output and not worth a width table).
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

/// Appends `raw` with control characters escaped, so that every table row stays on one line
/// and a value cannot move the terminal's cursor.
void AppendCellText(std::string_view raw, std::string* out) {
  // What a terminal shows is UTF-8: a byte that is not becomes U+FFFD, as in JSON output.
  std::string valid;
  std::string_view text = raw;
  if (!formats::IsValidUtf8(raw)) {
    formats::AppendReplacingInvalidUtf8(raw, &valid);
    text = valid;
  }
  for (char c : text) {
    switch (c) {
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          fmt::format_to(std::back_inserter(*out), "\\x{:02x}",
                         static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out->push_back(c);
        }
    }
  }
}

/// Numbers line up on their last digit, as in every SQL shell; everything else reads from the left.
bool IsRightAligned(const arrow::DataType& type) {
  const arrow::DataType* value_type = &type;
  if (type.id() == arrow::Type::DICTIONARY) {
    value_type = static_cast<const arrow::DictionaryType&>(type).value_type().get();
  }
  return arrow::is_numeric(value_type->id()) || arrow::is_decimal(value_type->id());
}

void AppendPadded(std::string_view text, size_t width, bool right_aligned, std::string* out) {
  const size_t padding = width - std::min(width, DisplayWidth(text));
  if (right_aligned) out->append(padding, ' ');
  out->append(text);
  if (!right_aligned) out->append(padding, ' ');
}

/// The `console` sink. Called from the pipeline thread only; owns no stream (stdout and stderr
/// belong to the process), so Close() flushes but never closes.
class ConsoleSink : public exec::Sink {
 public:
  ConsoleSink(ConsoleFormat format, std::FILE* stream, int64_t max_rows)
      : format_(format), stream_(stream), max_rows_(max_rows) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    if (format_ == ConsoleFormat::kJsonLines) encoder_.emplace(*schema);
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (batch->num_rows() == 0) return Status::OK();
    text_.clear();
    if (format_ == ConsoleFormat::kTable) {
      AppendTable(*batch);
    } else {
      if (!encoder_) encoder_.emplace(*batch->schema());
      for (int64_t row = 0; row < batch->num_rows(); ++row) {
        encoder_->AppendRow(*batch, row, &text_);
        text_.push_back('\n');
        if (text_.size() >= kWriteChunkBytes) SLUICE_RETURN_NOT_OK(WriteText());
      }
    }
    SLUICE_RETURN_NOT_OK(WriteText());
    // Someone is watching: show each batch as it comes, even when the stream is a pipe.
    return Flush();
  }

  Status Flush() override {
    BlockingWriteScope blocking;
    if (std::fflush(stream_) != 0) {
      return arrow::internal::IOErrorFromErrno(errno, "console: cannot write to ", StreamName(),
                                               ": ", std::strerror(errno));
    }
    return Status::OK();
  }

  /// Rows are shown as they come: after a restart, those after the last checkpoint are shown
  /// again.
  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }
  Status Close() override { return Flush(); }

 private:
  Status WriteText() {
    BlockingWriteScope blocking;
    if (!text_.empty() && std::fwrite(text_.data(), 1, text_.size(), stream_) != text_.size()) {
      return arrow::internal::IOErrorFromErrno(errno, "console: cannot write to ", StreamName(),
                                               ": ", std::strerror(errno));
    }
    text_.clear();
    return Status::OK();
  }

  const char* StreamName() const { return stream_ == stderr ? "stderr" : "stdout"; }

  /// Appends a header line, a rule, up to max_rows_ rows and, when rows were left out, how many.
  void AppendTable(const arrow::RecordBatch& batch) {
    if (tables_written_++ > 0) text_.push_back('\n');
    const int64_t shown = std::min(batch.num_rows(), max_rows_);
    const auto num_columns = static_cast<size_t>(batch.num_columns());
    if (num_columns == 0) {
      fmt::format_to(std::back_inserter(text_), "({} rows without columns)\n", batch.num_rows());
      return;
    }

    std::vector<std::string> names(num_columns);
    std::vector<std::vector<std::string>> cells(num_columns);
    std::vector<size_t> widths(num_columns);
    std::vector<bool> right_aligned(num_columns);
    std::string value;
    for (size_t column = 0; column < num_columns; ++column) {
      const arrow::Array& array = *batch.column(static_cast<int>(column));
      right_aligned[column] = IsRightAligned(*array.type());
      AppendCellText(batch.schema()->field(static_cast<int>(column))->name(), &names[column]);
      widths[column] = DisplayWidth(names[column]);
      cells[column].resize(static_cast<size_t>(shown));
      for (int64_t row = 0; row < shown; ++row) {
        std::string& cell = cells[column][static_cast<size_t>(row)];
        if (array.IsNull(row)) {
          cell = "NULL";
        } else {
          value.clear();
          formats::AppendPlainValue(array, row, &value);
          AppendCellText(value, &cell);
        }
        widths[column] = std::max(widths[column], DisplayWidth(cell));
      }
    }

    auto append_line = [&](auto&& cell_of) {
      for (size_t column = 0; column < num_columns; ++column) {
        if (column > 0) text_.append(kColumnGap);
        AppendPadded(cell_of(column), widths[column], right_aligned[column], &text_);
      }
      while (!text_.empty() && text_.back() == ' ') text_.pop_back();
      text_.push_back('\n');
    };
    append_line([&](size_t column) -> std::string_view { return names[column]; });
    std::vector<std::string> rules(num_columns);
    for (size_t column = 0; column < num_columns; ++column)
      rules[column].assign(widths[column], '-');
    append_line([&](size_t column) -> std::string_view { return rules[column]; });
    for (int64_t row = 0; row < shown; ++row) {
      append_line([&](size_t column) -> std::string_view {
        return cells[column][static_cast<size_t>(row)];
      });
    }
    if (const int64_t rest = batch.num_rows() - shown; rest > 0) {
      fmt::format_to(std::back_inserter(text_), "… {} more {}\n", rest, rest == 1 ? "row" : "rows");
    }
  }

  const ConsoleFormat format_;
  std::FILE* const stream_;
  const int64_t max_rows_;
  /// Built in Open() for jsonl: it escapes the field names once.
  std::optional<formats::JsonRowEncoder> encoder_;
  /// The text of the batch being written, kept to reuse its allocation.
  std::string text_;
  int64_t tables_written_ = 0;
};

config::PluginSpec ConsoleSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "console";
  spec.doc = "Prints the output on the terminal, as a table per micro-batch or as JSON lines.";
  spec.example =
      "sinks:\n"
      "  screen:\n"
      "    connector: console\n"
      "    format: table\n"
      "    max_rows: 10\n";

  OptionSpec format;
  format.name = "format";
  format.type = OptionType::kEnum;
  format.doc =
      "table: aligned columns for reading; jsonl: one JSON object per row for other tools.";
  format.default_value = "table";
  format.choices = {"table", "jsonl"};

  OptionSpec stream;
  stream.name = "stream";
  stream.type = OptionType::kEnum;
  stream.doc = "Where to print; stderr keeps stdout free when the output is piped elsewhere.";
  stream.default_value = "stdout";
  stream.choices = {"stdout", "stderr"};

  OptionSpec max_rows;
  max_rows.name = "max_rows";
  max_rows.type = OptionType::kInteger;
  max_rows.doc = "Rows printed per batch in table format; the rest are counted, not shown.";
  max_rows.default_value = "20";
  max_rows.min = 1;

  spec.options = {format, stream, max_rows};
  return spec;
}

Result<std::unique_ptr<exec::Sink>> MakeConsoleSink(const exec::ConnectorContext&,
                                                    const config::Options& options) {
  const ConsoleFormat format =
      options.GetString("format") == "jsonl" ? ConsoleFormat::kJsonLines : ConsoleFormat::kTable;
  std::FILE* stream = options.GetString("stream") == "stderr" ? stderr : stdout;
  return std::make_unique<ConsoleSink>(format, stream, options.GetInteger("max_rows"));
}

}  // namespace

void RegisterConsoleSink(exec::Registry* registry) {
  registry->AddSink(ConsoleSpec(), MakeConsoleSink);
}

}  // namespace sluice::connectors

// The CSV reader. Sluice cuts the input into blocks itself, at record ends it can trust, and has
// Arrow's CSV parser decode each block, every column as raw bytes; Sluice then converts them
// (BatchConformer), because Arrow fails a whole block on one bad value while Sluice must turn
// that one row into a dead letter.
//
// A record end is a newline outside quotes, found by following the quoting as the parser does
// (a field that starts with a quote is quoted; a doubled quote inside it is one quote). A record
// longer than a block grows the block, up to max_record_size. When no record end turns up
// within that (a quote that never closes, or a record that large), the decoder has lost sync:
// it skips line by line to the next line that is a whole record with the header's field count,
// and that span is damaged input, reported with its lines and bytes.

#include <arrow/buffer.h>
#include <arrow/csv/api.h>
#include <arrow/io/interfaces.h>
#include <arrow/io/memory.h>
#include <arrow/record_batch.h>
#include <arrow/table.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// How much of a skipped span a dead letter keeps.
constexpr size_t kRecordPrefix = 1024;

/// Follows CSV quoting through text, to tell which newlines end records.
class RecordScanner {
 public:
  explicit RecordScanner(char delimiter) : delimiter_(delimiter) {}

  /// Scans text[from, to); returns the offset just past the first record end found (stopping
  /// there), or std::nullopt after scanning it all. The state carries over between calls.
  std::optional<size_t> NextEnd(std::string_view text, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      const char c = text[i];
      switch (state_) {
        case State::kQuoted: {
          // Straight to the next quote: a quoted value may be long.
          const void* quote = std::memchr(text.data() + i, '"', to - i);
          if (quote == nullptr) return std::nullopt;
          i = static_cast<size_t>(static_cast<const char*>(quote) - text.data());
          state_ = State::kQuoteInQuoted;
          continue;
        }
        case State::kQuoteInQuoted:
          if (c == '"') {
            state_ = State::kQuoted;  // a doubled quote
            continue;
          }
          state_ = State::kAfterQuote;  // closed: the rest of the field is read as it is
          break;
        case State::kFieldStart:
          if (c == '"') {
            state_ = State::kQuoted;
            continue;
          }
          break;
        case State::kUnquoted:
        case State::kAfterQuote:
          break;
      }
      // Outside quotes.
      if (c == delimiter_) {
        state_ = State::kFieldStart;
        ++fields_;
      } else if (c == '\n') {
        ended_fields_ = fields_;
        Reset();
        return i + 1;
      } else if (state_ == State::kFieldStart) {
        state_ = State::kUnquoted;
      }
    }
    return std::nullopt;
  }

  /// NextEnd, faster (a record is found by jumping between quotes and line breaks) when it
  /// starts at a record start; fields() and ended_fields() are then not kept. Where the record
  /// does not end before `to`, it is scanned again the slow way, to carry the state on.
  std::optional<size_t> FastNextEnd(std::string_view text, size_t from, size_t to) {
    if (state_ != State::kFieldStart || fields_ != 1) return NextEnd(text, from, to);
    // From the start of a record, jump from quote to quote: only a quote at the start of a
    // field opens a quoted value, and only its closing quote (not a doubled one) ends it.
    const char* data = text.data();
    size_t at = from;
    while (at < to) {
      const void* newline = std::memchr(data + at, '\n', to - at);
      const size_t line_end =
          newline == nullptr ? to : static_cast<size_t>(static_cast<const char*>(newline) - data);
      const void* quote = std::memchr(data + at, '"', line_end - at);
      if (quote == nullptr) {
        if (newline == nullptr) break;
        return line_end + 1;
      }
      size_t q = static_cast<size_t>(static_cast<const char*>(quote) - data);
      const bool opens = q == from || data[q - 1] == delimiter_;
      at = q + 1;
      if (!opens) continue;
      while (true) {  // to the closing quote
        const void* close = std::memchr(data + at, '"', to - at);
        if (close == nullptr) return NextEnd(text, from, to);  // beyond `to`: the slow way
        at = static_cast<size_t>(static_cast<const char*>(close) - data) + 1;
        if (at == to) return NextEnd(text, from, to);
        if (data[at] != '"') break;
        ++at;  // a doubled quote
      }
    }
    return NextEnd(text, from, to);
  }

  /// Whether the text scanned so far ends inside a quoted field.
  bool in_quotes() const { return state_ == State::kQuoted; }
  /// The fields of the record scanned so far (1 at its start).
  int64_t fields() const { return fields_; }
  /// The fields of the last record that ended.
  int64_t ended_fields() const { return ended_fields_; }

  void Reset() {
    state_ = State::kFieldStart;
    fields_ = 1;
  }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterQuote };
  char delimiter_;
  State state_ = State::kFieldStart;
  int64_t fields_ = 1;
  int64_t ended_fields_ = 0;
};

/// One record of a block: where its text is (without the line break) and its first line.
struct Record {
  size_t begin;
  size_t end;
  int64_t line;
};

/// A block decoded by Arrow: every column raw bytes, one row per record it kept.
struct RawBlock {
  std::shared_ptr<arrow::RecordBatch> batch;
  /// The first line of each row of `batch`.
  std::vector<int64_t> lines;
  /// Records with the wrong field count or that Arrow could not parse, in file order, with
  /// their lines.
  std::vector<std::pair<int64_t, exec::DeadLetter>> rejected;
};

std::string_view WithoutCr(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

/// Names `names` uniquely: a repeated name gets _2, _3, ... (skipping names already taken).
/// Returns a warning naming the renamed columns, or an empty string.
std::string RenameDuplicates(const std::string& input, std::vector<std::string>* names) {
  std::map<std::string, int> seen;
  for (const auto& name : *names) ++seen[name];
  std::vector<std::string> renamed;
  std::map<std::string, int> next;
  std::vector<std::string> taken = *names;
  std::map<std::string, bool> kept;
  for (auto& name : *names) {
    if (seen[name] < 2) continue;
    if (!kept[name]) {
      kept[name] = true;
      continue;
    }
    int& n = next[name];
    if (n == 0) n = 2;
    std::string candidate;
    do {
      candidate = fmt::format("{}_{}", name, n++);
    } while (std::find(taken.begin(), taken.end(), candidate) != taken.end());
    taken.push_back(candidate);
    renamed.push_back(fmt::format("'{}' as '{}'", name, candidate));
    name = candidate;
  }
  if (renamed.empty()) return {};
  return fmt::format("{}: the header repeats column names; read {}", input,
                     fmt::join(renamed, ", "));
}

class CsvReader final : public RecordReader {
 public:
  CsvReader(std::shared_ptr<arrow::io::InputStream> input, std::string name, int64_t size,
            const ReadOptions& options)
      : input_(std::move(input)),
        name_(std::move(name)),
        bytes_total_(size),
        options_(options),
        scanner_(options.delimiter) {
    options_.max_record_size = std::max<int64_t>(options.max_record_size, 1);
  }

  Status Init() {
    std::vector<exec::DeadLetter> damage;
    SLUICE_RETURN_NOT_OK(Fill(3));
    if (buffer_.size() >= 3 && buffer_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
      buffer_.erase(0, 3);  // a UTF-8 BOM
      buffer_offset_ = 3;
    }
    if (options_.header) {
      SLUICE_ASSIGN_OR_RAISE(std::optional<Record> header, ReadHeader());
      if (!header) {
        // An empty input is simply no rows.
        schema_ = options_.schema ? options_.schema : arrow::schema({});
        done_ = true;
        return Status::OK();
      }
      SLUICE_ASSIGN_OR_RAISE(names_, ParseHeader(*header));
      input_fields_ = names_;
      std::string renamed = RenameDuplicates(name_, &names_);
      if (!renamed.empty()) warnings_.push_back(std::move(renamed));
      SLUICE_RETURN_NOT_OK(CheckDeclaredFields(name_, names_, options_, &warnings_));
    } else if (options_.schema) {
      names_ = options_.schema->field_names();
    }
    std::shared_ptr<arrow::Schema> target = options_.schema;
    if (!target || names_.empty()) {
      SLUICE_ASSIGN_OR_RAISE(first_, ReadRawBlock(&damage));
      pending_ = std::move(damage);
    }
    if (!target) {
      // Types are inferred from the first block, as Arrow would, but frozen in our own
      // conformer so that a later value that does not fit is one dead letter, not a failure.
      arrow::FieldVector fields;
      for (size_t i = 0; i < names_.size(); ++i) {
        std::shared_ptr<arrow::DataType> type = arrow::utf8();
        if (first_ && first_->batch) {
          auto inferred = InferTextType(first_->batch->column(static_cast<int>(i)));
          if (!inferred.ok()) {
            return Status::TypeError(
                fmt::format("{}: column '{}': {}", name_, names_[i], inferred.status().message()));
          }
          type = *inferred;
        }
        fields.push_back(arrow::field(names_[i], type));
      }
      SLUICE_ASSIGN_OR_RAISE(target, OutputSchema(arrow::schema(std::move(fields)), options_));
    }
    schema_ = target;
    conformer_ = std::make_unique<BatchConformer>(target, options_.times);
    return Status::OK();
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  std::vector<std::string> warnings() const override { return warnings_; }
  std::vector<std::string> input_fields() const override { return input_fields_; }

  Result<std::shared_ptr<arrow::RecordBatch>> Next(
      std::vector<exec::DeadLetter>* rejected) override {
    for (auto& letter : pending_) rejected->push_back(std::move(letter));
    pending_.clear();
    std::optional<RawBlock> block;
    if (first_) {
      block = std::move(first_);
      first_.reset();
    } else if (!done_) {
      SLUICE_ASSIGN_OR_RAISE(block, ReadRawBlock(rejected));
    }
    if (!block) {
      done_ = true;
      bytes_read_ = bytes_total_ == kUnknownSize ? consumed_ : bytes_total_;
      return nullptr;
    }
    std::vector<int64_t> bad_lines;
    auto origin = [&](int64_t row) {
      bad_lines.push_back(block->lines[static_cast<size_t>(row)]);
      return fmt::format("{}:line {}", name_, bad_lines.back());
    };
    std::vector<exec::DeadLetter> unconvertible;
    std::shared_ptr<arrow::RecordBatch> conformed;
    if (block->batch) {
      SLUICE_ASSIGN_OR_RAISE(conformed, conformer_->Conform(block->batch, origin, &unconvertible));
    } else {
      SLUICE_ASSIGN_OR_RAISE(conformed, arrow::RecordBatch::MakeEmpty(schema_));
    }
    // Hand out both kinds of rejected rows in file order (each list is in order already).
    auto& skipped = block->rejected;
    size_t next_skipped = 0;
    for (size_t i = 0; i < unconvertible.size(); ++i) {
      while (next_skipped < skipped.size() && skipped[next_skipped].first < bad_lines[i])
        rejected->push_back(std::move(skipped[next_skipped++].second));
      rejected->push_back(std::move(unconvertible[i]));
    }
    for (; next_skipped < skipped.size(); ++next_skipped)
      rejected->push_back(std::move(skipped[next_skipped].second));
    return conformed;
  }

  int64_t bytes_read() const override { return bytes_read_; }
  int64_t bytes_total() const override { return bytes_total_; }

 private:
  /// Reads until the buffer holds `wanted` bytes from pos_, or the input ends.
  Status Fill(size_t wanted) {
    while (!eof_ && buffer_.size() - pos_ < wanted) {
      if (pos_ > 0) {
        buffer_.erase(0, pos_);
        buffer_offset_ += static_cast<int64_t>(pos_);
        scan_pos_ = scan_pos_ > pos_ ? scan_pos_ - pos_ : 0;
        pos_ = 0;
      }
      const int64_t chunk = std::max<int64_t>(options_.block_size, 1);
      auto read = input_->Read(chunk);
      if (!read.ok()) {
        return Status::IOError(fmt::format("{}:byte {}: cannot read on: {}", name_, consumed_,
                                           read.status().message()));
      }
      if ((*read)->size() == 0) {
        eof_ = true;
        break;
      }
      buffer_.append(reinterpret_cast<const char*>((*read)->data()),
                     static_cast<size_t>((*read)->size()));
      consumed_ += (*read)->size();
      bytes_read_ = consumed_;
    }
    return Status::OK();
  }

  /// Reads once more, whatever the input has (at least a byte, unless it has ended).
  Status ReadMore() { return Fill(buffer_.size() - pos_ + 1); }

  /// Starts scanning afresh at pos_, a record boundary.
  void Restart() {
    scanner_.Reset();
    scan_pos_ = pos_;
    last_end_ = std::nullopt;
  }

  /// Finds the end of the block starting at pos_: the last record end within a block's bytes,
  /// or of the first record when it is longer (up to max_record_size). Returns the end, or
  /// nullopt when the input has ended; on lost sync, skips the damaged span (ReportDamage) and
  /// looks again.
  Result<std::optional<size_t>> FindBlock(std::vector<exec::DeadLetter>* rejected) {
    while (true) {
      if (pos_ == buffer_.size()) SLUICE_RETURN_NOT_OK(Fill(1));
      if (pos_ == buffer_.size() && eof_) return std::nullopt;
      Restart();
      size_t limit = static_cast<size_t>(std::max<int64_t>(options_.block_size, 1));
      const auto max_record = static_cast<size_t>(options_.max_record_size);
      bool damaged = false;
      while (true) {
        const size_t to = std::min(buffer_.size(), pos_ + limit);
        while (scan_pos_ < to) {
          auto end = scanner_.FastNextEnd(buffer_, scan_pos_, to);
          if (!end) {
            scan_pos_ = to;
            break;
          }
          scan_pos_ = *end;
          last_end_ = *end;
        }
        // Whole records are handed on as soon as they are there (a live pipe is read as it
        // comes); more input is read only to finish the first one.
        if (last_end_) return last_end_;
        if (!eof_ && to < pos_ + limit) {
          SLUICE_RETURN_NOT_OK(ReadMore());
          continue;
        }
        if (eof_ && scan_pos_ == buffer_.size()) {
          // The last record has no line break: whole unless a quote is still open.
          if (!scanner_.in_quotes()) return buffer_.size();
          damaged = true;
          break;
        }
        if (limit >= max_record) {
          damaged = true;
          break;
        }
        limit = std::min(limit * 2, max_record);
      }
      if (damaged) SLUICE_RETURN_NOT_OK(SkipDamage(rejected));
    }
  }

  /// Skips line by line from pos_ (where no record end could be found) to the next line that is
  /// a whole record with the expected field count, and reports what was skipped.
  Status SkipDamage(std::vector<exec::DeadLetter>* rejected) {
    const bool in_quotes = scanner_.in_quotes();
    const int64_t first_line = line_;
    const int64_t first_byte = buffer_offset_ + static_cast<int64_t>(pos_);
    exec::DeadLetter letter;
    letter.record = buffer_.substr(pos_, kRecordPrefix);
    int64_t bytes = 0;
    int64_t lines = 0;
    while (true) {
      SLUICE_ASSIGN_OR_RAISE(int64_t skipped, SkipLine());
      bytes += skipped;
      ++lines;
      if (pos_ == buffer_.size() && eof_) break;
      SLUICE_ASSIGN_OR_RAISE(bool whole, WholeRecordAtPos());
      if (whole) break;
    }
    line_ += lines;
    Restart();
    const std::string what =
        in_quotes ? fmt::format(
                        "a quoted field does not end within {}: an unterminated quote, or "
                        "a value that long",
                        RecordLimit(options_))
                  : fmt::format("a record longer than {}", RecordLimit(options_));
    const std::string span = lines == 1
                                 ? fmt::format("line {}", first_line)
                                 : fmt::format("lines {}-{}", first_line, first_line + lines - 1);
    const bool at_end = pos_ == buffer_.size() && eof_;
    letter.origin = fmt::format("{}:line {}", name_, first_line);
    letter.reason =
        fmt::format("{}; the damaged span is {} (bytes {}-{}, {} bytes){}{}", what, span,
                    first_byte, first_byte + bytes - 1, bytes,
                    at_end ? ", to the end of the input"
                           : fmt::format(", and the next whole record of {} fields is at line {}",
                                         expected_fields(), line_),
                    options_.option_hints ? "; raise max_record_size if the record is real" : "");
    if (letter.record.size() > static_cast<size_t>(bytes))
      letter.record.resize(static_cast<size_t>(bytes));
    // A single line is one record; over several lines, quoted line breaks may join them.
    letter.skipped_rows = lines == 1 ? 1 : 0;
    letter.skipped_bytes = bytes;
    return ReportDamage(options_, std::move(letter), rejected);
  }

  /// Drops the line at pos_ through its line break (reading on as needed); returns its bytes.
  Result<int64_t> SkipLine() {
    int64_t skipped = 0;
    while (true) {
      size_t newline = buffer_.find('\n', pos_);
      if (newline != std::string::npos) {
        skipped += static_cast<int64_t>(newline + 1 - pos_);
        pos_ = newline + 1;
        return skipped;
      }
      skipped += static_cast<int64_t>(buffer_.size() - pos_);
      pos_ = buffer_.size();
      if (eof_) return skipped;
      SLUICE_RETURN_NOT_OK(Fill(1));
    }
  }

  /// Whether the line at pos_ is a whole record (its quotes close on it) with the expected
  /// number of fields.
  Result<bool> WholeRecordAtPos() {
    const auto max_record = static_cast<size_t>(options_.max_record_size);
    size_t newline;
    while ((newline = buffer_.find('\n', pos_)) == std::string::npos && !eof_ &&
           buffer_.size() - pos_ < max_record) {
      SLUICE_RETURN_NOT_OK(Fill(buffer_.size() - pos_ + 1));
    }
    RecordScanner scanner(options_.delimiter);
    if (newline == std::string::npos) {
      if (!eof_) return false;
      scanner.NextEnd(buffer_, pos_, buffer_.size());
      return !scanner.in_quotes() && scanner.fields() == expected_fields();
    }
    auto end = scanner.NextEnd(buffer_, pos_, newline + 1);
    return end && *end == newline + 1 && scanner.ended_fields() == expected_fields() &&
           !WithoutCr(std::string_view(buffer_).substr(pos_, newline - pos_)).empty();
  }

  int64_t expected_fields() const { return static_cast<int64_t>(names_.size()); }

  /// Reads the header record, or nullopt for an input without any.
  Result<std::optional<Record>> ReadHeader() {
    // Blank lines before the header are skipped, as Arrow does.
    while (true) {
      SLUICE_RETURN_NOT_OK(Fill(1));
      if (pos_ == buffer_.size()) return std::nullopt;
      size_t newline = buffer_.find('\n', pos_);
      if (newline == std::string::npos ||
          !WithoutCr(std::string_view(buffer_).substr(pos_, newline - pos_)).empty())
        break;
      pos_ = newline + 1;
      ++line_;
    }
    Restart();
    const auto max_record = static_cast<size_t>(options_.max_record_size);
    size_t limit =
        std::min(static_cast<size_t>(std::max<int64_t>(options_.block_size, 1)), max_record);
    while (true) {
      const size_t to = std::min(buffer_.size(), pos_ + limit);
      auto end = scanner_.NextEnd(buffer_, scan_pos_, to);
      scan_pos_ = end.value_or(to);
      size_t record_end;
      if (end) {
        record_end = *end;
      } else if (!eof_ && to < pos_ + limit) {
        SLUICE_RETURN_NOT_OK(ReadMore());
        continue;
      } else if (eof_ && to == buffer_.size() && !scanner_.in_quotes()) {
        record_end = buffer_.size();
      } else if (limit >= max_record || eof_) {
        return Status::Invalid(
            fmt::format("{}: the header does not end within {}{}", name_, RecordLimit(options_),
                        scanner_.in_quotes() ? ": a quote in it never closes" : ""));
      } else {
        limit = std::min(limit * 2, max_record);
        continue;
      }
      Record header{pos_, record_end, line_};
      return header;
    }
  }

  /// Parses the header record with Arrow, for its column names.
  Result<std::vector<std::string>> ParseHeader(const Record& header) {
    std::string text = buffer_.substr(header.begin, header.end - header.begin);
    line_ += std::count(text.begin(), text.end(), '\n');
    pos_ = header.end;
    if (text.empty() || text.back() != '\n') text.push_back('\n');
    auto read_options = arrow::csv::ReadOptions::Defaults();
    read_options.use_threads = false;
    auto parse_options = ParseOptions(nullptr);
    auto convert_options = ConvertOptions();
    auto reader = arrow::csv::StreamingReader::Make(
        arrow::io::default_io_context(),
        std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(std::move(text))),
        read_options, parse_options, convert_options);
    if (!reader.ok())
      return Status::Invalid(fmt::format("{}: the header: {}", name_, reader.status().message()));
    return (*reader)->schema()->field_names();
  }

  arrow::csv::ParseOptions ParseOptions(std::vector<std::string>* invalid) const {
    auto parse_options = arrow::csv::ParseOptions::Defaults();
    parse_options.delimiter = options_.delimiter;
    parse_options.newlines_in_values = true;
    if (invalid != nullptr) {
      parse_options.invalid_row_handler = [invalid](const arrow::csv::InvalidRow& row) {
        invalid->push_back(fmt::format("{}\n{}", row.actual_columns, std::string_view(row.text)));
        return arrow::csv::InvalidRowResult::Skip;
      };
    }
    return parse_options;
  }

  static arrow::csv::ConvertOptions ConvertOptions() {
    auto convert_options = arrow::csv::ConvertOptions::Defaults();
    convert_options.default_column_type = arrow::binary();
    convert_options.check_utf8 = false;
    convert_options.null_values = {""};
    convert_options.strings_can_be_null = true;
    // `""` is an empty string and an empty field is null, so both survive a round trip.
    convert_options.quoted_strings_can_be_null = false;
    return convert_options;
  }

  /// Has Arrow parse `text` (whole records); rows with the wrong field count go to `invalid` as
  /// "<fields>\n<text>".
  Result<std::shared_ptr<arrow::RecordBatch>> Parse(std::string text,
                                                    std::vector<std::string>* invalid) const {
    auto read_options = arrow::csv::ReadOptions::Defaults();
    read_options.use_threads = false;
    read_options.block_size = static_cast<int32_t>(
        std::min<size_t>(text.size() + 1, std::numeric_limits<int32_t>::max()));
    read_options.column_names = names_;
    auto reader = arrow::csv::StreamingReader::Make(
        arrow::io::default_io_context(),
        std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(std::move(text))),
        read_options, ParseOptions(invalid), ConvertOptions());
    if (!reader.ok()) return Status::Invalid(reader.status().message());
    arrow::RecordBatchVector batches;
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      SLUICE_RETURN_NOT_OK((*reader)->ReadNext(&batch));
      if (!batch) break;
      batches.push_back(std::move(batch));
    }
    if (batches.size() == 1) return batches.front();
    SLUICE_ASSIGN_OR_RAISE(auto table,
                           arrow::Table::FromRecordBatches((*reader)->schema(), batches));
    return table->CombineChunksToBatch();
  }

  /// Reads and parses the next block, or nullopt at the end of the input.
  Result<std::optional<RawBlock>> ReadRawBlock(std::vector<exec::DeadLetter>* rejected) {
    SLUICE_ASSIGN_OR_RAISE(std::optional<size_t> end, FindBlock(rejected));
    if (!end) {
      if (auto shrunk = Shrunk(name_, consumed_, bytes_total_))
        SLUICE_RETURN_NOT_OK(ReportDamage(options_, *std::move(shrunk), rejected));
      return std::nullopt;
    }
    // The records of the block, with their lines; blank lines are not records (Arrow skips
    // them too).
    std::vector<Record> records;
    RecordScanner scanner(options_.delimiter);
    int64_t line = line_;
    for (size_t begin = pos_; begin < *end;) {
      size_t record_end = scanner.FastNextEnd(buffer_, begin, *end).value_or(*end);
      std::string_view text(buffer_.data() + begin, record_end - begin);
      const bool line_break = !text.empty() && text.back() == '\n';
      if (line_break) text.remove_suffix(1);
      text = WithoutCr(text);
      if (!text.empty()) records.push_back({begin, begin + text.size(), line});
      // Line breaks inside quoted values count too.
      line += line_break;
      if (std::memchr(text.data(), '\n', text.size()) != nullptr)
        line += std::count(text.begin(), text.end(), '\n');
      begin = record_end;
    }
    if (names_.empty()) {
      // No header and no schema: columns are named f0, f1, ... after the first record.
      RecordScanner first(options_.delimiter);
      size_t first_end = records.empty() ? *end : records.front().end;
      first.NextEnd(buffer_, records.empty() ? pos_ : records.front().begin, first_end);
      for (int64_t i = 0; i < first.fields(); ++i) names_.push_back(fmt::format("f{}", i));
    }
    RawBlock block;
    std::string text = buffer_.substr(pos_, *end - pos_);
    if (text.empty() || text.back() != '\n') text.push_back('\n');
    pos_ = *end;
    line_ = line;
    if (records.empty()) return block;
    std::vector<std::string> invalid;
    auto parsed = Parse(std::move(text), &invalid);
    if (parsed.ok()) {
      block.batch = *parsed;
      Attribute(records, invalid, &block);
      return block;
    }
    // Arrow refused the block: parse its records one by one, so that only the bad ones go.
    arrow::RecordBatchVector batches;
    for (const Record& record : records) {
      std::string one = buffer_.substr(record.begin, record.end - record.begin);
      std::vector<std::string> record_invalid;
      auto single = Parse(one + "\n", &record_invalid);
      if (!single.ok()) {
        exec::DeadLetter letter;
        letter.reason = single.status().message();
        letter.origin = fmt::format("{}:line {}", name_, record.line);
        letter.record = one;
        block.rejected.emplace_back(record.line, std::move(letter));
        continue;
      }
      if (!record_invalid.empty()) {
        block.rejected.emplace_back(record.line, InvalidLetter(record, record_invalid.front()));
        continue;
      }
      batches.push_back(*single);
      block.lines.push_back(record.line);
    }
    if (!batches.empty()) {
      SLUICE_ASSIGN_OR_RAISE(auto table,
                             arrow::Table::FromRecordBatches(batches.front()->schema(), batches));
      SLUICE_ASSIGN_OR_RAISE(block.batch, table->CombineChunksToBatch());
    }
    return block;
  }

  exec::DeadLetter InvalidLetter(const Record& record, const std::string& invalid) const {
    size_t split = invalid.find('\n');
    exec::DeadLetter letter;
    letter.reason =
        fmt::format("expected {} fields, found {}", names_.size(), invalid.substr(0, split));
    letter.origin = fmt::format("{}:line {}", name_, record.line);
    letter.record = invalid.substr(split + 1);
    return letter;
  }

  /// Names the lines of the rows Arrow kept and of those it rejected, matching the rejected
  /// rows' text against the records in order.
  void Attribute(const std::vector<Record>& records, const std::vector<std::string>& invalid,
                 RawBlock* block) const {
    size_t next = 0;
    std::vector<bool> rejected(records.size(), false);
    for (const auto& row : invalid) {
      std::string_view text = std::string_view(row).substr(row.find('\n') + 1);
      size_t at = next;
      while (at < records.size() &&
             std::string_view(buffer_).substr(records[at].begin,
                                              records[at].end - records[at].begin) != text)
        ++at;
      if (at == records.size()) {
        // Not matched (Arrow saw the text differently): name the next record's line.
        at = std::min(next, records.size() - 1);
      }
      rejected[at] = true;
      block->rejected.emplace_back(records[at].line, InvalidLetter(records[at], row));
      next = at + 1;
    }
    for (size_t i = 0; i < records.size(); ++i)
      if (!rejected[i]) block->lines.push_back(records[i].line);
    // Should the two disagree, every row still gets a line (the last known one).
    while (static_cast<int64_t>(block->lines.size()) < block->batch->num_rows())
      block->lines.push_back(block->lines.empty() ? line_ : block->lines.back());
  }

  std::shared_ptr<arrow::io::InputStream> input_;
  std::string name_;
  int64_t bytes_total_;
  ReadOptions options_;
  std::atomic<int64_t> bytes_read_{0};
  /// Bytes read from the input so far.
  int64_t consumed_ = 0;
  /// Input read but not yet decoded starts at pos_; buffer_offset_ is buffer_[0]'s place in the
  /// input and line_ the line number at pos_.
  std::string buffer_;
  size_t pos_ = 0;
  int64_t buffer_offset_ = 0;
  int64_t line_ = 1;
  bool eof_ = false;
  bool done_ = false;
  /// The scan for the end of the block that starts at pos_.
  RecordScanner scanner_;
  size_t scan_pos_ = 0;
  std::optional<size_t> last_end_;
  std::vector<std::string> names_;
  std::vector<std::string> input_fields_;
  std::vector<std::string> warnings_;
  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<BatchConformer> conformer_;
  /// The first block, decoded before Next() to infer the schema, and what it rejected.
  std::optional<RawBlock> first_;
  std::vector<exec::DeadLetter> pending_;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenCsvReader(std::shared_ptr<arrow::io::InputStream> input,
                                                    int64_t size, std::string name,
                                                    const ReadOptions& options) {
  auto reader = std::make_unique<CsvReader>(std::move(input), std::move(name), size, options);
  SLUICE_RETURN_NOT_OK(reader->Init());
  return reader;
}

}  // namespace sluice::formats::internal

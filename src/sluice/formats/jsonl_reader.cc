// The JSON lines reader: reads a block of bytes at a time, splits it into lines and hands
// each line to JsonLinesDecoder, so that memory stays at about one block however large the
// file, and a bad line is one dead letter. A newline is a record boundary that can always be
// trusted, so damage never spreads past its line: a line longer than max_record_size is
// skipped up to the next newline, as damaged input.

#include <arrow/buffer.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <atomic>

#include "sluice/formats/jsonl_decoder.h"
#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// How much of a skipped record a dead letter keeps.
constexpr size_t kRecordPrefix = 1024;

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

class JsonLinesReader final : public RecordReader {
 public:
  JsonLinesReader(std::shared_ptr<arrow::io::InputStream> file, std::string name, int64_t size,
                  const ReadOptions& options)
      : file_(std::move(file)),
        name_(std::move(name)),
        bytes_total_(size),
        block_size_(options.block_size),
        options_(options) {}

  Status Init(const ReadOptions& options) {
    std::shared_ptr<arrow::Schema> schema = options.schema;
    if (!schema) {
      // Read blocks until the sample has enough lines; they stay buffered for Next().
      std::vector<std::string_view> sample;
      while (true) {
        sample.clear();
        size_t position = 0;
        while (static_cast<int64_t>(sample.size()) < options.infer_rows) {
          size_t end = buffer_.find('\n', position);
          if (end == std::string::npos) {
            if (eof_ && position < buffer_.size())
              sample.push_back(std::string_view(buffer_).substr(position));
            break;
          }
          std::string_view line = std::string_view(buffer_).substr(position, end - position);
          if (!IsBlank(line)) sample.push_back(line);
          position = end + 1;
        }
        if (static_cast<int64_t>(sample.size()) >= options.infer_rows || eof_) break;
        // A line longer than max_record_size is not sampled; Next() skips it.
        if (static_cast<int64_t>(buffer_.size() - position) > options.max_record_size) break;
        SLUICE_RETURN_NOT_OK(ReadBlock());
      }
      SLUICE_ASSIGN_OR_RAISE(schema, OutputSchema(JsonLinesDecoder::InferSchema(sample), options));
    }
    SLUICE_ASSIGN_OR_RAISE(decoder_, JsonLinesDecoder::Make(schema, options.times));
    return Status::OK();
  }

  std::shared_ptr<arrow::Schema> schema() const override { return decoder_->schema(); }

  Result<std::shared_ptr<arrow::RecordBatch>> Next(
      std::vector<exec::DeadLetter>* rejected) override {
    const size_t rejected_before = rejected->size();
    while (!done_) {
      if (!eof_ && position_ == buffer_.size()) SLUICE_RETURN_NOT_OK(ReadBlock());
      DecodeLines(rejected);
      if (static_cast<int64_t>(buffer_.size() - position_) > options_.max_record_size)
        SLUICE_RETURN_NOT_OK(SkipLongLine(rejected));
      if (eof_ && position_ < buffer_.size()) {
        // The last line has no newline (or the file was cut short).
        DecodeLine(std::string_view(buffer_).substr(position_), rejected);
        position_ = buffer_.size();
      }
      if (eof_ && position_ == buffer_.size() && !done_) {
        done_ = true;
        if (auto shrunk = Shrunk(name_, bytes_read_, bytes_total_))
          SLUICE_RETURN_NOT_OK(ReportDamage(options_, *std::move(shrunk), rejected));
      }
      // A block of only bad lines still returns (an empty batch), so that its dead letters
      // are handed on now rather than piling up over a whole file of garbage.
      if (decoder_->num_rows() > 0 || rejected->size() > rejected_before) return decoder_->Finish();
      if (!eof_ && position_ < buffer_.size())
        SLUICE_RETURN_NOT_OK(ReadBlock());  // a line longer than a block
    }
    return nullptr;
  }

  int64_t bytes_read() const override { return bytes_read_; }
  int64_t bytes_total() const override { return bytes_total_; }

 private:
  /// The line at position_ has no newline within max_record_size: it is skipped to its end.
  Status SkipLongLine(std::vector<exec::DeadLetter>* rejected) {
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:line {}", name_, line_number_ + 1);
    letter.record = buffer_.substr(position_, kRecordPrefix);
    int64_t skipped = 0;
    while (true) {
      size_t end = buffer_.find('\n', position_);
      if (end != std::string::npos) {
        skipped += static_cast<int64_t>(end + 1 - position_);
        position_ = end + 1;
        break;
      }
      skipped += static_cast<int64_t>(buffer_.size() - position_);
      position_ = buffer_.size();
      if (eof_) break;
      SLUICE_RETURN_NOT_OK(ReadBlock());
    }
    ++line_number_;
    letter.reason =
        fmt::format("a line of {} bytes is longer than {}{}", skipped, RecordLimit(options_),
                    options_.option_hints ? "; raise max_record_size to read it" : "");
    letter.skipped_rows = 1;
    letter.skipped_bytes = skipped;
    return ReportDamage(options_, std::move(letter), rejected);
  }

  /// Appends the next block to the buffer, dropping what has been decoded already.
  Status ReadBlock() {
    buffer_.erase(0, position_);
    position_ = 0;
    auto read = file_->Read(block_size_);
    if (!read.ok()) {
      return Status::IOError(fmt::format("{}:byte {}: cannot read on: {}", name_,
                                         bytes_read_.load(), read.status().message()));
    }
    auto block = *std::move(read);
    if (block->size() == 0) {
      eof_ = true;
      return Status::OK();
    }
    std::string_view bytes(reinterpret_cast<const char*>(block->data()),
                           static_cast<size_t>(block->size()));
    if (bytes_read_ == 0 && bytes.substr(0, 3) == "\xEF\xBB\xBF")
      bytes.remove_prefix(3);  // a UTF-8 BOM
    buffer_.append(bytes);
    bytes_read_ += block->size();
    return Status::OK();
  }

  /// Decodes every complete line of the buffer.
  void DecodeLines(std::vector<exec::DeadLetter>* rejected) {
    while (true) {
      size_t end = buffer_.find('\n', position_);
      if (end == std::string::npos) return;
      DecodeLine(std::string_view(buffer_).substr(position_, end - position_), rejected);
      position_ = end + 1;
    }
  }

  void DecodeLine(std::string_view line, std::vector<exec::DeadLetter>* rejected) {
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return;
    Status status = decoder_->Append(line);
    if (status.ok()) return;
    exec::DeadLetter letter;
    letter.reason = status.message();
    letter.origin = fmt::format("{}:line {}", name_, line_number_);
    letter.record = std::string(line);
    rejected->push_back(std::move(letter));
  }

  std::shared_ptr<arrow::io::InputStream> file_;
  std::string name_;
  int64_t bytes_total_;
  int64_t block_size_;
  ReadOptions options_;
  std::atomic<int64_t> bytes_read_{0};
  std::unique_ptr<JsonLinesDecoder> decoder_;
  /// Bytes read but not yet decoded start at position_.
  std::string buffer_;
  size_t position_ = 0;
  int64_t line_number_ = 0;
  bool eof_ = false;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenJsonLinesReader(
    std::shared_ptr<arrow::io::InputStream> input, int64_t size, std::string name,
    const ReadOptions& options) {
  auto reader = std::make_unique<JsonLinesReader>(std::move(input), std::move(name), size, options);
  SLUICE_RETURN_NOT_OK(reader->Init(options));
  return reader;
}

}  // namespace sluice::formats::internal

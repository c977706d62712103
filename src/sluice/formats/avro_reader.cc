// The Avro object container reader: the header (magic, metadata with the writer schema and
// codec, sync marker) is read first, then one block at a time, front to back, so that it reads
// from any stream (a local file, an S3 object, standard input) with memory bounded by a block
// and a batch. Values are decoded by avro_datum.cc into Arrow builders of the types
// avro_schema.cc maps the writer schema to.
//
// Damage stays local. A block whose data cannot be decoded (a bad codec stream, a value that
// breaks the framing) loses its rows from that value on; a block whose count or size is
// impossible, or that does not end with the file's sync marker, is skipped to the next sync
// marker; a file cut short loses the block it ends in. A value that decodes but cannot be used
// (text that is not UTF-8) is one dead letter.

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>

#include "sluice/formats/avro_container.h"
#include "sluice/formats/avro_datum.h"
#include "sluice/formats/avro_schema.h"
#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

using avro::ByteCursor;

constexpr int64_t kReadChunk = 1 << 16;
/// The most bytes a block's count and size take (two varints).
constexpr size_t kBlockHeadMax = 20;

/// Front-to-back buffered reading of a stream, with the position of the next unread byte.
class Input {
 public:
  explicit Input(std::shared_ptr<arrow::io::InputStream> stream) : stream_(std::move(stream)) {}

  /// Makes `count` bytes available from the position; false when the input ends first (what
  /// there is stays available).
  Result<bool> Ensure(size_t count) {
    while (buffer_.size() - start_ < count) {
      if (ended_) return false;
      if (start_ > 0) {
        buffer_.erase(0, start_);
        start_ = 0;
      }
      size_t size = buffer_.size();
      size_t want = std::max<size_t>(count - size, kReadChunk);
      buffer_.resize(size + want);
      SLUICE_ASSIGN_OR_RAISE(int64_t read, stream_->Read(static_cast<int64_t>(want),
                                                         buffer_.data() + size));
      buffer_.resize(size + static_cast<size_t>(read));
      if (read == 0) ended_ = true;
    }
    return true;
  }

  std::string_view available() const {
    return std::string_view(buffer_).substr(start_);
  }
  void Consume(size_t count) {
    start_ += count;
    position_ += static_cast<int64_t>(count);
  }
  int64_t position() const { return position_; }

 private:
  std::shared_ptr<arrow::io::InputStream> stream_;
  std::string buffer_;
  size_t start_ = 0;
  int64_t position_ = 0;
  bool ended_ = false;
};

/// Reads the blocks of one container file; `Next` is the BatchSourceReader's NextBatch.
class ContainerReader {
 public:
  ContainerReader(std::string name, std::shared_ptr<arrow::io::InputStream> stream,
                  ReadOptions options)
      : name_(std::move(name)), input_(std::move(stream)), options_(std::move(options)) {}

  /// Reads the header: the writer schema, the codec and the sync marker.
  Status Open() {
    const auto limit = static_cast<size_t>(options_.max_record_size);
    // Read no more than the header needs, so that a stream that is still being written (a pipe)
    // opens as soon as its header is there.
    size_t want = 64;
    while (true) {
      SLUICE_ASSIGN_OR_RAISE(bool whole, input_.Ensure(want));
      std::string_view head = input_.available();
      if (head.size() < avro::kContainerMagic.size() ||
          head.substr(0, avro::kContainerMagic.size()) != avro::kContainerMagic) {
        return Status::Invalid(fmt::format(
            "{}: not an Avro object container file (it does not start with \"Obj\\x01\")",
            name_));
      }
      ByteCursor cursor{head, avro::kContainerMagic.size()};
      std::string problem;
      if (ParseMetadata(&cursor, &problem)) {
        input_.Consume(cursor.position);
        break;
      }
      if (!problem.empty())
        return Status::Invalid(fmt::format("{}: not a readable Avro file: {}", name_, problem));
      // The header runs past what was read: read more, up to the record size limit.
      if (!whole || head.size() >= limit) {
        return Status::Invalid(fmt::format(
            "{}: not a readable Avro file: its header is cut short or longer than {}", name_,
            RecordLimit(options_)));
      }
      want = std::min(head.size() * 2, limit);
    }
    auto record = avro::ParseSchema(schema_json_);
    if (!record.ok())
      return Status::Invalid(fmt::format("{}: {}", name_, record.status().message()));
    record_ = *std::move(record);
    auto codec = avro::BlockCodec::Make(codec_name_);
    if (!codec.ok())
      return Status::Invalid(fmt::format("{}: {}", name_, codec.status().message()));
    codec_ = *std::move(codec);
    SLUICE_ASSIGN_OR_RAISE(builder_, arrow::MakeBuilder(record_->arrow_type));
    return Status::OK();
  }

  std::shared_ptr<arrow::Schema> schema() const { return avro::ArrowSchemaOf(*record_); }

  Result<std::shared_ptr<arrow::RecordBatch>> Next(std::vector<exec::DeadLetter>* rejected) {
    while (next_row_ >= block_rows_) {
      SLUICE_ASSIGN_OR_RAISE(bool more, ReadBlock(rejected));
      if (!more) return nullptr;
    }
    auto* record = static_cast<arrow::StructBuilder*>(builder_.get());
    int64_t end = std::min(block_rows_, next_row_ + options_.batch_rows);
    for (; next_row_ < end; ++next_row_) {
      bool usable = unusable_.empty() || unusable_.front().first != next_row_;
      avro::DecodeOutcome outcome;
      SLUICE_RETURN_NOT_OK(
          avro::DecodeValue(*record_, &cursor_, usable ? record : nullptr, &outcome).status());
      if (!usable) {
        exec::DeadLetter letter;
        letter.origin = fmt::format("{}:block {} row {}", name_, block_, next_row_ + 1);
        letter.reason = fmt::format("an Avro record cannot be read: {}", unusable_.front().second);
        rejected->push_back(std::move(letter));
        unusable_.erase(unusable_.begin());
      }
    }
    std::shared_ptr<arrow::Array> array;
    SLUICE_RETURN_NOT_OK(builder_->Finish(&array));
    return arrow::RecordBatch::FromStructArray(array);
  }

  int64_t BytesRead() const { return input_.position(); }

 private:
  /// Parses the metadata map and the sync marker after the magic. False with `problem` empty
  /// when the bytes end first, with it set when they are not a header.
  bool ParseMetadata(ByteCursor* cursor, std::string* problem) {
    while (true) {
      int64_t count = 0;
      if (!cursor->ReadLong(&count)) return false;
      if (count == 0) break;
      if (count < 0) {
        int64_t ignored = 0;
        if (count == INT64_MIN || !cursor->ReadLong(&ignored)) return false;
        count = -count;
      }
      for (int64_t i = 0; i < count; ++i) {
        std::string_view key;
        std::string_view value;
        for (std::string_view* span : {&key, &value}) {
          int64_t length = 0;
          if (!cursor->ReadLong(&length)) return false;
          if (length < 0) {
            *problem = "a negative length in its metadata";
            return false;
          }
          if (static_cast<uint64_t>(length) > cursor->remaining()) return false;
          *span = cursor->data.substr(cursor->position, static_cast<size_t>(length));
          cursor->position += static_cast<size_t>(length);
        }
        if (key == "avro.schema") schema_json_ = std::string(value);
        if (key == "avro.codec") codec_name_ = std::string(value);
      }
    }
    if (cursor->remaining() < avro::kSyncSize) return false;
    sync_ = std::string(cursor->data.substr(cursor->position, avro::kSyncSize));
    cursor->position += avro::kSyncSize;
    if (schema_json_.empty()) {
      *problem = "its header has no avro.schema";
      return false;
    }
    return true;
  }

  /// Reads the next block into `data_` and checks its values; false at the end of the input.
  Result<bool> ReadBlock(std::vector<exec::DeadLetter>* rejected) {
    while (true) {
      next_row_ = block_rows_ = 0;
      unusable_.clear();
      const int64_t start = input_.position();
      SLUICE_ASSIGN_OR_RAISE(bool any, input_.Ensure(1));
      if (!any) return false;
      ++block_;
      // The count and size, read a byte more at a time, so as not to wait on a pipe for bytes
      // that the last block does not have.
      ByteCursor head;
      int64_t count = 0;
      int64_t size = 0;
      while (true) {
        head = ByteCursor{input_.available()};
        if (head.ReadLong(&count) && head.ReadLong(&size)) break;
        if (input_.available().size() >= kBlockHeadMax) break;
        SLUICE_ASSIGN_OR_RAISE(bool more, input_.Ensure(input_.available().size() + 1));
        if (!more) break;
      }
      head = ByteCursor{input_.available()};
      if (!head.ReadLong(&count) || !head.ReadLong(&size)) {
        // Two varints take at most 20 bytes: with those there, they are damaged, not cut short.
        if (input_.available().size() >= kBlockHeadMax) {
          SLUICE_RETURN_NOT_OK(Resync(
              start, fmt::format("block {} does not start with a record count and size", block_),
              rejected));
          continue;
        }
        SLUICE_RETURN_NOT_OK(Truncated(start, -1, rejected));
        return false;
      }
      if (count < 0 || size < 0 || size > options_.max_record_size) {
        SLUICE_RETURN_NOT_OK(Resync(
            start,
            fmt::format("block {} claims {} records in {} bytes{}", block_, count, size,
                        size > options_.max_record_size
                            ? fmt::format(", more than {}", RecordLimit(options_))
                            : ""),
            rejected));
        continue;
      }
      const size_t whole = head.position + static_cast<size_t>(size) + avro::kSyncSize;
      SLUICE_ASSIGN_OR_RAISE(bool complete, input_.Ensure(whole));
      if (!complete) {
        SLUICE_RETURN_NOT_OK(Truncated(start, count, rejected));
        return false;
      }
      std::string_view block = input_.available().substr(0, whole);
      if (block.substr(whole - avro::kSyncSize) != sync_) {
        SLUICE_RETURN_NOT_OK(Resync(
            start, fmt::format("block {} does not end with the file's sync marker", block_),
            rejected));
        continue;
      }
      std::string reason;
      bool decompressed = codec_->Decompress(block.substr(head.position, static_cast<size_t>(size)),
                                             options_.max_record_size, &data_, &reason);
      input_.Consume(whole);
      if (!decompressed) {
        SLUICE_RETURN_NOT_OK(Damaged(start, whole, count, reason, rejected));
        continue;
      }
      SLUICE_RETURN_NOT_OK(Check(start, whole, count, rejected));
      if (block_rows_ > 0) return true;
    }
  }

  /// Checks the `count` values of the block in `data_`: the rows from the first broken value on
  /// are damaged input; values that are whole but unusable are noted for dead letters.
  Status Check(int64_t start, size_t bytes, int64_t count,
               std::vector<exec::DeadLetter>* rejected) {
    ByteCursor check{data_};
    int64_t good = 0;
    std::string broken;
    if (record_->min_size > 0 &&
        count > static_cast<int64_t>(data_.size()) / record_->min_size) {
      broken = fmt::format("it claims {} records, more than its {} bytes can hold", count,
                           data_.size());
    }
    for (; broken.empty() && good < count; ++good) {
      avro::DecodeOutcome outcome;
      SLUICE_ASSIGN_OR_RAISE(bool whole, avro::DecodeValue(*record_, &check, nullptr, &outcome));
      if (!whole) {
        broken = fmt::format("record {} is damaged ({})", good + 1, outcome.broken);
        break;
      }
      if (!outcome.unusable.empty()) unusable_.emplace_back(good, outcome.unusable);
    }
    if (broken.empty() && check.remaining() > 0)
      broken = fmt::format("{} bytes follow its {} records", check.remaining(), count);
    block_rows_ = good;
    cursor_ = ByteCursor{data_};
    if (broken.empty()) return Status::OK();
    return Damaged(start, bytes, count - good, broken, rejected);
  }

  /// Reports a block, or its rows from a damaged one on, as damaged input.
  Status Damaged(int64_t start, size_t bytes, int64_t rows, const std::string& reason,
                 std::vector<exec::DeadLetter>* rejected) {
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:block {} (byte {})", name_, block_, start);
    letter.reason = fmt::format("Avro block {} is unreadable: {}; {} of its records are lost",
                                block_, reason, rows);
    letter.skipped_rows = rows;
    letter.skipped_bytes = static_cast<int64_t>(bytes);
    return ReportDamage(options_, std::move(letter), rejected);
  }

  /// The input ends inside the block at `start`, which claimed `count` rows (-1: unknown).
  Status Truncated(int64_t start, int64_t count, std::vector<exec::DeadLetter>* rejected) {
    int64_t rest = static_cast<int64_t>(input_.available().size());
    input_.Consume(static_cast<size_t>(rest));
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:block {} (byte {})", name_, block_, start);
    letter.reason = fmt::format(
        "the file ends inside Avro block {} (it is cut short): the block's {} are lost", block_,
        count >= 0 ? fmt::format("{} records", count) : std::string("records"));
    letter.skipped_rows = std::max<int64_t>(count, 0);
    letter.skipped_bytes = std::max<int64_t>(rest, 1);
    return ReportDamage(options_, std::move(letter), rejected);
  }

  /// The block at `start` cannot be trusted: skips to after the next sync marker (or the end).
  Status Resync(int64_t start, const std::string& reason, std::vector<exec::DeadLetter>* rejected) {
    input_.Consume(1);
    bool found = false;
    while (true) {
      std::string_view rest = input_.available();
      size_t at = rest.find(sync_);
      if (at != std::string_view::npos) {
        input_.Consume(at + avro::kSyncSize);
        found = true;
        break;
      }
      size_t keep = std::min(rest.size(), avro::kSyncSize - 1);
      input_.Consume(rest.size() - keep);
      SLUICE_ASSIGN_OR_RAISE(bool more, input_.Ensure(keep + kReadChunk));
      if (!more && input_.available().size() == keep) {
        input_.Consume(keep);
        break;
      }
    }
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:block {} (byte {})", name_, block_, start);
    letter.reason = fmt::format(
        "{}: the Avro file lost sync; bytes {} to {} are skipped ({}), and the records in them "
        "are lost",
        reason, start, input_.position(),
        found ? fmt::format("reading goes on after the sync marker ending at byte {}",
                            input_.position())
              : std::string("no later sync marker was found"));
    letter.skipped_bytes = input_.position() - start;
    return ReportDamage(options_, std::move(letter), rejected);
  }

  std::string name_;
  Input input_;
  ReadOptions options_;
  std::string schema_json_;
  std::string codec_name_ = "null";
  std::string sync_;
  std::shared_ptr<const avro::AvroNode> record_;
  std::unique_ptr<avro::BlockCodec> codec_;
  std::unique_ptr<arrow::ArrayBuilder> builder_;
  /// The current block: its decompressed values, the rows of it that are whole, the next one.
  std::string data_;
  ByteCursor cursor_;
  int64_t block_ = 0;
  int64_t block_rows_ = 0;
  int64_t next_row_ = 0;
  /// Rows of the block (index, why) that are whole but unusable, in order.
  std::vector<std::pair<int64_t, std::string>> unusable_;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenAvroReader(std::shared_ptr<arrow::io::InputStream> input,
                                                     int64_t size, std::string name,
                                                     const ReadOptions& options) {
  auto container = std::make_shared<ContainerReader>(name, std::move(input), options);
  SLUICE_RETURN_NOT_OK(container->Open());
  auto next = [container](std::vector<exec::DeadLetter>* rejected) {
    return container->Next(rejected);
  };
  auto bytes_read = [container]() { return container->BytesRead(); };
  return BatchSourceReader::Make(std::move(name), container->schema(), size, std::move(next),
                                 std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal

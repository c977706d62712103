// The Parquet reader: streams one row group at a time through parquet::arrow with a bounded
// batch size, reading only the columns the output needs. A row group that cannot be decoded (a
// corrupt page) is damaged input: it is skipped whole, with the rows its metadata counts, and
// the row groups after it are read.

#include <arrow/io/caching.h>
#include <arrow/io/concurrency.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/properties.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>

#include "sluice/formats/readers_internal.h"
#include "sluice/formats/row_groups.h"

namespace sluice::formats::internal {
namespace {

/// A Parquet file reached over a network, whose row groups are fetched one ahead: when a row
/// group is opened, the column chunks of the next one start to be fetched (coalesced, in
/// parallel, on Arrow's I/O threads), so that its round trips overlap the decoding of this one.
/// The chunks of two row groups at most are held; reads outside them go to the file.
class RowGroupPrefetch final
    : public arrow::io::internal::RandomAccessFileConcurrencyWrapper<RowGroupPrefetch> {
 public:
  explicit RowGroupPrefetch(std::shared_ptr<arrow::io::RandomAccessFile> file)
      : file_(std::move(file)) {}

  bool closed() const override { return file_->closed(); }

  /// Starts fetching `ranges`, the column chunks of row group `group`, unless they are held
  /// already; drops the chunks of the groups before the one fetched last.
  void Prefetch(int64_t group, std::vector<arrow::io::ReadRange> ranges) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& held : groups_) {
      if (held.group == group) return;
    }
    auto cache = std::make_shared<arrow::io::internal::ReadRangeCache>(
        file_, file_->io_context(), arrow::io::CacheOptions::Defaults());
    if (!cache->Cache(ranges).ok()) return;  // read from the file as it comes
    groups_.push_back(Held{group, std::move(ranges), std::move(cache)});
    while (groups_.size() > 2) groups_.pop_front();
  }

 private:
  friend RandomAccessFileConcurrencyWrapper<RowGroupPrefetch>;

  struct Held {
    int64_t group;
    std::vector<arrow::io::ReadRange> ranges;
    std::shared_ptr<arrow::io::internal::ReadRangeCache> cache;
  };

  arrow::Status DoClose() {
    std::lock_guard<std::mutex> lock(mutex_);
    groups_.clear();
    return file_->Close();
  }
  arrow::Result<int64_t> DoTell() const { return position_; }
  arrow::Status DoSeek(int64_t position) {
    position_ = position;
    return arrow::Status::OK();
  }
  arrow::Result<int64_t> DoGetSize() { return file_->GetSize(); }
  arrow::Result<std::shared_ptr<arrow::Buffer>> DoRead(int64_t nbytes) {
    ARROW_ASSIGN_OR_RAISE(auto buffer, DoReadAt(position_, nbytes, true));
    position_ += buffer->size();
    return buffer;
  }
  arrow::Result<int64_t> DoRead(int64_t nbytes, void* out) {
    ARROW_ASSIGN_OR_RAISE(auto buffer, DoRead(nbytes));
    std::memcpy(out, buffer->data(), static_cast<size_t>(buffer->size()));
    return buffer->size();
  }
  arrow::Result<int64_t> DoReadAt(int64_t position, int64_t nbytes, bool allow_short_read,
                                  void* out) {
    ARROW_ASSIGN_OR_RAISE(auto buffer, DoReadAt(position, nbytes, allow_short_read));
    std::memcpy(out, buffer->data(), static_cast<size_t>(buffer->size()));
    return buffer->size();
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> DoReadAt(int64_t position, int64_t nbytes,
                                                         bool allow_short_read) {
    const arrow::io::ReadRange wanted{position, nbytes};
    std::shared_ptr<arrow::io::internal::ReadRangeCache> cache;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& held : groups_) {
        if (std::any_of(held.ranges.begin(), held.ranges.end(),
                        [&](const auto& range) { return range.Contains(wanted); })) {
          cache = held.cache;
          break;
        }
      }
    }
    if (cache != nullptr) {
      auto cached = cache->Read(wanted);
      if (cached.ok()) return cached;
    }
    return file_->ReadAt(position, nbytes, allow_short_read);
  }

  std::shared_ptr<arrow::io::RandomAccessFile> file_;
  int64_t position_ = 0;
  std::mutex mutex_;
  std::deque<Held> groups_;
};

/// The row groups of a Parquet file, read through parquet::arrow; with `prefetch`, each row
/// group's opening starts the fetch of the next.
class RowGroups final : public RowGroupReader {
 public:
  RowGroups(std::string name, std::shared_ptr<parquet::arrow::FileReader> reader,
            std::vector<int> columns, const ReadOptions& options,
            std::shared_ptr<RowGroupPrefetch> prefetch)
      : RowGroupReader(std::move(name), "row group", options),
        reader_(std::move(reader)),
        metadata_(reader_->parquet_reader()->metadata()),
        columns_(std::move(columns)),
        prefetch_(std::move(prefetch)) {}

 private:
  int64_t num_groups() const override { return metadata_->num_row_groups(); }
  int64_t GroupRows(int64_t group) const override {
    return metadata_->RowGroup(static_cast<int>(group))->num_rows();
  }
  int64_t GroupBytes(int64_t group) const override {
    return metadata_->RowGroup(static_cast<int>(group))->total_compressed_size();
  }
  Result<std::shared_ptr<arrow::RecordBatchReader>> OpenGroup(int64_t group) override {
    if (prefetch_ != nullptr) {
      prefetch_->Prefetch(group, ChunkRanges(group));
      if (group + 1 < num_groups()) prefetch_->Prefetch(group + 1, ChunkRanges(group + 1));
    }
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::RecordBatchReader> batches,
                           reader_->GetRecordBatchReader({static_cast<int>(group)}, columns_));
    return batches;
  }

  /// Where the column chunks of row group `group` that are read lie in the file.
  std::vector<arrow::io::ReadRange> ChunkRanges(int64_t group) const {
    auto row_group = metadata_->RowGroup(static_cast<int>(group));
    std::vector<arrow::io::ReadRange> ranges;
    for (int column : columns_) {
      auto chunk = row_group->ColumnChunk(column);
      int64_t start = chunk->data_page_offset();
      if (chunk->has_dictionary_page() && chunk->dictionary_page_offset() > 0)
        start = std::min(start, chunk->dictionary_page_offset());
      ranges.push_back({start, chunk->total_compressed_size()});
    }
    return ranges;
  }

  std::shared_ptr<parquet::arrow::FileReader> reader_;
  std::shared_ptr<parquet::FileMetaData> metadata_;
  std::vector<int> columns_;
  std::shared_ptr<RowGroupPrefetch> prefetch_;
};

/// Appends the leaf column indices of `field` (itself, when it is not nested).
void AppendLeafColumns(const parquet::arrow::SchemaField& field, std::vector<int>* columns) {
  if (field.column_index >= 0) columns->push_back(field.column_index);
  for (const auto& child : field.children) AppendLeafColumns(child, columns);
}

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenParquetReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  std::shared_ptr<RowGroupPrefetch> prefetch;
  if (options.remote) {
    prefetch = std::make_shared<RowGroupPrefetch>(std::move(file));
    file = prefetch;
  }
  // Parquet reports a corrupt footer by exception; none may cross into the engine.
  std::shared_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::ReaderProperties properties = parquet::default_reader_properties();
    // Pages written with a checksum are checked, so that a flipped bit is found, not read.
    properties.set_page_checksum_verification(true);
    parquet::arrow::FileReaderBuilder builder;
    SLUICE_RETURN_NOT_OK(builder.Open(file, properties));
    parquet::ArrowReaderProperties arrow_properties = parquet::default_arrow_reader_properties();
    // A prefetched file has the column chunks ready, and each is read as it was fetched;
    // Parquet's own pre-buffering would ask for coalesced ranges the prefetch does not hold.
    if (prefetch != nullptr) arrow_properties.set_pre_buffer(false);
    auto opened = builder.memory_pool(arrow::default_memory_pool())
                      ->properties(arrow_properties)
                      ->Build();
    if (!opened.ok())
      return Status::Invalid(
          fmt::format("{}: not a readable Parquet file: {}", name, opened.status().message()));
    reader = *std::move(opened);
  } catch (const std::exception& error) {
    return Status::Invalid(fmt::format("{}: not a readable Parquet file: {}", name, error.what()));
  }
  reader->set_batch_size(options.batch_rows);
  std::shared_ptr<arrow::Schema> file_schema;
  SLUICE_RETURN_NOT_OK(reader->GetSchema(&file_schema));
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(file_schema, options));

  // Parquet reads by leaf column: a struct, list or map field is read through all its leaves.
  std::vector<int> columns;
  for (const auto& field : schema->fields()) {
    int index = file_schema->GetFieldIndex(field->name());
    if (index >= 0) AppendLeafColumns(reader->manifest().schema_fields[index], &columns);
  }
  auto groups =
      std::make_shared<RowGroups>(name, reader, std::move(columns), options, std::move(prefetch));
  auto next = [groups](std::vector<exec::DeadLetter>* rejected) { return groups->Next(rejected); };
  auto bytes_read = [groups]() { return groups->BytesRead(); };
  return BatchSourceReader::Make(std::move(name), file_schema, size, std::move(next),
                                 std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal

#pragma once

#include <arrow/io/concurrency.h>
#include <arrow/io/interfaces.h>
#include <arrow/util/future.h>

#include <memory>

namespace sluice::connectors {

/// A file reached over a network (an object in a bucket) that a reader consumes front to back
/// in blocks (CSV, JSON lines): while the reader decodes one block, the next is already being
/// fetched (RandomAccessFile::ReadAsync, on Arrow's I/O threads), so that the round trip of
/// each ranged request overlaps the decoding instead of adding to it. One block is fetched ahead
/// at a time: memory stays bounded by two blocks. ReadAt() goes straight to the file.
class ReadaheadFile final
    : public arrow::io::internal::RandomAccessFileConcurrencyWrapper<ReadaheadFile> {
 public:
  explicit ReadaheadFile(std::shared_ptr<arrow::io::RandomAccessFile> file)
      : file_(std::move(file)) {}
  ~ReadaheadFile() override;
  bool closed() const override { return file_->closed(); }

 private:
  friend RandomAccessFileConcurrencyWrapper<ReadaheadFile>;

  arrow::Status DoClose();
  arrow::Result<int64_t> DoTell() const { return position_; }
  arrow::Result<int64_t> DoRead(int64_t nbytes, void* out);
  arrow::Result<std::shared_ptr<arrow::Buffer>> DoRead(int64_t nbytes);
  arrow::Status DoSeek(int64_t position);
  arrow::Result<int64_t> DoGetSize() { return file_->GetSize(); }
  arrow::Result<int64_t> DoReadAt(int64_t position, int64_t nbytes, bool allow_short_read,
                                  void* out);
  arrow::Result<std::shared_ptr<arrow::Buffer>> DoReadAt(int64_t position, int64_t nbytes,
                                                         bool allow_short_read);

  std::shared_ptr<arrow::io::RandomAccessFile> file_;
  int64_t position_ = 0;
  /// The block being fetched ahead: `ahead_size` bytes from `ahead_position`.
  arrow::Future<std::shared_ptr<arrow::Buffer>> ahead_;
  int64_t ahead_position_ = -1;
  int64_t ahead_size_ = 0;
};

}  // namespace sluice::connectors

#include "sluice/connectors/file/readahead_file.h"

#include <arrow/buffer.h>

#include <cstring>

namespace sluice::connectors {

ReadaheadFile::~ReadaheadFile() {
  if (ahead_.is_valid()) ahead_.Wait();
}

arrow::Status ReadaheadFile::DoClose() {
  if (ahead_.is_valid()) ahead_.Wait();  // never leave a read in flight on a closed file
  ahead_ = {};
  return file_->Close();
}

arrow::Result<std::shared_ptr<arrow::Buffer>> ReadaheadFile::DoRead(int64_t nbytes) {
  std::shared_ptr<arrow::Buffer> block;
  if (ahead_.is_valid() && ahead_position_ == position_ && ahead_size_ >= nbytes) {
    ARROW_ASSIGN_OR_RAISE(block, ahead_.result());
    if (block->size() > nbytes) block = arrow::SliceBuffer(block, 0, nbytes);
  } else {
    if (ahead_.is_valid()) ahead_.Wait();
    ARROW_ASSIGN_OR_RAISE(block, file_->ReadAt(position_, nbytes));
  }
  ahead_ = {};
  position_ += block->size();
  // A short block is the end of the file: nothing to fetch ahead.
  if (block->size() == nbytes && nbytes > 0) {
    ahead_position_ = position_;
    ahead_size_ = nbytes;
    ahead_ = file_->ReadAsync(file_->io_context(), position_, nbytes);
  }
  return block;
}

arrow::Result<int64_t> ReadaheadFile::DoRead(int64_t nbytes, void* out) {
  ARROW_ASSIGN_OR_RAISE(auto block, DoRead(nbytes));
  std::memcpy(out, block->data(), static_cast<size_t>(block->size()));
  return block->size();
}

arrow::Status ReadaheadFile::DoSeek(int64_t position) {
  position_ = position;
  return arrow::Status::OK();
}

arrow::Result<int64_t> ReadaheadFile::DoReadAt(int64_t position, int64_t nbytes,
                                               bool allow_short_read, void* out) {
  return file_->ReadAt(position, nbytes, allow_short_read, out);
}

arrow::Result<std::shared_ptr<arrow::Buffer>> ReadaheadFile::DoReadAt(int64_t position,
                                                                      int64_t nbytes,
                                                                      bool allow_short_read) {
  return file_->ReadAt(position, nbytes, allow_short_read);
}

}  // namespace sluice::connectors

#include "sluice/connectors/stdio/standard_streams.h"

#include <arrow/buffer.h>
#include <arrow/status.h>
#include <arrow/util/io_util.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sluice/common/blocking_write.h"

namespace sluice::connectors {
namespace {

/// How long a read waits for input before it checks again whether the run is stopping.
constexpr int kPollMillis = 100;

}  // namespace

arrow::Status DescriptorInputStream::Close() {
  closed_ = true;
  return arrow::Status::OK();
}

arrow::Result<int64_t> DescriptorInputStream::Read(int64_t nbytes, void* out) {
  if (closed_) return arrow::Status::Invalid("the input is closed");
  if (nbytes <= 0) return 0;
  while (true) {
    if (stopping_ && stopping_()) return 0;
    pollfd ready{descriptor_, POLLIN, 0};
    int polled = poll(&ready, 1, kPollMillis);
    if (polled < 0 && errno != EINTR) return arrow::Status::IOError("poll: ", std::strerror(errno));
    if (polled <= 0) continue;
    ssize_t read_bytes = read(descriptor_, out, static_cast<size_t>(nbytes));
    if (read_bytes < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return arrow::Status::IOError("read: ", std::strerror(errno));
    }
    position_ += read_bytes;
    return static_cast<int64_t>(read_bytes);
  }
}

arrow::Result<std::shared_ptr<arrow::Buffer>> DescriptorInputStream::Read(int64_t nbytes) {
  ARROW_ASSIGN_OR_RAISE(auto buffer, arrow::AllocateResizableBuffer(nbytes));
  ARROW_ASSIGN_OR_RAISE(int64_t read_bytes, Read(nbytes, buffer->mutable_data()));
  ARROW_RETURN_NOT_OK(buffer->Resize(read_bytes, /*shrink_to_fit=*/false));
  return std::shared_ptr<arrow::Buffer>(std::move(buffer));
}

DescriptorOutputStream::~DescriptorOutputStream() { (void)Close(); }

arrow::Status DescriptorOutputStream::Close() {
  if (closed_) return arrow::Status::OK();
  closed_ = true;
  if (owned_ && close(descriptor_) != 0 && errno != EINTR)
    return arrow::Status::IOError("close: ", std::strerror(errno));
  return arrow::Status::OK();
}

arrow::Status DescriptorOutputStream::Write(const void* data, int64_t nbytes) {
  if (closed_) return arrow::Status::Invalid("the output is closed");
  const auto* bytes = static_cast<const char*>(data);
  int64_t written = 0;
  BlockingWriteScope blocking;
  while (written < nbytes) {
    ssize_t result = write(descriptor_, bytes + written, static_cast<size_t>(nbytes - written));
    if (result < 0) {
      if (errno == EINTR) continue;
      return arrow::internal::IOErrorFromErrno(errno, "write: ", std::strerror(errno));
    }
    written += result;
  }
  position_ += nbytes;
  return arrow::Status::OK();
}

}  // namespace sluice::connectors

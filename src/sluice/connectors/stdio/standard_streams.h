#pragma once

#include <arrow/io/interfaces.h>
#include <arrow/result.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace sluice::connectors {

/// Reads a file descriptor (standard input by default) as an Arrow stream. A read returns what
/// the descriptor has, without waiting to fill the request, so that a reader keeps up with a
/// live pipe; it waits for input in short polls and reports the end of the input once
/// `stopping`, when set, returns true, so that a stop request is not held up by a silent
/// producer. Close() leaves the descriptor open. Used from one thread at a time.
class DescriptorInputStream final : public arrow::io::InputStream {
 public:
  explicit DescriptorInputStream(int descriptor = 0) : descriptor_(descriptor) {}

  /// Set before reading from the source thread; called between polls.
  void set_stopping(std::function<bool()> stopping) { stopping_ = std::move(stopping); }

  arrow::Status Close() override;
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return position_.load(); }
  arrow::Result<int64_t> Read(int64_t nbytes, void* out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> Read(int64_t nbytes) override;

 private:
  int descriptor_;
  bool closed_ = false;
  std::atomic<int64_t> position_{0};
  std::function<bool()> stopping_;
};

/// Writes to a file descriptor (standard output by default) as an Arrow stream, counting the
/// bytes written so that formats that ask for their position (Parquet, Arrow files) can write
/// to a pipe. Close() leaves the descriptor open unless the stream owns it. Used from one thread
/// at a time.
class DescriptorOutputStream final : public arrow::io::OutputStream {
 public:
  explicit DescriptorOutputStream(int descriptor = 1, bool owned = false)
      : descriptor_(descriptor), owned_(owned) {}
  ~DescriptorOutputStream() override;

  arrow::Status Close() override;
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return position_; }
  arrow::Status Write(const void* data, int64_t nbytes) override;

 private:
  int descriptor_;
  bool owned_;
  bool closed_ = false;
  int64_t position_ = 0;
};

}  // namespace sluice::connectors

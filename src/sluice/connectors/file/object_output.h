#pragma once

#include <arrow/io/interfaces.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"

namespace sluice::connectors {

/// Where a file sink's bytes go when its path is a URI of an object store (`s3://bucket/key`).
///
/// The bytes go straight to the final key as a multipart upload that stays open until Publish(),
/// which completes it: an object store makes a key visible only when its upload completes, so a
/// reader of the bucket sees the previous object or the whole new one, never a part. Abort() (a
/// failed or interrupted run) aborts the upload and the previous object stays. A run killed
/// outright leaves an incomplete upload, invisible to readers, that the store's lifecycle rules
/// (or `abort-multipart-upload`) remove. One thread at a time.
class ObjectOutput {
 public:
  /// Starts the upload of `uri`.
  static Result<std::unique_ptr<ObjectOutput>> Open(const std::string& uri);

  ~ObjectOutput();
  ObjectOutput(const ObjectOutput&) = delete;
  ObjectOutput& operator=(const ObjectOutput&) = delete;

  /// The stream to write to; the writer's Close() of it only marks it closed.
  std::shared_ptr<arrow::io::OutputStream> stream() const { return stream_; }

  /// Completes the upload, making the object visible at its key.
  Status Publish();
  /// Aborts the upload; nothing appears at the key.
  void Abort();

 private:
  ObjectOutput() = default;

  std::string uri_;
  /// The upload itself, and the stream handed to the writer (whose Close() is held back).
  std::shared_ptr<arrow::io::OutputStream> upload_;
  std::shared_ptr<arrow::io::OutputStream> stream_;
  bool finished_ = false;
};

}  // namespace sluice::connectors

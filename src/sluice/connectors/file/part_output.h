#pragma once

#include <arrow/io/type_fwd.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/connectors/common/s3_multipart.h"
#include "sluice/connectors/file/pending_parts.h"

namespace sluice::connectors {

/// Where the bytes of one part file of a rolling file sink go, and how the part becomes visible.
///
/// A local part is an OutputTarget: a hidden temporary file, renamed into place. An object's
/// part (s3://bucket/key) is a multipart upload straight to its key: the writer's bytes are
/// gathered into parts of at least kMinimumUploadPartBytes (so at most that much plus one write
/// is held in memory), each uploaded as it fills, the rest when the writer closes the stream;
/// completing the upload makes the object appear whole, aborting it leaves nothing.
///
/// Lifecycle: the writer writes to stream() and closes it; then Publish() (no checkpoints), or
/// Prepare() and Release() (the checkpoint then commits or aborts the part by its description
/// alone, CommitPendingPart() / AbortPendingPart()); Abort() or destruction discards a part
/// neither published nor released. One thread at a time.
class PartOutput {
 public:
  /// Begins the part at `path`; `client` serves the bucket of an s3:// path (null for local
  /// paths) and must outlive the part.
  static Result<std::unique_ptr<PartOutput>> Start(const std::string& path,
                                                   S3MultipartClient* client);

  virtual ~PartOutput() = default;

  virtual std::shared_ptr<arrow::io::OutputStream> stream() const = 0;
  /// Where the part appears (a path, or the object's URI).
  virtual const std::string& final_path() const = 0;
  /// What RemoveStrays() must not touch while this part is held: as PendingPart::Identity().
  virtual std::string Identity() const = 0;

  /// Makes the part visible now.
  virtual Status Publish() = 0;
  /// Makes the closed part durable without making it visible, and describes it.
  virtual Result<PendingPart> Prepare() = 0;
  /// Hands the prepared part over to the checkpoint: Abort() no longer discards it.
  virtual void Release() = 0;
  /// Discards the part: its temporary file is removed, its upload aborted.
  virtual void Abort() = 0;
};

/// Makes a prepared part visible: renames it into place, or completes its upload (idempotent,
/// as recovery repeats commits). `client` serves the bucket of an object's part.
Status CommitPendingPart(const PendingPart& part, S3MultipartClient* client);

/// Discards a prepared part: removes its temporary file, or aborts its upload.
Status AbortPendingPart(const PendingPart& part, S3MultipartClient* client);

}  // namespace sluice::connectors

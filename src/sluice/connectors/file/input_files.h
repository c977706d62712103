#pragma once

#include <arrow/filesystem/filesystem.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/file/file_position.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"

namespace sluice::connectors {

/// The files a file source reads: the matches of a local path or glob, or of a URI
/// (`s3://bucket/prefix/*.parquet`, `file:///...`), listed once at start. Local files are read
/// and examined as before (stat and open by path); the objects of a URI are read through their
/// filesystem as random-access files, so Parquet fetches only the ranges of the row groups and
/// columns it reads and text formats fetch one block at a time, and their size and modification
/// time come from the listing. Const methods may be called from any thread.
class InputFiles {
 public:
  /// The files matching `pattern`, sorted; empty when nothing matches. An error when a URI's
  /// listing fails (the server is down, the bucket is missing, the credentials are refused).
  static Result<InputFiles> Expand(const std::string& pattern);

  /// Their paths or URIs, as they appear in dead-letter origins and checkpoints.
  const std::vector<std::string>& paths() const { return paths_; }
  bool empty() const { return paths_.empty(); }
  size_t size() const { return paths_.size(); }
  /// Whether the files are reached through a URI's filesystem.
  bool remote() const { return filesystem_ != nullptr; }

  /// The size of file `index` in bytes; 0 when it cannot be examined.
  int64_t Size(size_t index) const;
  /// What identifies file `index`'s content (see FileStamp).
  FileStamp Stamp(size_t index) const;
  /// When file `index` was last modified, on the wall clock; nullopt when it cannot be
  /// examined. (FileStamp's time is on the file system's own clock, good only for comparing.)
  std::optional<std::chrono::system_clock::time_point> Modified(size_t index) const;
  /// Adds file `index` of `other`, a later listing of the same pattern, at the end.
  void Append(const InputFiles& other, size_t index);

  /// Opens file `index` for reading. A file ending in .gz or .zst (.zstd) is decompressed as it
  /// is read, for CSV and JSON lines (a stream: its bytes_total() is unknown); Parquet and Arrow
  /// compress inside the file and are refused so.
  Result<std::unique_ptr<formats::RecordReader>> Open(size_t index, formats::Format format,
                                                      const formats::ReadOptions& options) const;

 private:
  std::vector<std::string> paths_;
  /// Set for a URI; then `infos_` hold what the listing said of each file.
  std::shared_ptr<arrow::fs::FileSystem> filesystem_;
  std::vector<arrow::fs::FileInfo> infos_;
};

/// `path` without a compression suffix (.gz, .zst, .zstd), to tell its format by the extension
/// before it: data.csv.gz is CSV.
std::string WithoutCompressionSuffix(const std::string& path);

}  // namespace sluice::connectors

#pragma once

#include <arrow/filesystem/type_fwd.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice {

/// How `s3://` URIs reach their server: a pipeline's `storage: {s3: {...}}` block. An empty
/// field falls back to the standard AWS environment (AWS_ENDPOINT_URL, AWS_REGION or
/// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then AWS's own chain:
/// profile files, instance roles).
struct S3Settings {
  /// "http://127.0.0.1:9000" or "https://minio.example:9000"; empty for AWS itself.
  std::string endpoint;
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
  /// Whether buckets are addressed as endpoint/bucket (MinIO and most local servers) rather
  /// than bucket.endpoint; unset: path style with an endpoint, virtual hosts without.
  std::optional<bool> path_style;

  bool operator==(const S3Settings& other) const = default;
};

/// Sets the S3 settings of this process (one pipeline per process); filesystems made before keep
/// the settings they were made with.
void SetS3Settings(const S3Settings& settings);

/// The settings every S3 client of this process uses: those set by SetS3Settings() with the
/// AWS environment filling what they leave out, and the region defaulting to us-east-1. The
/// access key and secret stay empty when neither gives them (AWS's own chain then applies,
/// where the client supports it).
S3Settings EffectiveS3Settings();

/// Whether `path` is a URI ("scheme://..."), which names a filesystem, rather than a local path.
bool IsUri(std::string_view path);

/// A place a path or URI names: its filesystem and the path within it.
struct FileLocation {
  std::shared_ptr<arrow::fs::FileSystem> filesystem;
  /// The path within `filesystem` ("bucket/key" for S3, absolute for local files).
  std::string path;
  /// The URI's scheme ("s3", "file"), or empty for a plain local path.
  std::string scheme;
};

/// The filesystem and path of `uri`: `s3://bucket/key` (with the S3 settings above),
/// `file:///abs/path`, or any other URI Arrow knows. A plain local path is not a URI: callers
/// keep reading those with their own local code. Errors name the URI, never a secret.
Result<FileLocation> ResolveUri(const std::string& uri);

/// The files a URI names, or matches as a glob (`*`, `?` and `[...]` within a path segment):
/// lists the prefix before the first wildcard (paged, without reading any object) and keeps the
/// regular files that match, sorted by path. A URI without wildcards names one file, which must
/// exist. `infos` receive the files (paths within the filesystem); the result is their URIs.
Result<std::vector<std::string>> ExpandUriPattern(const std::string& pattern,
                                                  FileLocation* location,
                                                  std::vector<arrow::fs::FileInfo>* infos);

/// Shuts down the S3 client if it was started (Arrow requires it before exit); called at exit.
void FinalizeFileSystems();

}  // namespace sluice

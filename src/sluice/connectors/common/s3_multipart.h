#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/file_system.h"
#include "sluice/common/status.h"
#include "sluice/connectors/common/http_client.h"

namespace sluice::connectors {

/// A part of a multipart upload the store has taken: its number (from 1) and the ETag it
/// answered, which completing the upload names.
struct UploadedPart {
  int number = 0;
  std::string etag;
};

/// An upload that was begun and neither completed nor aborted.
struct InProgressUpload {
  std::string key;
  std::string upload_id;
};

/// The smallest part S3 takes, but for the last part of an upload.
constexpr int64_t kMinimumUploadPartBytes = int64_t{5} << 20;

/// S3's multipart upload API for one bucket, spoken directly (libcurl signs each request with
/// AWS Signature Version 4, libexpat reads the XML answers), because a two-phase commit needs
/// what Arrow's S3 filesystem keeps to itself: the upload id and the parts' ETags, so that an
/// upload begun by one process can be completed or aborted by another from a description.
///
/// Endpoint, region, credentials and addressing are EffectiveS3Settings(), as for every other S3
/// access of the process. Errors name the method and the object (s3://bucket/key) and quote the
/// store's code and message, never a secret. Transport failures and answers 500, 503 and 429 are
/// retried a few times with a growing pause. Thread-safe: requests are serialised.
class S3MultipartClient {
 public:
  /// A client for `bucket` with the process's S3 settings; an error when they give no access
  /// key (AWS's profile files and instance roles are not read here).
  static Result<std::unique_ptr<S3MultipartClient>> Make(const std::string& bucket);

  const std::string& bucket() const { return bucket_; }

  /// Begins an upload to `key`; its id.
  Result<std::string> Create(const std::string& key);
  /// Uploads part `number` (1 to 10000) of an upload; every part but the last must hold at least
  /// kMinimumUploadPartBytes.
  Result<UploadedPart> UploadPart(const std::string& key, const std::string& upload_id,
                                  int number, std::string_view bytes);
  /// Completes an upload: the object appears at `key`, made of `parts`. Idempotent for a
  /// recovery that repeats a commit: when the store no longer knows the upload and the object
  /// at `key` has `expected_size` bytes (and, when the parts' ETags are MD5s, the ETag S3 gives
  /// an object made of them), the upload was completed before and this succeeds. After any
  /// completion the object is checked to be there with that size.
  Status Complete(const std::string& key, const std::string& upload_id,
                  const std::vector<UploadedPart>& parts, int64_t expected_size);
  /// Aborts an upload, discarding its parts; an upload the store no longer knows counts as
  /// aborted. `retry` false tries once, for a best-effort clean-up after a failure (the next run
  /// aborts what is left).
  Status Abort(const std::string& key, const std::string& upload_id, bool retry = true);
  /// The uploads in progress whose key begins with `prefix`, every page of them.
  Result<std::vector<InProgressUpload>> ListUploads(const std::string& prefix);

 private:
  S3MultipartClient(std::string bucket, S3Settings settings, std::unique_ptr<HttpClient> http);

  /// The URL of `key` (the bucket itself when empty) with `query` (already encoded, its
  /// parameters in sorted order, as signing wants them).
  std::string Url(const std::string& key, const std::string& query) const;
  /// Sends a signed request, retrying transport failures and answers worth retrying.
  Result<HttpResponse> Send(std::string_view method, const std::string& key,
                            const std::string& query, std::string_view body,
                            std::vector<std::pair<std::string, std::string>> headers = {},
                            int attempts = kAttempts);

  /// Attempts of a request before its failure is the caller's.
  static constexpr int kAttempts = 4;
  /// Succeeds when the object at `key` has `expected_size` bytes and, when both are known,
  /// `expected_etag`; else an error that says `why` the object was looked at.
  Status CheckCompleted(const std::string& key, int64_t expected_size,
                        const std::string& expected_etag, std::string_view why);
  /// The size (-1 when there is none) and ETag of the object at `key`.
  Result<std::pair<int64_t, std::string>> ObjectSizeAndETag(const std::string& key);
  /// An error for an answer that is not a success: "METHOD s3://bucket/key: Code: message".
  Status Failed(std::string_view method, const std::string& key,
                const HttpResponse& response) const;

  const std::string bucket_;
  const S3Settings settings_;
  std::mutex mutex_;
  std::unique_ptr<HttpClient> http_;
};

/// For an "s3://bucket/key" URI, the bucket and the key; an error for any other text.
Result<std::pair<std::string, std::string>> SplitS3Uri(std::string_view uri);

}  // namespace sluice::connectors

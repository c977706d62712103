#include "sluice/connectors/file/part_output.h"

#include <arrow/io/interfaces.h>
#include <fmt/format.h>

#include <filesystem>

#include "sluice/common/logging.h"
#include "sluice/connectors/file/output_target.h"

namespace sluice::connectors {
namespace {

/// S3 takes at most this many parts in one upload.
constexpr int kMaximumUploadParts = 10000;

/// A local part: a hidden temporary file beside its final path.
class LocalPart final : public PartOutput {
 public:
  explicit LocalPart(std::unique_ptr<OutputTarget> target) : target_(std::move(target)) {}

  std::shared_ptr<arrow::io::OutputStream> stream() const override { return target_->stream(); }
  const std::string& final_path() const override { return target_->final_path(); }
  std::string Identity() const override {
    return PendingPart{target_->temporary(), target_->final_path()}.Identity();
  }
  Status Publish() override { return target_->Publish(); }
  Result<PendingPart> Prepare() override {
    SLUICE_RETURN_NOT_OK(DescribeWriteError(target_->Sync(), "sync", target_->final_path()));
    return PendingPart{target_->temporary(), target_->final_path()};
  }
  void Release() override { target_->Release(); }
  void Abort() override { target_->Abort(); }

 private:
  std::unique_ptr<OutputTarget> target_;
};

/// Gathers a writer's bytes into parts of at least kMinimumUploadPartBytes and uploads each as
/// it fills; Close() uploads the rest (and one empty part for an empty object, as an upload
/// needs one).
class UploadStream final : public arrow::io::OutputStream {
 public:
  UploadStream(S3MultipartClient* client, std::string key, std::string upload_id)
      : client_(client), key_(std::move(key)), upload_id_(std::move(upload_id)) {}

  arrow::Status Close() override {
    if (closed_) return arrow::Status::OK();
    closed_ = true;
    if (buffer_.empty() && !uploaded_.empty()) return arrow::Status::OK();
    return UploadBuffer();
  }
  arrow::Status Abort() override {
    closed_ = true;
    buffer_.clear();
    return arrow::Status::OK();
  }
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return size_; }
  arrow::Status Write(const void* data, int64_t nbytes) override {
    if (closed_) return arrow::Status::IOError("write to a closed upload");
    buffer_.append(static_cast<const char*>(data), static_cast<size_t>(nbytes));
    size_ += nbytes;
    if (static_cast<int64_t>(buffer_.size()) < kMinimumUploadPartBytes) {
      return arrow::Status::OK();
    }
    return UploadBuffer();
  }

  const std::vector<UploadedPart>& uploaded() const { return uploaded_; }
  int64_t size() const { return size_; }

 private:
  arrow::Status UploadBuffer() {
    if (uploaded_.size() == kMaximumUploadParts) {
      return arrow::Status::IOError(fmt::format(
          "s3://{}/{}: more than {} parts of 5 MiB; roll parts at a smaller size",
          client_->bucket(), key_, kMaximumUploadParts));
    }
    SLUICE_ASSIGN_OR_RAISE(
        UploadedPart part,
        client_->UploadPart(key_, upload_id_, static_cast<int>(uploaded_.size()) + 1, buffer_));
    uploaded_.push_back(std::move(part));
    buffer_.clear();
    return arrow::Status::OK();
  }

  S3MultipartClient* const client_;
  const std::string key_;
  const std::string upload_id_;
  std::string buffer_;
  std::vector<UploadedPart> uploaded_;
  int64_t size_ = 0;
  bool closed_ = false;
};

/// An object's part: a multipart upload to its final key.
class ObjectPart final : public PartOutput {
 public:
  ObjectPart(S3MultipartClient* client, std::string uri, std::string key, std::string upload_id)
      : client_(client), uri_(std::move(uri)), key_(std::move(key)),
        upload_id_(std::move(upload_id)),
        stream_(std::make_shared<UploadStream>(client, key_, upload_id_)) {}
  ~ObjectPart() override { Abort(); }

  std::shared_ptr<arrow::io::OutputStream> stream() const override { return stream_; }
  const std::string& final_path() const override { return uri_; }
  std::string Identity() const override { return Describe().Identity(); }

  Status Publish() override {
    SLUICE_ASSIGN_OR_RAISE(PendingPart part, Prepare());
    SLUICE_RETURN_NOT_OK(CommitPendingPart(part, client_));
    done_ = true;
    return Status::OK();
  }
  Result<PendingPart> Prepare() override {
    if (!stream_->closed()) {
      return Status::Invalid("part '", uri_, "' prepared before its writer closed it");
    }
    return Describe();
  }
  void Release() override { done_ = true; }
  void Abort() override {
    if (done_) return;
    done_ = true;
    (void)stream_->Abort();
    Status aborted = client_->Abort(key_, upload_id_, /*retry=*/false);
    if (!aborted.ok()) {
      ComponentLogger("file")->warn(
          "cannot abort the upload of '{}' ({}); the next run of this sink aborts it", uri_,
          aborted.message());
    }
  }

 private:
  PendingPart Describe() const {
    PendingPart part;
    part.final_path = uri_;
    part.upload_id = upload_id_;
    part.uploaded = stream_->uploaded();
    part.size = stream_->size();
    return part;
  }

  S3MultipartClient* const client_;
  const std::string uri_;
  const std::string key_;
  const std::string upload_id_;
  const std::shared_ptr<UploadStream> stream_;
  /// Completed, released to a checkpoint, or aborted.
  bool done_ = false;
};

/// The key of an object part's URI, checked to be in the client's bucket.
Result<std::string> KeyIn(const std::string& uri, const S3MultipartClient* client) {
  SLUICE_ASSIGN_OR_RAISE(auto bucket_and_key, SplitS3Uri(uri));
  if (client == nullptr || bucket_and_key.first != client->bucket()) {
    return Status::Invalid(
        fmt::format("part '{}' is not in the bucket this sink writes to", uri));
  }
  return std::move(bucket_and_key.second);
}

}  // namespace

Result<std::unique_ptr<PartOutput>> PartOutput::Start(const std::string& path,
                                                      S3MultipartClient* client) {
  if (client != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(std::string key, KeyIn(path, client));
    SLUICE_ASSIGN_OR_RAISE(std::string upload_id, client->Create(key));
    return std::make_unique<ObjectPart>(client, path, std::move(key), std::move(upload_id));
  }
  SLUICE_ASSIGN_OR_RAISE(auto target, OutputTarget::Open(path, /*remove_stray_files=*/false));
  if (target->direct()) {
    return Status::IOError(fmt::format(
        "'{}' is not a regular file: roll writes part files and renames them into place", path));
  }
  return std::make_unique<LocalPart>(std::move(target));
}

Status CommitPendingPart(const PendingPart& part, S3MultipartClient* client) {
  if (!part.is_object()) return RenameIntoPlace(part.temporary, part.final_path);
  SLUICE_ASSIGN_OR_RAISE(std::string key, KeyIn(part.final_path, client));
  return client->Complete(key, part.upload_id, part.uploaded, part.size);
}

Status AbortPendingPart(const PendingPart& part, S3MultipartClient* client) {
  if (part.is_object()) {
    SLUICE_ASSIGN_OR_RAISE(std::string key, KeyIn(part.final_path, client));
    return client->Abort(key, part.upload_id);
  }
  std::error_code error;
  std::filesystem::remove(part.temporary, error);
  if (error) {
    return Status::IOError(
        fmt::format("cannot remove '{}': {}", part.temporary, error.message()));
  }
  return Status::OK();
}

}  // namespace sluice::connectors

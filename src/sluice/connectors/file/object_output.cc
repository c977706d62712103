#include "sluice/connectors/file/object_output.h"

#include <arrow/buffer.h>
#include <arrow/filesystem/filesystem.h>
#include <fmt/format.h>

#include "sluice/common/file_system.h"

namespace sluice::connectors {
namespace {

/// Passes writes through to an upload, but holds back its Close(), which would complete the
/// upload before the run has decided to publish.
class HeldOpenStream final : public arrow::io::OutputStream {
 public:
  explicit HeldOpenStream(std::shared_ptr<arrow::io::OutputStream> upload)
      : upload_(std::move(upload)) {}

  arrow::Status Close() override {
    if (closed_) return arrow::Status::OK();
    closed_ = true;
    return upload_->Flush();
  }
  arrow::Status Abort() override {
    closed_ = true;
    return upload_->Abort();
  }
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return upload_->Tell(); }
  arrow::Status Write(const void* data, int64_t nbytes) override {
    if (closed_) return arrow::Status::IOError("write to a closed stream");
    return upload_->Write(data, nbytes);
  }
  arrow::Status Write(const std::shared_ptr<arrow::Buffer>& data) override {
    if (closed_) return arrow::Status::IOError("write to a closed stream");
    return upload_->Write(data);
  }
  arrow::Status Flush() override { return upload_->Flush(); }

 private:
  std::shared_ptr<arrow::io::OutputStream> upload_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<ObjectOutput>> ObjectOutput::Open(const std::string& uri) {
  SLUICE_ASSIGN_OR_RAISE(FileLocation location, ResolveUri(uri));
  if (location.path.empty() || location.path.back() == '/' ||
      location.path.find('/') == std::string::npos) {
    return Status::Invalid(fmt::format("'{}' names no object (s3://bucket/key)", uri));
  }
  auto upload = location.filesystem->OpenOutputStream(location.path);
  if (!upload.ok()) {
    return Status::IOError(
        fmt::format("cannot start writing '{}': {}", uri, upload.status().message()));
  }
  std::unique_ptr<ObjectOutput> output(new ObjectOutput());
  output->uri_ = uri;
  output->upload_ = *std::move(upload);
  output->stream_ = std::make_shared<HeldOpenStream>(output->upload_);
  return output;
}

ObjectOutput::~ObjectOutput() { Abort(); }

Status ObjectOutput::Publish() {
  if (finished_) return Status::OK();
  finished_ = true;
  Status closed = upload_->Close();
  if (!closed.ok()) {
    (void)upload_->Abort();
    return Status::IOError(fmt::format("cannot complete '{}': {}", uri_, closed.message()));
  }
  return Status::OK();
}

void ObjectOutput::Abort() {
  if (finished_ || upload_ == nullptr) return;
  finished_ = true;
  (void)upload_->Abort();
}

}  // namespace sluice::connectors

#include "sluice/state/storage.h"

#include <arrow/filesystem/localfs.h>
#include <arrow/io/interfaces.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sluice/common/file_system.h"
#include "sluice/common/io_error.h"

namespace sluice::state {
namespace {

std::string Join(const std::string& base, const std::string& path) {
  if (path.empty()) return base;
  if (base.empty()) return path;
  return base.back() == '/' ? base + path : base + "/" + path;
}

/// fsync on a path: opens it read-only, which Linux allows for files and folders alike.
Status SyncPath(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    return Status::IOError("cannot open '", path, "' to sync it: ", std::strerror(errno));
  }
  int result = ::fsync(descriptor);
  int error = errno;
  ::close(descriptor);
  if (result != 0) return Status::IOError("cannot sync '", path, "': ", std::strerror(error));
  return Status::OK();
}

/// Storage over an arrow::fs::FileSystem; fsync for the local filesystem, where Arrow's output
/// streams do not sync.
class FileSystemStorage final : public Storage {
 public:
  FileSystemStorage(std::shared_ptr<arrow::fs::FileSystem> filesystem, std::string base,
                    std::string display)
      : filesystem_(std::move(filesystem)),
        base_(std::move(base)),
        display_(std::move(display)),
        local_(filesystem_->type_name() == "local") {}

  std::string root() const override { return display_; }

  Status CreateDir(const std::string& path) override {
    return filesystem_->CreateDir(Join(base_, path), /*recursive=*/true);
  }

  Status WriteFile(const std::string& path, const std::shared_ptr<arrow::Buffer>& bytes) override {
    const std::string where = Join(display_, path);
    auto stream = filesystem_->OpenOutputStream(Join(base_, path));
    if (!stream.ok()) return DescribeWriteError(stream.status(), "create", where);
    SLUICE_RETURN_NOT_OK(DescribeWriteError((*stream)->Write(bytes), "write", where));
    return DescribeWriteError((*stream)->Close(), "write", where);
  }

  Status SyncFile(const std::string& path) override {
    return local_ ? SyncPath(Join(base_, path)) : Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    return filesystem_->Move(Join(base_, from), Join(base_, to));
  }

  Status SyncDir(const std::string& path) override {
    return local_ ? SyncPath(Join(base_, path)) : Status::OK();
  }

  Result<std::shared_ptr<arrow::Buffer>> ReadFile(const std::string& path) override {
    auto file = filesystem_->OpenInputFile(Join(base_, path));
    if (!file.ok()) return Status::IOError("cannot read '", Join(display_, path), "': missing");
    SLUICE_ASSIGN_OR_RAISE(int64_t size, (*file)->GetSize());
    return (*file)->ReadAt(0, size);
  }

  Result<std::vector<std::string>> List(const std::string& path) override {
    arrow::fs::FileSelector selector;
    selector.base_dir = Join(base_, path);
    selector.allow_not_found = true;
    SLUICE_ASSIGN_OR_RAISE(auto infos, filesystem_->GetFileInfo(selector));
    std::vector<std::string> names;
    for (const auto& info : infos) names.push_back(info.base_name());
    return names;
  }

  Result<bool> Exists(const std::string& path) override {
    SLUICE_ASSIGN_OR_RAISE(auto info, filesystem_->GetFileInfo(Join(base_, path)));
    return info.type() != arrow::fs::FileType::NotFound;
  }

  Status DeleteDir(const std::string& path) override {
    SLUICE_ASSIGN_OR_RAISE(bool exists, Exists(path));
    if (!exists) return Status::OK();
    return filesystem_->DeleteDir(Join(base_, path));
  }

  bool atomic_rename() const override { return local_; }

  Status Lock() override {
    if (!local_ || lock_descriptor_ >= 0) return Status::OK();
    SLUICE_RETURN_NOT_OK(CreateDir(""));
    const std::string path = Join(base_, "LOCK");
    int descriptor = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (descriptor < 0) {
      return Status::IOError("cannot open '", Join(display_, "LOCK"), "': ", std::strerror(errno));
    }
    if (::flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {0};
      ssize_t read = ::pread(descriptor, holder, sizeof(holder) - 1, 0);
      ::close(descriptor);
      return Status::IOError("in use by another run of the pipeline",
                             read > 0 ? std::string(" (process ") + holder + ")" : std::string(),
                             "; two runs would overwrite each other's checkpoints");
    }
    std::string pid = std::to_string(::getpid());
    if (::ftruncate(descriptor, 0) == 0) (void)!::pwrite(descriptor, pid.data(), pid.size(), 0);
    lock_descriptor_ = descriptor;
    return Status::OK();
  }

  ~FileSystemStorage() override {
    if (lock_descriptor_ >= 0) ::close(lock_descriptor_);
  }

 private:
  std::shared_ptr<arrow::fs::FileSystem> filesystem_;
  std::string base_;
  std::string display_;
  bool local_;
  /// The descriptor holding the flock of Lock(), or -1.
  int lock_descriptor_ = -1;
};

}  // namespace

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& location) {
  std::string base;
  if (location.rfind("s3://", 0) == 0) {
    // Through the one S3 client of the process, with the pipeline's storage settings.
    auto resolved = ResolveUri(location);
    if (!resolved.ok()) {
      return Status::Invalid("cannot use '", location, "' for checkpoints: ",
                             resolved.status().message());
    }
    base = resolved->path;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    return std::make_unique<FileSystemStorage>(std::move(resolved->filesystem), std::move(base),
                                               location);
  }
  auto filesystem = arrow::fs::FileSystemFromUriOrPath(location, &base);
  if (!filesystem.ok()) {
    // A relative local path is not a URI: resolve it against the working directory.
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) return filesystem.status();
    filesystem = arrow::fs::FileSystemFromUriOrPath(Join(cwd, location), &base);
    if (!filesystem.ok()) {
      return Status::Invalid("cannot use '", location, "' for checkpoints: ",
                             filesystem.status().message());
    }
  }
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return std::make_unique<FileSystemStorage>(std::move(*filesystem), std::move(base), location);
}

Status WriteDurably(Storage& storage, const std::string& path,
                    const std::shared_ptr<arrow::Buffer>& bytes) {
  if (!storage.atomic_rename()) return storage.WriteFile(path, bytes);
  const std::string temporary = path + ".tmp";
  SLUICE_RETURN_NOT_OK(storage.WriteFile(temporary, bytes));
  SLUICE_RETURN_NOT_OK(storage.SyncFile(temporary));
  SLUICE_RETURN_NOT_OK(storage.Rename(temporary, path));
  auto slash = path.rfind('/');
  return storage.SyncDir(slash == std::string::npos ? std::string() : path.substr(0, slash));
}

}  // namespace sluice::state

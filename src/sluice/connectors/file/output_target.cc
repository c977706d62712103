#include "sluice/connectors/file/output_target.h"

#include <arrow/io/file.h>
#include <arrow/util/io_util.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include "sluice/common/logging.h"
#include "sluice/connectors/stdio/standard_streams.h"

namespace sluice::connectors {
namespace {

namespace fs = std::filesystem;

/// Symlinks followed before a path is taken to loop, as the kernel's ELOOP limit.
constexpr int kMaxSymlinks = 40;

constexpr std::string_view kTemporarySuffix = ".tmp";
constexpr std::string_view kTemporaryMarker = ".sluice-";

/// The temporary files this process holds, for RemoveTemporaryFiles().
struct TemporaryFileSet {
  std::mutex mutex;
  std::set<std::string> paths;
};

TemporaryFileSet& TemporaryFiles() {
  static TemporaryFileSet* files = new TemporaryFileSet();  // never destroyed: used at exit
  return *files;
}

void Register(const std::string& path) {
  std::lock_guard lock(TemporaryFiles().mutex);
  TemporaryFiles().paths.insert(path);
}

void Unregister(const std::string& path) {
  std::lock_guard lock(TemporaryFiles().mutex);
  TemporaryFiles().paths.erase(path);
}

/// The process that wrote a temporary file of `name`, read off its file name.
std::optional<pid_t> TemporaryOwner(const std::string& file, const std::string& name) {
  auto parsed = ParseTemporaryName(file);
  if (!parsed || parsed->first != name) return std::nullopt;
  return parsed->second;
}

/// Removes the temporary files beside `target` whose process is gone (a run killed before it
/// could clean up). A file of a live process is another run's: it is left alone.
void RemoveStrayTemporaryFiles(const fs::path& target) {
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string name = target.filename().string();
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string file = it->path().filename().string();
    std::optional<pid_t> owner = TemporaryOwner(file, name);
    if (!owner || !WriterGone(*owner)) continue;
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) {
      ComponentLogger("file")->info("removed '{}', left by a run that was killed",
                                    it->path().string());
    }
  }
}

/// The descriptor a path names when it is one of the process's own: /dev/stdout, /dev/stderr,
/// /dev/fd/N, /proc/self/fd/N. Opening those anew would start at offset 0 of a redirected file.
std::optional<int> OwnDescriptor(const std::string& path) {
  if (path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (path.rfind(prefix, 0) != 0) continue;
    std::string_view digits(path.data() + prefix.size(), path.size() - prefix.size());
    int descriptor = -1;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), descriptor);
    if (error == std::errc() && end == digits.data() + digits.size()) return descriptor;
  }
  return std::nullopt;
}

Status ErrnoError(std::string_view what, const std::string& path, int error) {
  return Status::IOError(fmt::format("cannot {} '{}': {}", what, path, std::strerror(error)));
}

/// Follows `path`'s symlinks to the file they end at (which need not exist).
Result<fs::path> FollowSymlinks(fs::path path) {
  for (int followed = 0;; ++followed) {
    std::error_code error;
    fs::file_status status = fs::symlink_status(path, error);
    if (error && error != std::errc::no_such_file_or_directory)
      return Status::IOError(fmt::format("cannot read '{}': {}", path.string(), error.message()));
    if (!fs::is_symlink(status)) return path;
    if (followed == kMaxSymlinks)
      return Status::IOError(fmt::format("too many levels of symlinks at '{}'", path.string()));
    fs::path link = fs::read_symlink(path, error);
    if (error)
      return Status::IOError(fmt::format("cannot read '{}': {}", path.string(), error.message()));
    path = link.is_absolute() ? link : path.parent_path() / link;
  }
}

Status SyncPath(const std::string& path, int flags) {
  int descriptor = open(path.c_str(), flags | O_CLOEXEC);
  if (descriptor < 0) return ErrnoError("open", path, errno);
  int synced = fsync(descriptor);
  int error = errno;
  close(descriptor);
  // Some file systems cannot sync a directory; the rename is done either way.
  if (synced != 0 && !(error == EINVAL || error == EROFS)) return ErrnoError("sync", path, error);
  return Status::OK();
}

}  // namespace

Status SyncDirectoryOf(const std::string& file) {
  const fs::path path(file);
  return SyncPath(path.has_parent_path() ? path.parent_path().string() : std::string("."),
                  O_RDONLY | O_DIRECTORY);
}

Result<std::unique_ptr<OutputTarget>> OutputTarget::Open(const std::string& path,
                                                         bool remove_stray_files) {
  std::unique_ptr<OutputTarget> target(new OutputTarget());
  target->path_ = path;
  if (std::optional<int> descriptor = OwnDescriptor(path)) {
    target->stream_ = std::make_shared<DescriptorOutputStream>(*descriptor);
    return target;
  }
  SLUICE_ASSIGN_OR_RAISE(fs::path final_path, FollowSymlinks(path));
  if (std::optional<int> descriptor = OwnDescriptor(final_path.string())) {
    target->stream_ = std::make_shared<DescriptorOutputStream>(*descriptor);
    return target;
  }
  struct stat info {};
  if (stat(final_path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return Status::IOError(fmt::format("'{}' is a directory, not a file", path));
    }
    if (!S_ISREG(info.st_mode)) {
      // A device, FIFO or socket: written in place, never replaced.
      int descriptor = open(final_path.c_str(), O_WRONLY | O_CLOEXEC);
      if (descriptor < 0) return ErrnoError("open", path, errno);
      target->stream_ = std::make_shared<DescriptorOutputStream>(descriptor, /*owned=*/true);
      return target;
    }
  } else if (errno != ENOENT) {
    return ErrnoError("read", path, errno);
  }

  target->final_ = final_path.string();
  if (final_path.has_parent_path()) {
    std::error_code error;
    fs::create_directories(final_path.parent_path(), error);
    if (error) {
      return Status::IOError(fmt::format("cannot create directory '{}': {}",
                                         final_path.parent_path().string(), error.message()));
    }
  }
  if (remove_stray_files) RemoveStrayTemporaryFiles(final_path);
  target->temporary_ =
      (final_path.parent_path() / TemporaryName(final_path.filename().string())).string();
  Register(target->temporary_);
  auto stream = arrow::io::FileOutputStream::Open(target->temporary_);
  if (!stream.ok()) {
    target->Abort();
    return DescribeWriteError(stream.status(), "create", path);
  }
  target->stream_ = *std::move(stream);
  return target;
}

OutputTarget::~OutputTarget() { Abort(); }

Status OutputTarget::Publish() {
  if (direct()) return Status::OK();
  SLUICE_RETURN_NOT_OK(Sync());
  if (std::rename(temporary_.c_str(), final_.c_str()) != 0) {
    return Status::IOError(
        fmt::format("cannot rename '{}' to '{}': {}", temporary_, final_, std::strerror(errno)));
  }
  Unregister(temporary_);
  temporary_.clear();
  return SyncDirectoryOf(final_);
}

Status OutputTarget::Sync() {
  if (temporary_.empty()) return Status::OK();
  if (stream_ != nullptr && !stream_->closed()) {
    return Status::Invalid("output of '", path_, "' published before its writer closed it");
  }
  return SyncPath(temporary_, O_RDONLY);
}

void OutputTarget::Release() {
  if (temporary_.empty()) return;
  Unregister(temporary_);
  temporary_.clear();
}

void OutputTarget::Abort() {
  if (stream_ != nullptr && !stream_->closed()) (void)stream_->Close();
  if (temporary_.empty()) return;
  std::error_code ignored;
  fs::remove(temporary_, ignored);
  Unregister(temporary_);
  temporary_.clear();
}

Status RenameIntoPlace(const std::string& temporary, const std::string& final_path) {
  if (std::rename(temporary.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    std::error_code ignored;
    if (error != ENOENT || !fs::exists(final_path, ignored)) {
      return Status::IOError(fmt::format("cannot rename '{}' to '{}': {}", temporary, final_path,
                                         error == ENOENT ? "neither file exists"
                                                         : std::strerror(error)));
    }
    // Renamed by an earlier commit of the same checkpoint (recovery repeats it).
  }
  return Status::OK();
}

std::string TemporaryName(const std::string& name) {
  return fmt::format(".{}{}{}{}", name, kTemporaryMarker, getpid(), kTemporarySuffix);
}

std::optional<std::pair<std::string, pid_t>> ParseTemporaryName(std::string_view file) {
  if (!file.starts_with('.') || !file.ends_with(kTemporarySuffix)) return std::nullopt;
  const size_t marker = file.rfind(kTemporaryMarker);
  if (marker == std::string_view::npos || marker < 2) return std::nullopt;
  const size_t digits_start = marker + kTemporaryMarker.size();
  const size_t digits_end = file.size() - kTemporarySuffix.size();
  if (digits_start >= digits_end) return std::nullopt;
  pid_t pid = 0;
  auto [end, error] = std::from_chars(file.data() + digits_start, file.data() + digits_end, pid);
  if (error != std::errc() || end != file.data() + digits_end || pid <= 0) return std::nullopt;
  return std::make_pair(std::string(file.substr(1, marker - 1)), pid);
}

bool WriterGone(pid_t pid) { return pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH); }

void RemoveTemporaryFiles() {
  std::lock_guard lock(TemporaryFiles().mutex);
  for (const auto& path : TemporaryFiles().paths) unlink(path.c_str());
  TemporaryFiles().paths.clear();
}

}  // namespace sluice::connectors

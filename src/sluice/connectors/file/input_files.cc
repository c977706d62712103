#include "sluice/connectors/file/input_files.h"

#include <fmt/format.h>

#include <filesystem>

#include "sluice/common/file_system.h"
#include "sluice/connectors/file/file_source.h"

namespace sluice::connectors {

Result<InputFiles> InputFiles::Expand(const std::string& pattern) {
  InputFiles files;
  if (!IsUri(pattern)) {
    files.paths_ = ExpandFilePattern(pattern);
    return files;
  }
  FileLocation location;
  SLUICE_ASSIGN_OR_RAISE(files.paths_, ExpandUriPattern(pattern, &location, &files.infos_));
  files.filesystem_ = std::move(location.filesystem);
  return files;
}

int64_t InputFiles::Size(size_t index) const {
  if (filesystem_ != nullptr) return std::max<int64_t>(infos_[index].size(), 0);
  std::error_code error;
  auto size = std::filesystem::file_size(paths_[index], error);
  return error ? 0 : static_cast<int64_t>(size);
}

FileStamp InputFiles::Stamp(size_t index) const {
  if (filesystem_ == nullptr) return StampOf(paths_[index]);
  const auto& info = infos_[index];
  if (info.size() < 0) return {};
  return {info.size(), std::chrono::duration_cast<std::chrono::nanoseconds>(
                           info.mtime().time_since_epoch())
                           .count()};
}

Result<std::unique_ptr<formats::RecordReader>> InputFiles::Open(
    size_t index, formats::Format format, const formats::ReadOptions& options) const {
  if (filesystem_ == nullptr) return formats::RecordReader::Open(paths_[index], format, options);
  auto file = filesystem_->OpenInputFile(infos_[index]);
  if (!file.ok()) {
    return Status::IOError(
        fmt::format("cannot open '{}': {}", paths_[index], file.status().message()));
  }
  return formats::RecordReader::Open(*std::move(file), paths_[index], format, options);
}

}  // namespace sluice::connectors

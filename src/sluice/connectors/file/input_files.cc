#include "sluice/connectors/file/input_files.h"

#include <arrow/io/compressed.h>
#include <arrow/io/file.h>
#include <arrow/util/compression.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "sluice/common/file_system.h"
#include "sluice/connectors/file/file_source.h"
#include "sluice/connectors/file/readahead_file.h"

namespace sluice::connectors {
namespace {

/// The compression a path's suffix names: GZIP for .gz, ZSTD for .zst and .zstd.
arrow::Compression::type CompressionOf(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto ends_with = [&](std::string_view suffix) {
    return lower.size() > suffix.size() &&
           lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".gz")) return arrow::Compression::GZIP;
  if (ends_with(".zst") || ends_with(".zstd")) return arrow::Compression::ZSTD;
  return arrow::Compression::UNCOMPRESSED;
}

/// One codec per kind for the process: a codec only makes the decompressors, one per stream.
Result<arrow::util::Codec*> CodecFor(arrow::Compression::type type) {
  static std::mutex mutex;
  static std::map<arrow::Compression::type, std::unique_ptr<arrow::util::Codec>> codecs;
  std::lock_guard lock(mutex);
  auto& codec = codecs[type];
  if (codec == nullptr) {
    SLUICE_ASSIGN_OR_RAISE(codec, arrow::util::Codec::Create(type));
  }
  return codec.get();
}

}  // namespace

std::string WithoutCompressionSuffix(const std::string& path) {
  if (CompressionOf(path) == arrow::Compression::UNCOMPRESSED) return path;
  return path.substr(0, path.rfind('.'));
}

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

void InputFiles::Append(const InputFiles& other, size_t index) {
  paths_.push_back(other.paths_[index]);
  if (other.filesystem_ == nullptr) return;
  if (filesystem_ == nullptr) filesystem_ = other.filesystem_;
  infos_.push_back(other.infos_[index]);
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

std::optional<std::chrono::system_clock::time_point> InputFiles::Modified(size_t index) const {
  if (filesystem_ != nullptr) {
    const auto& info = infos_[index];
    if (info.size() < 0) return std::nullopt;
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(info.mtime());
  }
  struct stat status {};
  if (::stat(paths_[index].c_str(), &status) != 0) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<
                                               std::chrono::system_clock::duration>(
      std::chrono::seconds(status.st_mtim.tv_sec) +
      std::chrono::nanoseconds(status.st_mtim.tv_nsec)));
}

Result<std::unique_ptr<formats::RecordReader>> InputFiles::Open(
    size_t index, formats::Format format, const formats::ReadOptions& options) const {
  const std::string& path = paths_[index];
  if (const auto compression = CompressionOf(path);
      compression != arrow::Compression::UNCOMPRESSED) {
    if (format != formats::Format::kCsv && format != formats::Format::kJsonLines) {
      return Status::Invalid(fmt::format(
          "'{}': only CSV and JSON lines are decompressed; {} compresses inside the file", path,
          formats::FormatName(format)));
    }
    std::shared_ptr<arrow::io::InputStream> raw;
    if (filesystem_ != nullptr) {
      auto opened = filesystem_->OpenInputStream(infos_[index]);
      if (!opened.ok()) {
        return Status::IOError(
            fmt::format("cannot open '{}': {}", path, opened.status().message()));
      }
      raw = *std::move(opened);
    } else {
      auto opened = arrow::io::ReadableFile::Open(path);
      if (!opened.ok()) {
        return Status::IOError(
            fmt::format("cannot open '{}': {}", path, opened.status().message()));
      }
      raw = *std::move(opened);
    }
    SLUICE_ASSIGN_OR_RAISE(arrow::util::Codec * codec, CodecFor(compression));
    SLUICE_ASSIGN_OR_RAISE(auto stream, arrow::io::CompressedInputStream::Make(codec, raw));
    return formats::RecordReader::OpenStream(std::move(stream), path, format, options);
  }
  if (filesystem_ == nullptr) return formats::RecordReader::Open(paths_[index], format, options);
  auto file = filesystem_->OpenInputFile(infos_[index]);
  if (!file.ok()) {
    return Status::IOError(
        fmt::format("cannot open '{}': {}", paths_[index], file.status().message()));
  }
  std::shared_ptr<arrow::io::RandomAccessFile> input = *std::move(file);
  // Formats read front to back in blocks fetch the next block while one is decoded.
  if (format == formats::Format::kCsv || format == formats::Format::kJsonLines ||
      format == formats::Format::kAvro) {
    input = std::make_shared<ReadaheadFile>(std::move(input));
  }
  formats::ReadOptions remote = options;
  remote.remote = true;
  return formats::RecordReader::Open(std::move(input), paths_[index], format, remote);
}

}  // namespace sluice::connectors

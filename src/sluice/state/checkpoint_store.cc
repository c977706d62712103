#include "sluice/state/checkpoint_store.h"

#include <arrow/util/crc32.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "sluice/state/snapshot_io.h"

namespace sluice::state {
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kCommitted = "COMMITTED";
constexpr std::string_view kPrefix = "chk-";

uint32_t Crc32(const arrow::Buffer& bytes) {
  return arrow::internal::crc32(0, bytes.data(), static_cast<size_t>(bytes.size()));
}

}  // namespace

CheckpointStore::CheckpointStore(std::unique_ptr<Storage> storage, int retain)
    : storage_(std::move(storage)), retain_(std::max(1, retain)) {}

std::string CheckpointStore::Folder(int64_t id) { return fmt::format("chk-{:012d}", id); }

Status CheckpointStore::Write(CheckpointData* data) {
  Manifest& manifest = data->manifest;
  const std::string folder = Folder(manifest.id);
  // Leftovers of an attempt with this id that never completed (a crash before its manifest).
  SLUICE_RETURN_NOT_OK(storage_->DeleteDir(folder));
  SLUICE_RETURN_NOT_OK(storage_->CreateDir(folder));
  for (size_t i = 0; i < data->stages.size(); ++i) {
    StageRecord& stage = manifest.stages[i];
    stage.files.clear();
    for (size_t j = 0; j < data->stages[i].tables.size(); ++j) {
      const auto& [name, table] = data->stages[i].tables[j];
      SLUICE_ASSIGN_OR_RAISE(auto bytes, EncodeTable(*table));
      StateFile file{name, fmt::format("stage-{}-{}.arrow", i, j), bytes->size(), Crc32(*bytes)};
      const std::string path = folder + "/" + file.path;
      SLUICE_RETURN_NOT_OK(storage_->WriteFile(path, bytes));
      SLUICE_RETURN_NOT_OK(storage_->SyncFile(path));
      stage.files.push_back(std::move(file));
    }
  }
  // The state files' names must be durable before the manifest that lists them.
  SLUICE_RETURN_NOT_OK(storage_->SyncDir(folder));
  std::string json = manifest.ToJson();
  SLUICE_RETURN_NOT_OK(WriteDurably(*storage_, folder + "/" + kManifest,
                                    arrow::Buffer::FromString(std::move(json))));
  return storage_->SyncDir("");
}

Status CheckpointStore::MarkCommitted(int64_t id) {
  return WriteDurably(*storage_, Folder(id) + "/" + kCommitted,
                      arrow::Buffer::FromString(std::to_string(id)));
}

Result<bool> CheckpointStore::IsCommitted(int64_t id) {
  return storage_->Exists(Folder(id) + "/" + kCommitted);
}

Result<std::vector<int64_t>> CheckpointStore::List() {
  SLUICE_ASSIGN_OR_RAISE(auto names, storage_->List(""));
  std::vector<int64_t> ids;
  for (const auto& name : names) {
    if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    int64_t id = 0;
    const char* begin = name.data() + kPrefix.size();
    const char* end = name.data() + name.size();
    auto [last, error] = std::from_chars(begin, end, id);
    if (error == std::errc() && last == end) ids.push_back(id);
  }
  std::sort(ids.rbegin(), ids.rend());
  return ids;
}

Result<std::optional<Manifest>> CheckpointStore::ReadManifest(int64_t id) {
  const std::string path = Folder(id) + "/" + kManifest;
  SLUICE_ASSIGN_OR_RAISE(bool exists, storage_->Exists(path));
  if (!exists) return std::nullopt;
  SLUICE_ASSIGN_OR_RAISE(auto bytes, storage_->ReadFile(path));
  SLUICE_ASSIGN_OR_RAISE(Manifest manifest, Manifest::FromJson(bytes->ToString()));
  return manifest;
}

Result<StateSnapshot> CheckpointStore::ReadStage(const Manifest& manifest,
                                                 const StageRecord& stage) {
  StateSnapshot snapshot;
  snapshot.values = stage.values;
  for (const auto& file : stage.files) {
    const std::string path = Folder(manifest.id) + "/" + file.path;
    auto bytes = storage_->ReadFile(path);
    if (!bytes.ok()) {
      return Status::IOError("state file '", file.path, "' of stage '", stage.id, "' is missing");
    }
    if ((*bytes)->size() != file.size || Crc32(**bytes) != file.crc32) {
      return Status::IOError("state file '", file.path, "' of stage '", stage.id,
                             "' is damaged (", (*bytes)->size(), " bytes, expected ", file.size,
                             ", or a checksum mismatch)");
    }
    SLUICE_ASSIGN_OR_RAISE(auto table, DecodeTable(*bytes));
    snapshot.tables.emplace_back(file.table, std::move(table));
  }
  return snapshot;
}

Status CheckpointStore::Discard(int64_t id) {
  SLUICE_RETURN_NOT_OK(storage_->DeleteDir(Folder(id)));
  return storage_->SyncDir("");
}

Status CheckpointStore::Completed(int64_t id) {
  completed_.push_back(id);
  if (completed_.size() <= static_cast<size_t>(retain_)) return Status::OK();
  const int64_t oldest_kept = completed_[completed_.size() - retain_];
  completed_.erase(completed_.begin(), completed_.end() - retain_);
  SLUICE_ASSIGN_OR_RAISE(auto ids, List());
  for (int64_t old : ids) {
    if (old < oldest_kept) SLUICE_RETURN_NOT_OK(storage_->DeleteDir(Folder(old)));
  }
  return Status::OK();
}

Result<std::string> CheckpointStore::Archive(const std::string& stamp) {
  SLUICE_ASSIGN_OR_RAISE(auto ids, List());
  if (ids.empty()) return std::string();
  const std::string archive = "archive-" + stamp;
  SLUICE_RETURN_NOT_OK(storage_->CreateDir(archive));
  for (int64_t id : ids) {
    SLUICE_RETURN_NOT_OK(storage_->Rename(Folder(id), archive + "/" + Folder(id)));
  }
  SLUICE_RETURN_NOT_OK(storage_->SyncDir(""));
  completed_.clear();
  return archive;
}

}  // namespace sluice::state

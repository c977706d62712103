#include "sluice/connectors/file/file_watch.h"

#include <arrow/buffer.h>
#include <arrow/filesystem/filesystem.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>

#include "sluice/common/file_system.h"
#include "sluice/config/location.h"
#include "sluice/formats/value_text.h"
#include "sluice/state/storage.h"

namespace sluice::connectors {
namespace {

using Clock = std::chrono::steady_clock;

/// The folder of `path` and its last part: "s3://b/in/x.csv" gives "s3://b/in" and "x.csv".
std::pair<std::string, std::string> SplitFolder(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

/// Whether the file at `path` (a local path or a URI) exists; false when it cannot be examined.
bool Exists(const std::string& path) {
  if (!IsUri(path)) {
    std::error_code error;
    return std::filesystem::exists(path, error);
  }
  auto location = ResolveUri(path);
  if (!location.ok()) return false;
  auto info = location->filesystem->GetFileInfo(location->path);
  return info.ok() && info->type() == arrow::fs::FileType::File;
}

}  // namespace

config::OptionSpec WatchOptionSpec() {
  using config::MakeOption;
  using config::OptionSpec;
  using config::OptionType;
  OptionSpec watch = MakeOption(
      "watch", OptionType::kSection,
      "Keep listing the glob and read every new file (or object) that matches once, when it is "
      "complete: the source becomes unbounded. New files are read in path order within one "
      "listing, listings one after another. Names starting with . or _ are left alone. The "
      "finished files are part of the checkpoint (without checkpoints, of the state file), so "
      "a restart neither reads a file again nor skips one.");
  OptionSpec interval = MakeOption("interval", OptionType::kDuration,
                                   "How often the glob is listed again.", "2s");
  interval.min = 10;
  OptionSpec settle =
      MakeOption("settle", OptionType::kDuration,
                 "A file is complete once its size and modification time have not changed for "
                 "this long (a file still being written is not read early).",
                 "1s");
  OptionSpec marker = MakeOption(
      "marker", OptionType::kString,
      "Instead of settle: a file is complete once its folder holds a file of this name "
      "(_SUCCESS, as Spark and Hadoop jobs write when they finish).");
  OptionSpec on_done = MakeOption(
      "on_done", OptionType::kSection,
      "What happens to a file once its rows are safe (with checkpoints, once a completed "
      "checkpoint holds it; without, when the run ends cleanly): keep, delete, or "
      "{move: processed/} (a folder relative to the file's own).",
      "keep");
  OptionSpec action = MakeOption("action", OptionType::kEnum, "keep, delete or move.", "keep");
  action.choices = {"keep", "delete", "move"};
  OptionSpec move = MakeOption(
      "move", OptionType::kString,
      "The folder finished files move to, relative to the file's folder (processed/).");
  on_done.fields = {action, move};
  on_done.short_field = "action";
  OptionSpec state = MakeOption(
      "state", OptionType::kString,
      "Without checkpoints: the file that lists the finished files between runs; by default "
      ".<pipeline file name>.<source>.watch.json beside the pipeline file.");
  watch.fields = {interval, settle, marker, on_done, state};
  return watch;
}

Result<std::optional<WatchOptions>> WatchOptionsFromConfig(const config::Options& options,
                                                           const std::string& pipeline_file,
                                                           const std::string& source) {
  if (!options.Has("watch")) return std::nullopt;
  const config::Options& section = options.GetSection("watch");
  WatchOptions watch;
  if (section.Has("interval")) {
    watch.interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(section.GetDuration("interval"));
  }
  if (section.Has("settle")) {
    watch.settle =
        std::chrono::duration_cast<std::chrono::milliseconds>(section.GetDuration("settle"));
  }
  if (section.Has("marker")) {
    watch.marker = section.GetString("marker");
    if (watch.marker.empty() || watch.marker.find('/') != std::string::npos) {
      return config::ConfigError(section.LocationOf("marker"),
                                 "watch.marker is a file name, without a folder");
    }
  }
  if (section.Has("on_done")) {
    const config::Options& on_done = section.GetSection("on_done");
    const std::string action = on_done.Has("action") ? on_done.GetString("action")
                               : on_done.Has("move") ? "move"
                                                     : "keep";
    if (action == "delete") watch.on_done = OnDone::kDelete;
    if (action == "move") {
      watch.on_done = OnDone::kMove;
      if (!on_done.Has("move") || on_done.GetString("move").empty()) {
        return config::ConfigError(section.LocationOf("on_done"),
                                   "on_done: move needs the folder to move files to",
                                   "write on_done: {move: processed/}");
      }
      watch.move_to = on_done.GetString("move");
    } else if (on_done.Has("move")) {
      return config::ConfigError(on_done.LocationOf("move"),
                                 fmt::format("on_done: {} does not move files", action));
    }
  }
  if (section.Has("state")) {
    watch.state = section.GetString("state");
  } else {
    const auto [folder, file] = SplitFolder(pipeline_file.empty() ? "pipeline" : pipeline_file);
    watch.state = fmt::format("{}/.{}.{}.watch.json", folder, file, source);
  }
  return watch;
}

bool HiddenFromWatch(const std::string& path) {
  const std::string name = SplitFolder(path).second;
  return name.empty() || name.front() == '.' || name.front() == '_';
}

bool CompletionCheck::Complete(const std::string& path, const FileStamp& stamp,
                               std::optional<std::chrono::system_clock::time_point> modified) {
  if (!options_.marker.empty()) {
    const std::string folder = SplitFolder(path).first;
    if (marked_.count(folder) > 0) return true;
    if (!Exists(folder + "/" + options_.marker)) return false;
    marked_.insert(folder);
    return true;
  }
  if (!stamp.known() || !modified) return false;
  const auto now = Clock::now();
  // Modified long enough ago: complete at once (the files there when the run starts).
  if (std::chrono::system_clock::now() - *modified >= options_.settle) {
    waiting_.erase(path);
    return true;
  }
  auto [seen, added] = waiting_.try_emplace(path, Seen{stamp, now});
  if (added || seen->second.stamp != stamp) {
    seen->second = Seen{stamp, now};
    return false;
  }
  if (now - seen->second.since < options_.settle) return false;
  waiting_.erase(seen);
  return true;
}

std::chrono::milliseconds CompletionCheck::NextCheckIn() const {
  auto next = options_.interval;
  const auto now = Clock::now();
  for (const auto& [path, seen] : waiting_) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(seen.since + options_.settle - now);
    next = std::min(next, std::max(left, std::chrono::milliseconds(10)));
  }
  return next;
}

void CompletionCheck::Keep(const std::set<std::string>& listed) {
  std::erase_if(waiting_, [&](const auto& entry) { return listed.count(entry.first) == 0; });
}

Status ApplyOnDone(const WatchOptions& options, const std::string& path) {
  if (options.on_done == OnDone::kKeep) return Status::OK();
  const auto [folder, name] = SplitFolder(path);
  if (!IsUri(path)) {
    std::error_code error;
    if (options.on_done == OnDone::kDelete) {
      std::filesystem::remove(path, error);
    } else {
      const std::filesystem::path target = std::filesystem::path(folder) / options.move_to;
      std::filesystem::create_directories(target, error);
      if (!error) std::filesystem::rename(path, target / name, error);
    }
    if (error) {
      return Status::IOError(fmt::format("cannot {} '{}': {}",
                                         options.on_done == OnDone::kDelete ? "delete" : "move",
                                         path, error.message()));
    }
    return Status::OK();
  }
  SLUICE_ASSIGN_OR_RAISE(FileLocation location, ResolveUri(path));
  arrow::Status done;
  if (options.on_done == OnDone::kDelete) {
    done = location.filesystem->DeleteFile(location.path);
  } else {
    std::string target_folder = SplitFolder(location.path).first + "/" + options.move_to;
    while (!target_folder.empty() && target_folder.back() == '/') target_folder.pop_back();
    done = location.filesystem->CreateDir(target_folder, /*recursive=*/true);
    if (done.ok()) done = location.filesystem->Move(location.path, target_folder + "/" + name);
  }
  if (!done.ok()) {
    return Status::IOError(fmt::format("cannot {} '{}': {}",
                                       options.on_done == OnDone::kDelete ? "delete" : "move",
                                       path, done.message()));
  }
  return Status::OK();
}

Result<std::set<std::string>> LoadWatchState(const std::string& path) {
  const auto [folder, name] = SplitFolder(path);
  SLUICE_ASSIGN_OR_RAISE(auto storage, state::OpenStorage(folder));
  SLUICE_ASSIGN_OR_RAISE(bool exists, storage->Exists(name));
  std::set<std::string> done;
  if (!exists) return done;
  SLUICE_ASSIGN_OR_RAISE(auto bytes, storage->ReadFile(name));
  auto invalid = [&] {
    return Status::Invalid(fmt::format(
        "'{}' is not a watch state file (a JSON object with a list \"done\"); remove it to "
        "read every file of the glob again",
        path));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array list;
  if (parser.parse(bytes->data(), static_cast<size_t>(bytes->size())).get(root) !=
          simdjson::SUCCESS ||
      root["done"].get_array().get(list) != simdjson::SUCCESS) {
    return invalid();
  }
  for (simdjson::dom::element element : list) {
    std::string_view file;
    if (element.get_string().get(file) != simdjson::SUCCESS) return invalid();
    done.emplace(file);
  }
  return done;
}

Status SaveWatchState(const std::string& path, const std::set<std::string>& done) {
  const auto [folder, name] = SplitFolder(path);
  std::string text = "{\"done\":[";
  bool first = true;
  for (const auto& file : done) {
    if (!first) text += ',';
    first = false;
    formats::AppendJsonString(file, &text);
  }
  text += "]}\n";
  SLUICE_ASSIGN_OR_RAISE(auto storage, state::OpenStorage(folder));
  return state::WriteDurably(*storage, name, arrow::Buffer::FromString(std::move(text)));
}

}  // namespace sluice::connectors

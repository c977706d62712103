#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/file/file_position.h"

namespace sluice::connectors {

// `watch:` of the file source: the glob is listed again every `interval`, and every new file
// (or object) that matches is read once, when it is complete.

/// What the source does with a file once everything read from it is safe: written by the sinks,
/// or, with checkpoints, part of a completed checkpoint.
enum class OnDone { kKeep, kDelete, kMove };

struct WatchOptions {
  std::chrono::milliseconds interval{2000};
  /// A file is complete once its size and modification time have not changed for this long.
  std::chrono::milliseconds settle{1000};
  /// When set ("_SUCCESS"), a file is complete once its folder holds a file of this name, and
  /// `settle` is not used.
  std::string marker;
  OnDone on_done = OnDone::kKeep;
  /// For kMove: the folder the file goes to; relative to the file's own folder.
  std::string move_to;
  /// Without checkpoints: the file that remembers the finished files between runs.
  std::string state;
};

/// The `watch` option of the file source.
config::OptionSpec WatchOptionSpec();

/// The source's `watch` section, checked; nullopt without one. `pipeline_file` and `source`
/// name the default state file (beside the pipeline file).
Result<std::optional<WatchOptions>> WatchOptionsFromConfig(const config::Options& options,
                                                           const std::string& pipeline_file,
                                                           const std::string& source);

/// Whether a watched folder's file is left alone as not (yet) data: a name starting with '.' or
/// '_' (a file being written under a temporary name, a marker such as _SUCCESS).
bool HiddenFromWatch(const std::string& path);

/// Decides which files of a listing are complete. Source thread only.
class CompletionCheck {
 public:
  explicit CompletionCheck(const WatchOptions& options) : options_(options) {}

  /// Whether `path`, listed now with `stamp` and last `modified` then, is complete: with a
  /// marker, its folder holds the marker; otherwise its stamp is the one it had `settle` ago
  /// (or it was modified longer ago than that). Remembers what it saw of the files that are not.
  bool Complete(const std::string& path, const FileStamp& stamp,
                std::optional<std::chrono::system_clock::time_point> modified);

  /// How long until a file seen incomplete may be complete; `interval` when none is waiting.
  std::chrono::milliseconds NextCheckIn() const;

  /// Forgets the files not listed in the last scan (renamed or removed before completing).
  void Keep(const std::set<std::string>& listed);

 private:
  struct Seen {
    FileStamp stamp;
    std::chrono::steady_clock::time_point since;
  };

  const WatchOptions& options_;
  std::map<std::string, Seen> waiting_;
  /// Folders whose marker was found (a marker, once there, is not looked for again).
  std::set<std::string> marked_;
};

/// Applies `on_done` to a finished file: deletes it, or moves it into the `move_to` folder
/// (created if needed); nothing for keep. Local paths and URIs alike.
Status ApplyOnDone(const WatchOptions& options, const std::string& path);

/// The finished files the state file at `path` lists; empty when there is no such file.
Result<std::set<std::string>> LoadWatchState(const std::string& path);

/// Writes `done` to the state file at `path` atomically (a temporary file renamed into place).
Status SaveWatchState(const std::string& path, const std::set<std::string>& done);

}  // namespace sluice::connectors

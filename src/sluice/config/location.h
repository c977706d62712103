#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::config {

/// A position in a pipeline file, 1-based, or the command-line argument a value came from. A
/// location with neither a line nor an argument names only the file.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  /// For a value given on the command line, the argument that gave it ("--set a.b=1"); errors
  /// then name the argument instead of the file.
  std::string argument;

  /// Whether the location says where in the file, or on the command line, something stands.
  bool known() const { return line > 0 || !argument.empty(); }

  /// The location `offset` characters further along the same line (the same argument).
  Location Advance(int offset) const {
    Location moved = *this;
    if (moved.line > 0) moved.column += offset;
    return moved;
  }

  /// "file:line:col", the argument, or just the file when the position is unknown.
  std::string ToString() const;
};

/// A configuration error, formatted as the compiler-style "file:line:col: error: message".
/// `hint`, when not empty, is appended on a new line as "  hint: ...".
Status ConfigError(const Location& where, std::string_view message, std::string_view hint = {});

/// A configuration warning, "file:line:col: warning: message" (and "  hint: ..." when given).
std::string ConfigWarning(const Location& where, std::string_view message,
                          std::string_view hint = {});

/// Gathers the errors of one pass over a pipeline file, so that all of them are reported
/// together rather than one per attempt.
class ConfigErrors {
 public:
  /// Keeps `status` if it is an error; returns whether it was OK.
  bool Keep(const Status& status);
  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  /// OK when nothing was kept; otherwise one Invalid status with every message, one per line,
  /// in the order they were kept.
  Status ToStatus() const;

 private:
  std::vector<std::string> messages_;
};

/// A string value taken from a pipeline file, with where it starts. `quoted` tells that the
/// text began one character after `where` (a quoted YAML scalar), so that positions inside the
/// string can be mapped back to the file.
struct LocatedText {
  std::string text;
  Location where;
  bool quoted = false;

  /// The file position of character `offset` of `text` (exact for single-line scalars).
  Location At(size_t offset) const {
    return where.Advance(static_cast<int>(offset) + (quoted ? 1 : 0));
  }
};

}  // namespace sluice::config

#pragma once

#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice::config {

/// A position in a pipeline file, 1-based. A default-constructed location (line 0) means
/// "not from a file" (for example a value given with --set); errors then name only the file.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  bool known() const { return line > 0; }

  /// The location `offset` characters further along the same line.
  Location Advance(int offset) const {
    Location moved = *this;
    if (moved.known()) moved.column += offset;
    return moved;
  }

  /// "file:line:col", or just "file" when the position is unknown.
  std::string ToString() const;
};

/// A configuration error, formatted as the compiler-style "file:line:col: error: message".
/// `hint`, when not empty, is appended on a new line as "  hint: ...".
Status ConfigError(const Location& where, std::string_view message, std::string_view hint = {});

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

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::formats {

/// The length (1 to 4) of the valid UTF-8 sequence that starts at `text[at]`, or 0 when the
/// byte there does not start one: a stray continuation byte, an overlong form, a surrogate, a
/// code point above U+10FFFF or a sequence cut short.
size_t Utf8SequenceLength(std::string_view text, size_t at);

/// Whether `text` is valid UTF-8.
bool IsValidUtf8(std::string_view text);

/// Appends `text` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD,
/// as most JSON encoders do (Go's encoding/json, simdjson, Python's errors="replace"): the
/// result is always valid UTF-8 and a bad byte is visible where it stood.
void AppendReplacingInvalidUtf8(std::string_view text, std::string* out);
std::string ReplaceInvalidUtf8(std::string_view text);

/// `text` with each byte that is not part of a valid UTF-8 sequence written as \xNN (two lower
/// case hex digits) and each backslash doubled, so that the original bytes can be recovered
/// exactly: undo \\ and \xNN, left to right. Valid UTF-8 around them is kept as it is.
std::string EscapeInvalidUtf8(std::string_view text);

}  // namespace sluice::formats

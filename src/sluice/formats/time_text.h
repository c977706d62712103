#pragma once

#include <arrow/type.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice::formats {

/// How a piece of text reads as a point in time, for type inference.
enum class TimeTextKind {
  kNone,       ///< not a date or timestamp
  kDate,       ///< "2024-03-01"
  kTimestamp,  ///< "2024-03-01T12:00:00Z" and the other ISO 8601 forms ParseTimestampText takes
};

/// Parses ISO 8601 text into microseconds since the Unix epoch, UTC.
///
/// Accepted: "YYYY-MM-DD", optionally followed by 'T' or ' ' and "HH:MM", "HH:MM:SS" or
/// "HH:MM:SS.f" (1 to 9 fractional digits, '.' or ','; digits past microseconds are truncated),
/// optionally followed by 'Z' or an offset "+HH", "+HH:MM" or "+HHMM". Text without a zone is
/// taken as UTC, so that results never depend on the machine running the pipeline.
/// Text that is a plain number is read as an epoch time (see EpochToMicros).
std::optional<int64_t> ParseTimestampText(std::string_view text);

/// Days since the Unix epoch of "YYYY-MM-DD", or of the UTC day of a timestamp text.
std::optional<int32_t> ParseDateText(std::string_view text);

/// Whether `text` is a date, a timestamp with a time of day, or neither (epoch numbers count
/// as neither: a column of numbers is inferred as numbers).
TimeTextKind ClassifyTimeText(std::string_view text);

/// Converts an epoch number to microseconds, choosing the unit by magnitude, because feeds mix
/// seconds (Unix tools), milliseconds (JavaScript, Kafka) and microseconds freely:
/// |value| < 10^11 is seconds (up to the year 5138), < 10^14 milliseconds, < 10^17
/// microseconds, and anything larger nanoseconds. std::nullopt when it is not finite or
/// overflows.
std::optional<int64_t> EpochToMicros(double value);
std::optional<int64_t> EpochToMicros(int64_t value);

/// How the values of one timestamp or date field are read where the default rules (ISO 8601
/// text, epoch numbers whose unit is guessed by magnitude) do not fit the data.
struct TimeReading {
  /// The unit of epoch numbers (and of text that is a plain number); std::nullopt guesses it by
  /// magnitude (EpochToMicros).
  std::optional<arrow::TimeUnit::type> epoch_unit;
  /// The layout text must have, in ParseFormattedTime's notation ("%d/%m/%Y %H:%M"); empty
  /// for ISO 8601 or an epoch number.
  std::string format;
};

/// The TimeReading of each field of a schema: those named in `fields`, and `format` for every
/// other timestamp or date field (and for a named one with neither a format nor an epoch unit
/// of its own).
struct TimeReadings {
  std::map<std::string, TimeReading, std::less<>> fields;
  std::string format;

  /// How field `name` is read.
  TimeReading For(std::string_view name) const;
};

/// ParseTimestampText under `reading`: with a format, text must match it; otherwise ISO 8601,
/// or a plain number in the reading's epoch unit.
std::optional<int64_t> ParseTimestampText(std::string_view text, const TimeReading& reading);

/// ParseDateText under `reading`: with a format, the UTC day of the time the text gives.
std::optional<int32_t> ParseDateText(std::string_view text, const TimeReading& reading);

/// Converts an epoch number in `unit` to microseconds, or by magnitude when `unit` is
/// std::nullopt; std::nullopt when it is not finite or overflows.
std::optional<int64_t> EpochToMicros(int64_t value, std::optional<arrow::TimeUnit::type> unit);
std::optional<int64_t> EpochToMicros(double value, std::optional<arrow::TimeUnit::type> unit);

/// Parses `text` laid out as `format` into microseconds since the Unix epoch, UTC unless the
/// text carries a zone. The notation is strptime's, without locale or local time, so results
/// never depend on the machine: %Y year, %y two-digit year (69-99 → 19xx), %m month, %d or %e
/// day, %j day of the year, %H hour, %I hour of 12 with %p AM/PM, %M minute, %S second, %f
/// fraction of a second (1 to 9 digits), %b/%h/%B English month name or abbreviation, %a/%A
/// weekday name (checked for form, not against the date), %z offset (Z, +HH, +HHMM, +HH:MM),
/// %Z a zone name of UTC, GMT or Z, %s seconds since the epoch, %T = %H:%M:%S, %F = %Y-%m-%d,
/// %D = %m/%d/%y, %R = %H:%M, %% a '%'. Numbers take up to their field's digits. A space
/// matches any run of spaces (or none); any other character matches itself. Fields left out
/// default to 1970-01-01 00:00:00.
std::optional<int64_t> ParseFormattedTime(std::string_view text, std::string_view format);

/// Status::Invalid naming the problem when `format` is not a valid ParseFormattedTime format
/// (an unknown or dangling % directive, or no directive at all).
Status CheckTimeFormat(std::string_view format);

/// Appends a timestamp of unit `unit` as ISO 8601 "YYYY-MM-DDTHH:MM:SS[.f]" with only the
/// fractional digits needed (none, or up to 9 for nanoseconds), followed by 'Z' when `utc`.
void AppendTimestampText(int64_t value, arrow::TimeUnit::type unit, bool utc, std::string* out);

/// Appends "YYYY-MM-DD" for days since the Unix epoch.
void AppendDateText(int64_t days, std::string* out);

/// Days since 1970-01-01 of a proleptic Gregorian date (valid for any int32 year range).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace sluice::formats

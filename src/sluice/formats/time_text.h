#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

/// Appends a timestamp of unit `unit` as ISO 8601 "YYYY-MM-DDTHH:MM:SS[.f]" with only the
/// fractional digits needed (none, or up to 9 for nanoseconds), followed by 'Z' when `utc`.
void AppendTimestampText(int64_t value, arrow::TimeUnit::type unit, bool utc, std::string* out);

/// Appends "YYYY-MM-DD" for days since the Unix epoch.
void AppendDateText(int64_t days, std::string* out);

/// Days since 1970-01-01 of a proleptic Gregorian date (valid for any int32 year range).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace sluice::formats

#include "sluice/formats/time_text.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace sluice::formats {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

/// Reads exactly `count` digits at `*pos`.
bool ReadDigits(std::string_view text, size_t* pos, int count, int* value) {
  if (*pos + static_cast<size_t>(count) > text.size()) return false;
  int result = 0;
  for (int i = 0; i < count; ++i) {
    char c = text[*pos + static_cast<size_t>(i)];
    if (!IsDigit(c)) return false;
    result = result * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(count);
  *value = result;
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

struct ParsedTime {
  int64_t micros = 0;
  bool has_time = false;
};

/// The ISO 8601 grammar of ParseTimestampText, without the epoch-number fallback.
std::optional<ParsedTime> ParseIso(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!ReadDigits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-')
    return std::nullopt;
  if (!ReadDigits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-')
    return std::nullopt;
  if (!ReadDigits(text, &pos, 2, &day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  ParsedTime parsed;
  int64_t seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                    kSecondsPerDay;
  int64_t fraction_micros = 0;
  if (pos == text.size()) {
    parsed.micros = seconds * kMicrosPerSecond;
    return parsed;
  }
  if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
  ++pos;
  int hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':')
    return std::nullopt;
  if (!ReadDigits(text, &pos, 2, &minute)) return std::nullopt;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!ReadDigits(text, &pos, 2, &second)) return std::nullopt;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      int digits = 0;
      while (pos < text.size() && IsDigit(text[pos])) {
        if (digits < 6) fraction_micros = fraction_micros * 10 + (text[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0 || digits > 9) return std::nullopt;
      for (int i = digits; i < 6; ++i) fraction_micros *= 10;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  seconds += hour * 3600 + minute * 60 + second;
  if (pos < text.size()) {
    char zone = text[pos++];
    if (zone == 'Z' || zone == 'z') {
      if (pos != text.size()) return std::nullopt;
    } else if (zone == '+' || zone == '-') {
      int offset_hours = 0, offset_minutes = 0;
      if (!ReadDigits(text, &pos, 2, &offset_hours)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (pos < text.size() && !ReadDigits(text, &pos, 2, &offset_minutes)) return std::nullopt;
      if (pos != text.size() || offset_hours > 23 || offset_minutes > 59) return std::nullopt;
      int64_t offset = offset_hours * 3600 + offset_minutes * 60;
      // Local time = UTC + offset, so UTC = local - offset.
      seconds -= zone == '+' ? offset : -offset;
    } else {
      return std::nullopt;
    }
  }
  parsed.micros = seconds * kMicrosPerSecond + fraction_micros;
  parsed.has_time = true;
  return parsed;
}

int64_t FloorDivide(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) --quotient;
  return quotient;
}

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate CivilFromDays(int64_t days) {
  // Howard Hinnant's days_from_civil inverse; exact for the proleptic Gregorian calendar.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t year = static_cast<int64_t>(year_of_era) + era * 400;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned month_index = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * month_index + 2) / 5 + 1;
  const unsigned month = month_index < 10 ? month_index + 3 : month_index - 9;
  return {month <= 2 ? year + 1 : year, month, day};
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

std::optional<int64_t> EpochToMicros(int64_t value) {
  // The magnitude bounds keep every multiplication below 10^17, far from int64 overflow.
  int64_t magnitude = value == std::numeric_limits<int64_t>::min()
                          ? std::numeric_limits<int64_t>::max()
                          : (value < 0 ? -value : value);
  if (magnitude < 100000000000LL) return value * kMicrosPerSecond;
  if (magnitude < 100000000000000LL) return value * 1000;
  if (magnitude < 100000000000000000LL) return value;
  return FloorDivide(value, 1000);
}

std::optional<int64_t> EpochToMicros(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  double magnitude = std::fabs(value);
  double micros;
  if (magnitude < 1e11) {
    micros = value * 1e6;
  } else if (magnitude < 1e14) {
    micros = value * 1e3;
  } else if (magnitude < 1e17) {
    micros = value;
  } else {
    micros = value / 1e3;
  }
  micros = std::round(micros);
  if (!(micros > -9.2e18 && micros < 9.2e18)) return std::nullopt;
  return static_cast<int64_t>(micros);
}

std::optional<int64_t> ParseTimestampText(std::string_view text) {
  text = Trim(text);
  if (auto parsed = ParseIso(text)) return parsed->micros;
  if (text.empty()) return std::nullopt;
  // A plain number: an epoch time.
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;
  int64_t integer = 0;
  auto [int_end, int_error] = std::from_chars(begin, end, integer);
  if (int_error == std::errc() && int_end == end) return EpochToMicros(integer);
  double number = 0;
  auto [double_end, double_error] = std::from_chars(begin, end, number);
  if (double_error == std::errc() && double_end == end) return EpochToMicros(number);
  return std::nullopt;
}

std::optional<int32_t> ParseDateText(std::string_view text) {
  text = Trim(text);
  auto parsed = ParseIso(text);
  if (!parsed) return std::nullopt;
  int64_t days = FloorDivide(parsed->micros, kSecondsPerDay * kMicrosPerSecond);
  if (days < std::numeric_limits<int32_t>::min() || days > std::numeric_limits<int32_t>::max())
    return std::nullopt;
  return static_cast<int32_t>(days);
}

TimeTextKind ClassifyTimeText(std::string_view text) {
  auto parsed = ParseIso(Trim(text));
  if (!parsed) return TimeTextKind::kNone;
  return parsed->has_time ? TimeTextKind::kTimestamp : TimeTextKind::kDate;
}

void AppendDateText(int64_t days, std::string* out) {
  CivilDate date = CivilFromDays(days);
  fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02}", date.year, date.month, date.day);
}

void AppendTimestampText(int64_t value, arrow::TimeUnit::type unit, bool utc, std::string* out) {
  int64_t per_second = 1;
  int digits = 0;
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      break;
    case arrow::TimeUnit::MILLI:
      per_second = 1000;
      digits = 3;
      break;
    case arrow::TimeUnit::MICRO:
      per_second = 1000000;
      digits = 6;
      break;
    case arrow::TimeUnit::NANO:
      per_second = 1000000000;
      digits = 9;
      break;
  }
  int64_t seconds = FloorDivide(value, per_second);
  int64_t fraction = value - seconds * per_second;
  int64_t days = FloorDivide(seconds, kSecondsPerDay);
  int64_t second_of_day = seconds - days * kSecondsPerDay;
  AppendDateText(days, out);
  fmt::format_to(std::back_inserter(*out), "T{:02}:{:02}:{:02}", second_of_day / 3600,
                 (second_of_day / 60) % 60, second_of_day % 60);
  if (fraction != 0) {
    while (fraction % 10 == 0) {
      fraction /= 10;
      --digits;
    }
    fmt::format_to(std::back_inserter(*out), ".{:0{}}", fraction, digits);
  }
  if (utc) out->push_back('Z');
}

}  // namespace sluice::formats

#include "sluice/formats/time_text.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <array>
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
  return ParseTimestampText(text, TimeReading{});
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

namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Whether `text` at `*pos` starts with `word` (lowercase), ignoring case; advances past it.
bool ReadWord(std::string_view text, size_t* pos, std::string_view word) {
  if (*pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(text[*pos + i]) != word[i]) return false;
  }
  *pos += word.size();
  return true;
}

/// The index of the name in `names` that `text` at `*pos` spells in full or as its first
/// three letters; -1 when none does.
template <size_t N>
int ReadName(std::string_view text, size_t* pos, const std::array<std::string_view, N>& names) {
  for (size_t i = 0; i < N; ++i) {
    if (ReadWord(text, pos, names[i])) return static_cast<int>(i);
  }
  for (size_t i = 0; i < N; ++i) {
    if (ReadWord(text, pos, names[i].substr(0, 3))) return static_cast<int>(i);
  }
  return -1;
}

/// Reads 1 to `max_digits` digits at `*pos`.
bool ReadNumber(std::string_view text, size_t* pos, int max_digits, int64_t* value) {
  int64_t result = 0;
  int digits = 0;
  while (digits < max_digits && *pos < text.size() && IsDigit(text[*pos])) {
    result = result * 10 + (text[(*pos)++] - '0');
    ++digits;
  }
  *value = result;
  return digits > 0;
}

/// The fields a format fills in; what it leaves out keeps these defaults.
struct TimeFields {
  int64_t year = 1970;
  int64_t month = 1;
  int64_t day = 1;
  int64_t day_of_year = 0;  // 1-based when set
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t fraction_micros = 0;
  int64_t offset_seconds = 0;
  bool twelve_hour = false;
  int pm = -1;  // -1 unset, 0 AM, 1 PM
  std::optional<int64_t> epoch_seconds;
};

/// Matches one directive (the character after '%') at `*pos`; false when the text does not fit.
bool ReadDirective(char directive, std::string_view text, size_t* pos, TimeFields* fields) {
  int64_t number = 0;
  switch (directive) {
    case 'Y':
      return ReadNumber(text, pos, 4, &fields->year);
    case 'y':
      if (!ReadNumber(text, pos, 2, &number)) return false;
      fields->year = number < 69 ? 2000 + number : 1900 + number;
      return true;
    case 'm':
      return ReadNumber(text, pos, 2, &fields->month);
    case 'e':
      if (*pos < text.size() && text[*pos] == ' ') ++*pos;
      [[fallthrough]];
    case 'd':
      return ReadNumber(text, pos, 2, &fields->day);
    case 'j':
      return ReadNumber(text, pos, 3, &fields->day_of_year) && fields->day_of_year >= 1;
    case 'H':
      return ReadNumber(text, pos, 2, &fields->hour);
    case 'I':
      fields->twelve_hour = true;
      return ReadNumber(text, pos, 2, &fields->hour) && fields->hour >= 1 && fields->hour <= 12;
    case 'p':
      if (ReadWord(text, pos, "am")) {
        fields->pm = 0;
      } else if (ReadWord(text, pos, "pm")) {
        fields->pm = 1;
      } else {
        return false;
      }
      return true;
    case 'M':
      return ReadNumber(text, pos, 2, &fields->minute);
    case 'S':
      return ReadNumber(text, pos, 2, &fields->second);
    case 'f': {
      size_t start = *pos;
      if (!ReadNumber(text, pos, 9, &number)) return false;
      int digits = static_cast<int>(*pos - start);
      for (; digits > 6; --digits) number /= 10;
      for (; digits < 6; ++digits) number *= 10;
      fields->fraction_micros = number;
      return true;
    }
    case 'b':
    case 'h':
    case 'B': {
      int month = ReadName(text, pos, kMonthNames);
      fields->month = month + 1;
      return month >= 0;
    }
    case 'a':
    case 'A':
      return ReadName(text, pos, kWeekdayNames) >= 0;
    case 'z': {
      if (*pos >= text.size()) return false;
      char sign = text[*pos];
      if (sign == 'Z' || sign == 'z') {
        ++*pos;
        fields->offset_seconds = 0;
        return true;
      }
      if (sign != '+' && sign != '-') return false;
      ++*pos;
      int hours = 0, minutes = 0;
      if (!ReadDigits(text, pos, 2, &hours)) return false;
      if (*pos < text.size() && text[*pos] == ':') ++*pos;
      if (*pos < text.size() && IsDigit(text[*pos]) && !ReadDigits(text, pos, 2, &minutes))
        return false;
      if (hours > 23 || minutes > 59) return false;
      fields->offset_seconds = (sign == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
      return true;
    }
    case 'Z':
      return ReadWord(text, pos, "utc") || ReadWord(text, pos, "gmt") || ReadWord(text, pos, "z");
    case 's': {
      bool negative = *pos < text.size() && text[*pos] == '-';
      if (negative) ++*pos;
      if (!ReadNumber(text, pos, 12, &number)) return false;
      fields->epoch_seconds = negative ? -number : number;
      return true;
    }
    case '%':
      if (*pos >= text.size() || text[*pos] != '%') return false;
      ++*pos;
      return true;
    default:
      return false;
  }
}

/// What a composite directive stands for; empty for a simple one.
std::string_view Expansion(char directive) {
  switch (directive) {
    case 'T':
      return "%H:%M:%S";
    case 'F':
      return "%Y-%m-%d";
    case 'D':
      return "%m/%d/%y";
    case 'R':
      return "%H:%M";
    default:
      return {};
  }
}

constexpr std::string_view kSimpleDirectives = "YymdejHIpMSfbhBaAzZs%";

bool MatchFormat(std::string_view text, size_t* pos, std::string_view format, TimeFields* fields) {
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '%') {
      if (++i >= format.size()) return false;
      std::string_view expansion = Expansion(format[i]);
      if (!expansion.empty()) {
        if (!MatchFormat(text, pos, expansion, fields)) return false;
      } else if (!ReadDirective(format[i], text, pos, fields)) {
        return false;
      }
    } else if (c == ' ') {
      while (*pos < text.size() && (text[*pos] == ' ' || text[*pos] == '\t')) ++*pos;
    } else {
      if (*pos >= text.size() || text[*pos] != c) return false;
      ++*pos;
    }
  }
  return true;
}

int64_t ScaleOf(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return kMicrosPerSecond;
    case arrow::TimeUnit::MILLI:
      return 1000;
    case arrow::TimeUnit::MICRO:
      return 1;
    case arrow::TimeUnit::NANO:
      return 1;
  }
  return 1;
}

}  // namespace

std::optional<int64_t> ParseFormattedTime(std::string_view text, std::string_view format) {
  text = Trim(text);
  TimeFields fields;
  size_t pos = 0;
  if (!MatchFormat(text, &pos, format, &fields) || pos != text.size()) return std::nullopt;
  if (fields.epoch_seconds) {
    int64_t micros = 0;
    if (__builtin_mul_overflow(*fields.epoch_seconds, kMicrosPerSecond, &micros))
      return std::nullopt;
    return micros + fields.fraction_micros;
  }
  if (fields.twelve_hour) {
    fields.hour %= 12;
    if (fields.pm == 1) fields.hour += 12;
  } else if (fields.pm == 1 && fields.hour < 12) {
    fields.hour += 12;
  }
  if (fields.hour > 23 || fields.minute > 59 || fields.second > 59) return std::nullopt;
  int64_t days = 0;
  if (fields.day_of_year > 0) {
    int days_in_year = IsLeapYear(static_cast<int>(fields.year)) ? 366 : 365;
    if (fields.day_of_year > days_in_year) return std::nullopt;
    days = DaysFromCivil(fields.year, 1, 1) + fields.day_of_year - 1;
  } else {
    if (fields.month < 1 || fields.month > 12 || fields.day < 1 ||
        fields.day > DaysInMonth(static_cast<int>(fields.year), static_cast<int>(fields.month)))
      return std::nullopt;
    days = DaysFromCivil(fields.year, static_cast<unsigned>(fields.month),
                         static_cast<unsigned>(fields.day));
  }
  int64_t seconds = days * kSecondsPerDay + fields.hour * 3600 + fields.minute * 60 +
                    fields.second - fields.offset_seconds;
  return seconds * kMicrosPerSecond + fields.fraction_micros;
}

Status CheckTimeFormat(std::string_view format) {
  bool any_directive = false;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (i + 1 >= format.size()) return Status::Invalid("the format ends in a lone '%'");
    char directive = format[++i];
    if (Expansion(directive).empty() && kSimpleDirectives.find(directive) == std::string::npos) {
      return Status::Invalid(fmt::format(
          "unknown directive '%{}' (known: %Y %y %m %d %e %j %H %I %p %M %S %f %b %B %a %z %Z "
          "%s %T %F %D %R %%)",
          directive));
    }
    any_directive = any_directive || directive != '%';
  }
  if (!any_directive) return Status::Invalid("the format has no % directive, e.g. %Y-%m-%d");
  return Status::OK();
}

TimeReading TimeReadings::For(std::string_view name) const {
  TimeReading reading;
  if (auto it = fields.find(name); it != fields.end()) reading = it->second;
  // A field declared with an epoch unit holds numbers: the shared format is not for it.
  if (reading.format.empty() && !reading.epoch_unit) reading.format = format;
  return reading;
}

std::optional<int64_t> EpochToMicros(int64_t value, std::optional<arrow::TimeUnit::type> unit) {
  if (!unit) return EpochToMicros(value);
  if (*unit == arrow::TimeUnit::NANO) return FloorDivide(value, 1000);
  int64_t micros = 0;
  if (__builtin_mul_overflow(value, ScaleOf(*unit), &micros)) return std::nullopt;
  return micros;
}

std::optional<int64_t> EpochToMicros(double value, std::optional<arrow::TimeUnit::type> unit) {
  if (!unit) return EpochToMicros(value);
  if (!std::isfinite(value)) return std::nullopt;
  double micros =
      *unit == arrow::TimeUnit::NANO ? value / 1e3 : value * static_cast<double>(ScaleOf(*unit));
  micros = std::round(micros);
  if (!(micros > -9.2e18 && micros < 9.2e18)) return std::nullopt;
  return static_cast<int64_t>(micros);
}

namespace {

/// A plain number in `text` as an epoch time in `unit` (by magnitude when unset).
std::optional<int64_t> EpochTextToMicros(std::string_view text,
                                         std::optional<arrow::TimeUnit::type> unit) {
  if (text.empty()) return std::nullopt;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;
  int64_t integer = 0;
  auto [int_end, int_error] = std::from_chars(begin, end, integer);
  if (int_error == std::errc() && int_end == end) return EpochToMicros(integer, unit);
  double number = 0;
  auto [double_end, double_error] = std::from_chars(begin, end, number);
  if (double_error == std::errc() && double_end == end) return EpochToMicros(number, unit);
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseTimestampText(std::string_view text, const TimeReading& reading) {
  if (!reading.format.empty()) return ParseFormattedTime(text, reading.format);
  text = Trim(text);
  if (auto parsed = ParseIso(text)) return parsed->micros;
  return EpochTextToMicros(text, reading.epoch_unit);
}

std::optional<int32_t> ParseDateText(std::string_view text, const TimeReading& reading) {
  if (reading.format.empty()) return ParseDateText(text);
  auto micros = ParseFormattedTime(text, reading.format);
  if (!micros) return std::nullopt;
  int64_t days = FloorDivide(*micros, kSecondsPerDay * kMicrosPerSecond);
  if (days < std::numeric_limits<int32_t>::min() || days > std::numeric_limits<int32_t>::max())
    return std::nullopt;
  return static_cast<int32_t>(days);
}

}  // namespace sluice::formats

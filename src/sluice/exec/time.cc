#include "sluice/exec/time.h"

#include "sluice/formats/time_text.h"

namespace sluice::exec {

std::string FormatTimestamp(Timestamp timestamp) {
  if (timestamp == kMinTimestamp) return "-inf";
  if (timestamp == kMaxTimestamp) return "+inf";
  std::string text;
  formats::AppendTimestampText(timestamp, arrow::TimeUnit::MICRO, /*utc=*/true, &text);
  return text;
}

}  // namespace sluice::exec

#pragma once

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/time.h"

namespace sluice::processors {

/// The `tumbling` and `sliding` options of time windows, declared once for `window` and for a
/// window `join`.
config::OptionSpec TumblingOption();
config::OptionSpec SlidingOption();

/// Reads a duration option that must be longer than 0, in microseconds.
Status ReadPositiveDuration(const config::Options& where, std::string_view name,
                            exec::Timestamp* out);

/// Reads a `sliding: {size, slide}` section: both longer than 0, the slide at most the size, and
/// at most 100000 panes (gcd(size, slide) long) per window. Errors point into the section.
Status ReadSliding(const config::Options& sliding, exec::Timestamp* size, exec::Timestamp* slide);

/// Registers the `window` processor: tumbling, sliding, session and count windows with
/// aggregate functions, fired by the watermark.
void RegisterWindow(exec::Registry* registry);

}  // namespace sluice::processors

#pragma once

#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice {

/// `status` (an error of writing `path`) with the path in its message and, when it carries an
/// OS error, that error's text and name: "cannot write 'out/a.csv': No space left on device
/// (ENOSPC)". OK stays OK.
Status DescribeWriteError(const Status& status, std::string_view verb, const std::string& path);

}  // namespace sluice

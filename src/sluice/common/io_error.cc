#include "sluice/common/io_error.h"

#include <arrow/util/io_util.h>

#include <cstring>

namespace sluice {

Status DescribeWriteError(const Status& status, std::string_view verb, const std::string& path) {
  if (status.ok()) return status;
  const int error = arrow::internal::ErrnoFromStatus(status);
  if (error == 0) return status.WithMessage("'", path, "': ", status.message());
  const char* name = strerrorname_np(error);
  return status.WithMessage("cannot ", verb, " '", path, "': ", std::strerror(error), " (",
                            name != nullptr ? name : "error", ")");
}

}  // namespace sluice

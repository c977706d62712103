#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/config/options.h"
#include "sluice/connectors/file/input_files.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"

namespace sluice::connectors {

/// The first file of a glob that can be read, opened for the run.
struct FirstFile {
  std::unique_ptr<formats::RecordReader> reader;
  size_t index = 0;
};

/// Opens the first readable file of `files` (`pattern`'s matches, at least one) and checks every
/// later file's columns against it (or against the declared schema), so that a file whose
/// columns differ is found before the run rather than after the files before it. A file that
/// cannot be opened is left to the run, where on_unreadable decides. With missing_fields: null,
/// columns only later files have are added, and the first file is opened as their union. Errors
/// point at the source's `path` in `options`.
Result<FirstFile> OpenCheckingColumns(const InputFiles& files, formats::Format format,
                                      const formats::ReadOptions& read_options,
                                      const std::string& pattern, const config::Options& options,
                                      spdlog::logger& logger);

}  // namespace sluice::connectors

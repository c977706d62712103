#pragma once

#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors {

// The options that say how records are encoded, declared once for every connector that reads
// or writes a format through a file or a pipe (file, stdin, stdout).

/// `format`; `doc` says what happens when it is left out.
config::OptionSpec FormatOptionSpec(std::string doc);

/// The decoding options after `format`: schema, time_format, delimiter, header,
/// max_record_size, on_unreadable, missing_fields.
std::vector<config::OptionSpec> ReadFormatOptionSpecs();

/// The encoding options after `format`: delimiter, header.
std::vector<config::OptionSpec> WriteFormatOptionSpecs();

/// The format named by the `format` option, or else the one `path`'s extension tells (an empty
/// `path`, standard input or output, tells none). A config error when there is neither.
Result<formats::Format> FormatFromOptions(const config::Options& options, const std::string& path);

/// The schema declared in `schema` (nullptr when there is none), with the epoch unit of each
/// timestamp_<unit> field recorded in `times`.
Result<std::shared_ptr<arrow::Schema>> DeclaredSchema(const config::Options& options,
                                                      formats::TimeReadings* times);

/// ReadOptions from the decoding options and batch_size, each checked and
/// reported at its place in the pipeline file.
Result<formats::ReadOptions> ReadOptionsFromConfig(const config::Options& options);

/// WriteOptions from delimiter and header.
Result<formats::WriteOptions> WriteOptionsFromConfig(const config::Options& options);

}  // namespace sluice::connectors

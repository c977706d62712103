#pragma once

#include <memory>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/sink.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors {

/// The file sink's `roll` option: when a part file is closed and the next one begun.
config::OptionSpec RollOptionSpec();

/// A file sink with `roll`: writes a sequence of part files named by the `path` template (see
/// PartTemplate), one open part per Hive partition, each under a hidden temporary name until it
/// is published (at the end of a bounded run, after its roll in an unbounded one) or committed
/// by a checkpoint (exactly-once). `options` are the file sink's, with `roll` given.
Result<std::unique_ptr<exec::Sink>> MakeRollingFileSink(
    const exec::ConnectorContext& context, const config::Options& options, formats::Format format,
    const formats::WriteOptions& write_options);

}  // namespace sluice::connectors

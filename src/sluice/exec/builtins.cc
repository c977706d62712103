// The one list of built-in plugins. Adding a processor or connector means adding its
// Register*() call here (see docs/dev/adding-a-processor.md).
#include "sluice/connectors/blackhole/blackhole_sink.h"
#include "sluice/connectors/console/console_sink.h"
#include "sluice/connectors/file/file_sink.h"
#include "sluice/connectors/file/file_source.h"
#include "sluice/connectors/generator/generator_source.h"
#include "sluice/exec/registry.h"
#include "sluice/processors/cast.h"
#include "sluice/processors/derive.h"
#include "sluice/processors/filter.h"
#include "sluice/processors/projection.h"
#include "sluice/processors/sql.h"

namespace sluice::exec {

const Registry& BuiltinRegistry() {
  static const Registry registry = [] {
    Registry built;
    // Sources.
    connectors::RegisterFileSource(&built);
    connectors::RegisterGeneratorSource(&built);
    // Processors.
    processors::RegisterFilter(&built);
    processors::RegisterDerive(&built);
    processors::RegisterSelect(&built);
    processors::RegisterDrop(&built);
    processors::RegisterRename(&built);
    processors::RegisterCast(&built);
    processors::RegisterSql(&built);
    // Sinks.
    connectors::RegisterFileSink(&built);
    connectors::RegisterConsoleSink(&built);
    connectors::RegisterBlackholeSink(&built);
    return built;
  }();
  return registry;
}

}  // namespace sluice::exec

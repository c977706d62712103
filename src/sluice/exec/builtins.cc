// The one list of built-in plugins. Adding a processor or connector means adding its
// Register*() call here (see docs/dev/adding-a-processor.md).
#include <arrow/compute/initialize.h>
#include <arrow/util/logging.h>

#include "sluice/connectors/amqp/amqp_sink.h"
#include "sluice/connectors/amqp/amqp_source.h"
#include "sluice/connectors/blackhole/blackhole_sink.h"
#include "sluice/connectors/console/console_sink.h"
#include "sluice/connectors/duckdb_store/duckdb_sink.h"
#include "sluice/connectors/duckdb_store/duckdb_source.h"
#include "sluice/connectors/file/file_sink.h"
#include "sluice/connectors/file/file_source.h"
#include "sluice/connectors/generator/generator_source.h"
#include "sluice/connectors/http/http_sink.h"
#include "sluice/connectors/influxdb/influxdb_sink.h"
#include "sluice/connectors/kafka/kafka_sink.h"
#include "sluice/connectors/kafka/kafka_source.h"
#include "sluice/connectors/mqtt/mqtt_sink.h"
#include "sluice/connectors/mqtt/mqtt_source.h"
#include "sluice/connectors/mysql/mysql_sink.h"
#include "sluice/connectors/nexmark/nexmark_source.h"
#include "sluice/connectors/postgres/postgres_sink.h"
#include "sluice/connectors/postgres/postgres_source.h"
#include "sluice/connectors/stdio/stdin_source.h"
#include "sluice/connectors/stdio/stdout_sink.h"
#include "sluice/exec/registry.h"
#include "sluice/processors/aggregate.h"
#include "sluice/processors/cast.h"
#include "sluice/processors/cdc.h"
#include "sluice/processors/dedup.h"
#include "sluice/processors/derive.h"
#include "sluice/processors/filter.h"
#include "sluice/processors/join.h"
#include "sluice/processors/projection.h"
#include "sluice/processors/rule.h"
#include "sluice/processors/sql.h"
#include "sluice/processors/top_n.h"
#include "sluice/processors/window.h"

namespace sluice::exec {

const Registry& BuiltinRegistry() {
  static const Registry registry = [] {
    // Arrow's compute kernels live in a library of their own that registers them on demand;
    // every processor may use them.
    ARROW_CHECK_OK(arrow::compute::Initialize());
    Registry built;
    // Sources.
    connectors::RegisterAmqpSource(&built);
    connectors::RegisterDuckDbSource(&built);
    connectors::RegisterFileSource(&built);
    connectors::RegisterGeneratorSource(&built);
    connectors::RegisterKafkaSource(&built);
    connectors::RegisterMqttSource(&built);
    connectors::RegisterNexmarkSource(&built);
    connectors::RegisterPostgresSource(&built);
    connectors::RegisterStdinSource(&built);
    // Processors.
    processors::RegisterFilter(&built);
    processors::RegisterDerive(&built);
    processors::RegisterSelect(&built);
    processors::RegisterDrop(&built);
    processors::RegisterRename(&built);
    processors::RegisterCast(&built);
    processors::RegisterSql(&built);
    processors::RegisterWindow(&built);
    processors::RegisterAggregate(&built);
    processors::RegisterDedup(&built);
    processors::RegisterCdc(&built);
    processors::RegisterRule(&built);
    processors::RegisterTopN(&built);
    processors::RegisterJoin(&built);
    // Sinks.
    connectors::RegisterAmqpSink(&built);
    connectors::RegisterFileSink(&built);
    connectors::RegisterConsoleSink(&built);
    connectors::RegisterDuckDbSink(&built);
    connectors::RegisterBlackholeSink(&built);
    connectors::RegisterInfluxDbSink(&built);
    connectors::RegisterHttpSink(&built);
    connectors::RegisterKafkaSink(&built);
    connectors::RegisterMqttSink(&built);
    connectors::RegisterMySqlSink(&built);
    connectors::RegisterPostgresSink(&built);
    connectors::RegisterStdoutSink(&built);
    return built;
  }();
  return registry;
}

}  // namespace sluice::exec

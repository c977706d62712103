#include "sluice/connectors/postgres/postgres_sink.h"

#include <utility>

#include "sluice/connectors/postgres/pg_session.h"
#include "sluice/connectors/sql/sql_sink.h"
#include "sluice/connectors/sql/table_options.h"

namespace sluice::connectors {
namespace {

config::PluginSpec PostgresSinkSpec() {
  using config::MakeOption;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "postgres";
  spec.doc =
      "Writes rows into a PostgreSQL table with binary COPY; upserts go through a temporary "
      "staging table and INSERT ... ON CONFLICT (the newest row of a key wins). Without "
      "checkpoints each input batch is one transaction, committed before the source is "
      "acknowledged (at-least-once: a crash between the commit and the acknowledgement writes "
      "the batch again, which an upsert absorbs). With checkpoints, one transaction per "
      "checkpoint also records the checkpoint's id in the table sluice_commits, so recovery "
      "neither loses nor repeats a row (exactly-once). Rows PostgreSQL refuses (a constraint "
      "violation, a value out of range or too long) become dead letters with its message; the "
      "rest of the batch is written. A lost connection is reopened with backoff and the "
      "uncommitted rows written again.";
  auto url = MakeOption("url", OptionType::kString,
                        "postgresql://user:password@host:port/database?sslmode=... (or a libpq "
                        "keyword string); use ${VAR} for the password.");
  url.required = true;
  spec.options.push_back(std::move(url));
  for (auto& option : sql::TableOptionSpecs()) spec.options.push_back(std::move(option));
  spec.options.push_back(MakeOption("exactly_once", OptionType::kBool,
                                    "With checkpoints: commit one transaction per checkpoint "
                                    "and record it in sluice_commits. false: commit at each "
                                    "checkpoint without the record (at-least-once).",
                                    "true"));
  auto batch_rows = MakeOption("batch_rows", OptionType::kInteger,
                               "Rows per COPY at most; a larger batch is copied in slices.",
                               "65536");
  batch_rows.min = 1;
  spec.options.push_back(std::move(batch_rows));
  auto connect_timeout = MakeOption("connect_timeout", OptionType::kDuration,
                                    "How long one connection attempt may take.", "10s");
  connect_timeout.min = 1000;
  spec.options.push_back(std::move(connect_timeout));
  auto reconnect_timeout =
      MakeOption("reconnect_timeout", OptionType::kDuration,
                 "How long to keep reconnecting, with backoff, after the connection was lost "
                 "before the run fails.",
                 "60s");
  reconnect_timeout.min = 0;
  spec.options.push_back(std::move(reconnect_timeout));
  spec.example =
      "sinks:\n"
      "  totals:\n"
      "    connector: postgres\n"
      "    url: postgresql://sluice:${PGPASSWORD}@db.internal:5432/shop\n"
      "    table: symbol_totals\n"
      "    create_table: true\n"
      "    mode: upsert\n"
      "    key: [symbol]\n";
  return spec;
}

Result<std::unique_ptr<exec::Sink>> MakePostgresSink(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  sql::SqlSinkSettings settings;
  settings.sink_name = context.name;
  settings.pipeline_name = context.pipeline_name;
  SLUICE_ASSIGN_OR_RAISE(settings.table,
                         sql::TableOptionsFromConfig(options, context.input_schema));
  settings.max_rows_per_write = options.GetInteger("batch_rows");
  settings.reconnect_timeout = options.GetDuration("reconnect_timeout");
  settings.exactly_once = context.checkpoints && options.GetBool("exactly_once");
  const std::string url = options.GetString("url");
  const auto connect_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.GetDuration("connect_timeout"));
  return sql::MakeSqlSink(
      std::move(settings),
      [url, connect_timeout] { return postgres::OpenPgSession(url, connect_timeout); },
      context.dead_letters);
}

}  // namespace

void RegisterPostgresSink(exec::Registry* registry) {
  registry->AddSink(PostgresSinkSpec(), MakePostgresSink);
}

}  // namespace sluice::connectors

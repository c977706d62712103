#include "sluice/connectors/mysql/mysql_sink.h"

#include <fmt/format.h>

#include <utility>

#include "sluice/config/location.h"
#include "sluice/connectors/mysql/mysql_dialect.h"
#include "sluice/connectors/mysql/mysql_session.h"
#include "sluice/connectors/mysql/mysql_url.h"
#include "sluice/connectors/mysql/mysql_values.h"
#include "sluice/connectors/sql/sql_sink.h"
#include "sluice/connectors/sql/table_options.h"

namespace sluice::connectors {
namespace {

using config::OptionSpec;
using config::OptionType;

std::chrono::seconds WholeSeconds(std::chrono::nanoseconds duration) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(duration));
}

Result<std::unique_ptr<exec::Sink>> MakeMySqlSink(const exec::ConnectorContext& context,
                                                  const config::Options& options) {
  mysql::SessionSettings session;
  auto target = mysql::ParseMySqlUrl(options.GetString("url"));
  if (!target.ok()) {
    return config::ConfigError(options.LocationOf("url"),
                               fmt::format("bad MySQL URL: {}", target.status().message()),
                               "e.g. url: mysql://user:password@127.0.0.1:3306/database");
  }
  session.target = std::move(target).ValueOrDie();
  if (options.Has("password")) session.target.password = options.GetString("password");
  if (session.target.user.empty()) {
    return config::ConfigError(options.LocationOf("url"), "the MySQL URL names no user",
                               "e.g. url: mysql://user:password@127.0.0.1:3306/database");
  }
  session.connect_timeout = WholeSeconds(options.GetDuration("connect_timeout"));
  session.io_timeout = WholeSeconds(options.GetDuration("io_timeout"));
  session.statement_bytes = options.GetInteger("statement_bytes");

  sql::SqlSinkSettings settings;
  settings.sink_name = context.name;
  settings.pipeline_name = context.pipeline_name;
  SLUICE_ASSIGN_OR_RAISE(settings.table,
                         sql::TableOptionsFromConfig(options, context.input_schema));
  if (settings.table.table.find('.') == std::string::npos && session.target.database.empty()) {
    return config::ConfigError(options.LocationOf("table"),
                               "the URL names no database, so the table needs one: "
                               "database.table",
                               "or end the URL with /database");
  }
  if (context.input_schema != nullptr) {
    // Fields that cannot be written fail at validation, not at the first batch.
    auto renderer = mysql::RowRenderer::Make(*context.input_schema);
    if (!renderer.ok()) {
      return config::ConfigError(options.where(), renderer.status().message());
    }
    if (settings.table.create_table) {
      auto create = sql::CreateTableSql(mysql::MySqlDialect::Get(), settings.table.table,
                                        *context.input_schema, settings.table.key);
      if (!create.ok()) {
        return config::ConfigError(options.LocationOf("create_table"), create.status().message());
      }
    }
  }
  settings.max_rows_per_write = options.GetInteger("rows_per_write");
  settings.reconnect_timeout = options.GetDuration("reconnect_timeout");
  // With checkpoints, one transaction per checkpoint records the checkpoint's id in
  // sluice_commits (InnoDB commits both at once): exactly-once. Without, each input batch is a
  // transaction: at-least-once, and idempotent in upsert mode.
  settings.exactly_once = context.checkpoints;
  return sql::MakeSqlSink(
      std::move(settings),
      [session]() -> Result<std::unique_ptr<sql::Session>> {
        return mysql::OpenMySqlSession(session);
      },
      context.dead_letters);
}

config::PluginSpec MySqlSinkSpec(std::string name) {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = std::move(name);
  spec.doc = spec.name == "mysql" ? "" : "The mysql sink under another name. ";
  spec.doc +=
      "Writes the stream into a MariaDB or MySQL table (InnoDB) with multi-row INSERTs, "
      "inserting or upserting (INSERT ... ON DUPLICATE KEY UPDATE); can create the table from "
      "the stream's schema. Each input batch is one transaction (at-least-once; upserts make a "
      "repeat harmless); with checkpoints one transaction per checkpoint also records it in "
      "sluice_commits (exactly-once). Rows the server refuses (duplicate key, value too long or "
      "out of range, NULL into NOT NULL) are dead letters with its message; the rest is "
      "written. A lost connection is reopened and the open transaction written again.";
  OptionSpec url{"url", OptionType::kString,
                 "The server: mysql://user:password@host:port/database (port 3306 when left "
                 "out; percent-encode '@', ':' and '/' in the user or password). Always TCP, "
                 "also for localhost."};
  url.required = true;
  OptionSpec password{"password", OptionType::kString,
                      "The password, instead of the URL's; use ${VARIABLE} to keep it out of "
                      "the file."};
  OptionSpec connect_timeout{"connect_timeout", OptionType::kDuration,
                             "How long connecting to the server may take (whole seconds).",
                             "10s"};
  connect_timeout.min = 1000;
  OptionSpec io_timeout{"io_timeout", OptionType::kDuration,
                        "How long one read or write on the connection may block before the "
                        "connection counts as lost (whole seconds).",
                        "5m"};
  io_timeout.min = 1000;
  OptionSpec reconnect_timeout{"reconnect_timeout", OptionType::kDuration,
                               "How long to keep reconnecting, with backoff, after the "
                               "connection was lost before the run fails.",
                               "60s"};
  reconnect_timeout.min = 0;
  OptionSpec statement_bytes{"statement_bytes", OptionType::kInteger,
                             "Bytes per INSERT statement at most (and under the server's "
                             "max_allowed_packet); more rows take several statements.",
                             "1048576"};
  statement_bytes.min = 4096;
  OptionSpec rows_per_write{"rows_per_write", OptionType::kInteger,
                            "Rows written at once at most; a rejected row costs a few rewrites "
                            "of its slice (halving).",
                            "65536"};
  rows_per_write.min = 1;
  spec.options = {url, password};
  for (auto& option : sql::TableOptionSpecs()) spec.options.push_back(std::move(option));
  for (auto& option :
       {connect_timeout, io_timeout, reconnect_timeout, statement_bytes, rows_per_write}) {
    spec.options.push_back(option);
  }
  spec.example =
      "sinks:\n"
      "  totals:\n"
      "    connector: " +
      spec.name +
      "\n"
      "    url: mysql://sluice:${MYSQL_PASSWORD}@127.0.0.1:3306/metrics\n"
      "    table: totals\n"
      "    create_table: true\n";
  return spec;
}

}  // namespace

void RegisterMySqlSink(exec::Registry* registry) {
  registry->AddSink(MySqlSinkSpec("mysql"), MakeMySqlSink);
  registry->AddSink(MySqlSinkSpec("mariadb"), MakeMySqlSink);
}

}  // namespace sluice::connectors

#include "sluice/connectors/postgres/postgres_source.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/postgres/pg_columns.h"
#include "sluice/connectors/postgres/pg_connection.h"
#include "sluice/exec/source_positions.h"
#include "sluice/exec/until.h"
#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

using postgres::PgBatchBuilder;
using postgres::PgColumn;
using postgres::PgConnection;
using postgres::PgResult;
using Clock = std::chrono::steady_clock;

/// The alias of the user's query inside the statements the source wraps around it.
constexpr std::string_view kQueryAlias = "sluice_query";
/// The server-side cursor each read goes through.
constexpr std::string_view kCursor = "sluice_cursor";
/// How long a waiting source sleeps at most before it checks whether a stop was requested.
constexpr auto kStopCheckInterval = std::chrono::milliseconds(50);
/// Reconnection back-off in poll mode: first wait and longest wait.
constexpr auto kFirstBackoff = std::chrono::milliseconds(200);
constexpr auto kLongestBackoff = std::chrono::seconds(5);

struct PollSettings {
  std::chrono::milliseconds interval{5000};
  std::string column;
};

/// What the factory validated and worked out by describing the query on the server.
struct SourceSettings {
  std::string url;
  std::chrono::milliseconds connect_timeout{10000};
  std::optional<PollSettings> poll;
  exec::BatchingOptions batching;
  exec::UntilOptions until;
  bool keep_positions = false;
  std::vector<PgColumn> columns;
  std::shared_ptr<arrow::Schema> schema;
  /// The statement of a bounded read, and of the first poll (no value seen yet).
  std::string first_sql;
  /// Poll mode: the statement of later polls, `... WHERE column > $1 ORDER BY column`, whose
  /// last result column is the poll column as text.
  std::string next_sql;
};

/// Rows [begin, end) of a fetched result, kept while they cannot be pushed yet.
struct HeldRows {
  std::shared_ptr<PGresult> result;
  int begin = 0;
  int end = 0;
};

/// Reads the rows of a query through a server-side cursor (DECLARE ... NO SCROLL CURSOR in a
/// read-only, repeatable-read transaction; FETCH batch_size rows at a time in binary format),
/// and pushes each fetch as a batch.
///
/// Bounded (no `poll`): one read; a lost connection fails the run, since what was read is
/// then not the whole result. Poll mode: the first read returns every row ordered by the poll
/// column, later reads (every `interval`) only those whose column is greater than the last
/// value pushed. That value is the position a checkpoint keeps. Rows that share the last value
/// of a fetch are held back until a fetch with a greater value (or the end of the result)
/// shows that none is missing, so that `column > last value` never skips a row after a restart.
/// A lost connection is retried with back-off and the read restarts from the last value pushed.
///
/// Run() runs on the source's thread; PositionAfter() on the pipeline's.
class PostgresSource final : public exec::Source {
 public:
  PostgresSource(SourceSettings settings, std::string description,
                 std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)),
        description_(std::move(description)),
        logger_(std::move(logger)) {}

  std::shared_ptr<arrow::Schema> schema() const override { return settings_.schema; }
  bool bounded() const override { return !settings_.poll || settings_.until.any(); }

  Status Run(exec::SourceOutput& out) override {
    SLUICE_ASSIGN_OR_RAISE(builder_, PgBatchBuilder::Make(settings_.columns, settings_.schema));
    until_.emplace(settings_.until);
    if (!settings_.poll) return RunBounded(out);
    return RunPolling(out);
  }

  bool checkpointable() const override { return settings_.poll.has_value(); }

  Result<std::string> PositionAfter(int64_t batches) override {
    if (!settings_.keep_positions) {
      return Status::Invalid("the postgres source keeps positions only with checkpoint:");
    }
    for (auto& [pushed, value] : positions_.TakeThrough(batches)) answered_ = {pushed, value};
    if (answered_.first != batches) {
      return Status::Invalid("the postgres source has no position after batch ", batches,
                             " (the last one recorded is after batch ", answered_.first, ")");
    }
    std::string position = "{\"after\":";
    if (answered_.second) {
      formats::AppendJsonString(*answered_.second, &position);
    } else {
      position += "null";
    }
    position += "}";
    return position;
  }

  Status RestorePosition(const std::string& position) override {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::element after;
    if (parser.parse(position).get(root) != simdjson::SUCCESS ||
        root["after"].get(after) != simdjson::SUCCESS) {
      return Status::Invalid("the postgres source's position in the checkpoint is not valid: ",
                             position);
    }
    std::string_view text;
    if (after.is_null()) {
      last_value_.reset();
    } else if (after.get_string().get(text) == simdjson::SUCCESS) {
      last_value_ = std::string(text);
    } else {
      return Status::Invalid("the postgres source's position in the checkpoint is not valid: ",
                             position);
    }
    answered_ = {0, last_value_};
    return Status::OK();
  }

 private:
  int poll_column() const { return static_cast<int>(settings_.columns.size()); }

  Status RunBounded(exec::SourceOutput& out) {
    SLUICE_ASSIGN_OR_RAISE(auto connection,
                           PgConnection::Connect(settings_.url, settings_.connect_timeout));
    logger_->info("reading the query's rows from {}", description_);
    bool stop = false;
    int64_t rows_before = rows_pushed_;
    Status status = ReadOnce(*connection, settings_.first_sql, {}, out, &stop);
    if (!status.ok() && postgres::IsConnectionLost(status)) {
      return Status::IOError(status.message(), " (after ", rows_pushed_ - rows_before,
                             " rows: the query's result is incomplete)");
    }
    SLUICE_RETURN_NOT_OK(status);
    if (until_->Reached()) logger_->info("source ends: {}", until_->reason());
    return Status::OK();
  }

  Status RunPolling(exec::SourceOutput& out) {
    std::unique_ptr<PgConnection> connection;
    auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstBackoff);
    int failures = 0;
    while (!out.stopping() && !until_->Reached()) {
      Status status;
      if (connection == nullptr) {
        auto connected = PgConnection::Connect(settings_.url, settings_.connect_timeout);
        if (connected.ok()) {
          connection = std::move(connected).ValueOrDie();
          until_->Reachable();
          if (failures > 0) {
            logger_->info("reconnected to {} after {} failed attempt(s)", description_, failures);
          } else {
            logger_->info("polling {} every {}ms by {}", description_,
                          settings_.poll->interval.count(), settings_.poll->column);
          }
        } else {
          status = connected.status();
        }
      }
      if (connection != nullptr) {
        bool stop = false;
        std::vector<const char*> parameters;
        if (last_value_) parameters.push_back(last_value_->c_str());
        status = ReadOnce(*connection, last_value_ ? settings_.next_sql : settings_.first_sql,
                          parameters, out, &stop);
        if (stop) break;
      }
      if (!status.ok()) {
        if (!postgres::IsConnectionLost(status)) return status;
        connection.reset();
        until_->Unreachable();
        ++failures;
        logger_->warn("{}; trying again in {}ms", status.message(), backoff.count());
        if (!Sleep(out, backoff)) break;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kLongestBackoff);
        continue;
      }
      failures = 0;
      backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstBackoff);
      if (until_->Reached() || !Sleep(out, settings_.poll->interval)) break;
    }
    if (until_->Reached()) logger_->info("source ends: {}", until_->reason());
    return Status::OK();
  }

  /// Waits `duration`, waking up for a stop request or the end of `until`. False when the
  /// source should end.
  bool Sleep(exec::SourceOutput& out, std::chrono::milliseconds duration) {
    const Clock::time_point end = Clock::now() + duration;
    for (Clock::time_point now = Clock::now(); now < end; now = Clock::now()) {
      if (out.stopping() || until_->Reached()) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now);
      std::this_thread::sleep_for(until_->Wait(std::min<std::chrono::milliseconds>(
          left + std::chrono::milliseconds(1), kStopCheckInterval)));
    }
    return !out.stopping() && !until_->Reached();
  }

  /// One read of `sql` through a cursor, pushing batches as rows arrive. Sets `*stop` when the
  /// run is stopping (a cancelled push).
  Status ReadOnce(PgConnection& connection, const std::string& sql,
                  const std::vector<const char*>& parameters, exec::SourceOutput& out,
                  bool* stop) {
    held_.clear();
    SLUICE_RETURN_NOT_OK(connection.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
    SLUICE_RETURN_NOT_OK(connection.Query(
        fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", kCursor, sql), parameters).status());
    bool checked = false;
    bool finished = false;
    while (!finished && !out.stopping() && !until_->Reached()) {
      const int64_t wanted = std::max<int64_t>(
          1, std::min(settings_.batching.batch_size, until_->remaining()));
      SLUICE_ASSIGN_OR_RAISE(
          PgResult fetched,
          connection.Query(fmt::format("FETCH FORWARD {} FROM {}", wanted, kCursor), {},
                           /*binary=*/true));
      if (!checked) {
        SLUICE_RETURN_NOT_OK(CheckColumns(*fetched));
        checked = true;
      }
      const int rows = PQntuples(fetched.get());
      finished = rows < wanted;
      std::shared_ptr<PGresult> result(std::move(fetched));
      int cut = rows;
      if (settings_.poll && !finished) {
        // Hold back the rows that share the last value: the next fetch may have more of them.
        while (cut > 0 && SameValue(*result, cut - 1, *result, rows - 1)) --cut;
      }
      SLUICE_RETURN_NOT_OK(Deliver(out, result, cut, stop));
      if (*stop) return connection.Exec("ROLLBACK");
      if (cut < rows) held_.push_back({result, cut, rows});
    }
    if (!out.stopping() && !until_->Reached()) {
      SLUICE_RETURN_NOT_OK(Deliver(out, nullptr, 0, stop));
    }
    held_.clear();
    // Reading is done: nothing to commit, ROLLBACK ends the snapshot and closes the cursor.
    return connection.Exec("ROLLBACK");
  }

  /// Pushes the held rows and rows [0, end) of `result` (when given) as one batch, and records
  /// the position after it.
  Status Deliver(exec::SourceOutput& out, const std::shared_ptr<PGresult>& result, int end,
                 bool* stop) {
    // The held results live until the end: the position is read from their last row.
    std::vector<HeldRows> held_rows = std::move(held_);
    held_.clear();
    const PGresult* last_result = nullptr;
    int last_row = -1;
    for (const HeldRows& held : held_rows) {
      SLUICE_RETURN_NOT_OK(builder_->AppendRows(*held.result, held.begin, held.end));
      last_result = held.result.get();
      last_row = held.end - 1;
    }
    if (result != nullptr && end > 0) {
      SLUICE_RETURN_NOT_OK(builder_->AppendRows(*result, 0, end));
      last_result = result.get();
      last_row = end - 1;
    }
    if (builder_->num_rows() == 0) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto batch, builder_->Finish());
    const int64_t num_rows = batch->num_rows();
    std::optional<std::string> value = last_value_;
    if (settings_.poll) {
      value = std::string(PQgetvalue(last_result, last_row, poll_column()),
                          static_cast<size_t>(PQgetlength(last_result, last_row, poll_column())));
    }
    // Recorded before the push: once the batch is queued, a checkpoint may ask for it.
    if (settings_.keep_positions) positions_.Add(pushed_ + 1, value);
    Status status = out.Push(std::move(batch));
    if (status.IsCancelled()) {
      *stop = true;
      return Status::OK();
    }
    SLUICE_RETURN_NOT_OK(status);
    ++pushed_;
    rows_pushed_ += num_rows;
    last_value_ = std::move(value);
    until_->Took(num_rows);
    return Status::OK();
  }

  /// Whether the poll column of row `a` of `left` and row `b` of `right` hold the same value.
  bool SameValue(const PGresult& left, int a, const PGresult& right, int b) const {
    const int column = poll_column();
    const int length = PQgetlength(&left, a, column);
    return length == PQgetlength(&right, b, column) &&
           std::memcmp(PQgetvalue(&left, a, column), PQgetvalue(&right, b, column),
                       static_cast<size_t>(length)) == 0;
  }

  /// The columns a read returns must be those the pipeline was built with.
  Status CheckColumns(const PGresult& result) const {
    const int expected = poll_column() + (settings_.poll ? 1 : 0);
    bool same = PQnfields(&result) == expected;
    for (int i = 0; same && i < poll_column(); ++i) {
      const PgColumn& column = settings_.columns[static_cast<size_t>(i)];
      same = PQftype(&result, i) == (column.read_as_text ? 25 : column.type_oid);
    }
    if (same) return Status::OK();
    return Status::Invalid(
        "the columns of the postgres source's query changed since the pipeline was built "
        "(a table was altered?); run the pipeline again to read the new columns");
  }

  const SourceSettings settings_;
  const std::string description_;
  std::shared_ptr<spdlog::logger> logger_;

  // Source thread only.
  std::unique_ptr<PgBatchBuilder> builder_;
  std::optional<exec::UntilClock> until_;
  std::vector<HeldRows> held_;
  int64_t pushed_ = 0;
  int64_t rows_pushed_ = 0;
  /// Poll mode: the poll column's value (as text) of the last row pushed, or restored.
  std::optional<std::string> last_value_;

  /// The poll value after each push.
  exec::SourcePositions<std::optional<std::string>> positions_;
  /// The last position PositionAfter() found (pipeline thread).
  std::pair<int64_t, std::optional<std::string>> answered_{0, std::nullopt};
};

/// The query as written, without the trailing semicolons and blanks a subquery cannot have.
std::string TrimQuery(std::string query) {
  while (!query.empty() && (query.back() == ';' || std::isspace(static_cast<unsigned char>(
                                                       query.back())))) {
    query.pop_back();
  }
  return query;
}

/// The statements the source runs around the user's query (SourceSettings::first_sql,
/// next_sql), reading columns without a binary decoder as text.
Status BuildStatements(PgConnection& connection, const std::string& query,
                       SourceSettings* settings) {
  bool any_text = false;
  std::string select;
  for (const PgColumn& column : settings->columns) {
    SLUICE_ASSIGN_OR_RAISE(std::string quoted, connection.QuoteIdentifier(column.name));
    if (!select.empty()) select += ", ";
    select += fmt::format("{}.{}", kQueryAlias, quoted);
    if (column.read_as_text) {
      select += fmt::format("::text AS {}", quoted);
      any_text = true;
    }
  }
  if (!settings->poll) {
    settings->first_sql =
        any_text ? fmt::format("SELECT {} FROM ({}) AS {}", select, query, kQueryAlias) : query;
    return Status::OK();
  }
  SLUICE_ASSIGN_OR_RAISE(std::string column, connection.QuoteIdentifier(settings->poll->column));
  const std::string qualified = fmt::format("{}.{}", kQueryAlias, column);
  const std::string head =
      fmt::format("SELECT {}, {}::text FROM ({}) AS {}", select, qualified, query, kQueryAlias);
  settings->first_sql =
      fmt::format("{} WHERE {} IS NOT NULL ORDER BY {}", head, qualified, qualified);
  settings->next_sql = fmt::format("{} WHERE {} > $1 ORDER BY {}", head, qualified, qualified);
  return Status::OK();
}

/// The names of the PostgreSQL types of the columns read as text, for the log.
std::string TextColumnNote(PgConnection& connection, const std::vector<PgColumn>& columns) {
  std::string note;
  for (const PgColumn& column : columns) {
    if (!column.read_as_text) continue;
    std::string oid = std::to_string(column.type_oid);
    std::string modifier = std::to_string(column.type_modifier);
    auto named = connection.Query("SELECT format_type($1::oid, $2::int)",
                                  {oid.c_str(), modifier.c_str()});
    std::string type = named.ok() && PQntuples(named->get()) == 1
                           ? PQgetvalue(named->get(), 0, 0)
                           : "oid " + oid;
    if (!note.empty()) note += ", ";
    note += fmt::format("{} ({})", column.name, type);
  }
  return note;
}

Result<std::unique_ptr<exec::Source>> MakePostgresSource(const exec::ConnectorContext& context,
                                                         const config::Options& options) {
  SourceSettings settings;
  settings.url = options.GetString("url");
  settings.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      options.GetDuration("connect_timeout"));
  settings.batching = exec::BatchingOptions::FromOptions(options);
  settings.until = exec::UntilOptions::FromOptions(options);
  settings.keep_positions = context.checkpoints;
  if (options.Has("poll")) {
    const config::Options& poll = options.GetSection("poll");
    settings.poll = PollSettings{std::chrono::duration_cast<std::chrono::milliseconds>(
                                     poll.GetDuration("interval")),
                                 poll.GetString("column")};
  }
  const std::string query = TrimQuery(options.GetString("query"));
  if (query.empty()) return config::ConfigError(options.LocationOf("query"), "the query is empty");

  // The schema comes from the server: describe the query (without running it).
  auto connected = PgConnection::Connect(settings.url, settings.connect_timeout);
  if (!connected.ok()) {
    return config::ConfigError(options.LocationOf("url"), connected.status().message(),
                               "the source asks the database for the query's columns when the "
                               "pipeline is built");
  }
  std::unique_ptr<PgConnection> connection = std::move(connected).ValueOrDie();
  auto described = connection->Describe(query);
  if (!described.ok()) {
    return config::ConfigError(
        options.LocationOf("query"),
        fmt::format("PostgreSQL rejects the query: {}",
                    described.status().message().substr(
                        described.status().message().find(": ") + 2)));
  }
  settings.columns = postgres::DescribeColumns(**described);
  if (settings.columns.empty()) {
    return config::ConfigError(options.LocationOf("query"), "the query returns no columns",
                               "the source reads the rows of a SELECT");
  }
  std::set<std::string> names;
  arrow::FieldVector fields;
  for (const PgColumn& column : settings.columns) {
    if (!names.insert(column.name).second) {
      return config::ConfigError(options.LocationOf("query"),
                                 fmt::format("the query returns two columns named '{}'",
                                             column.name),
                                 "give each column its own name with AS");
    }
    fields.push_back(arrow::field(column.name, column.type));
  }
  if (settings.poll && names.count(settings.poll->column) == 0) {
    std::string list;
    for (const PgColumn& column : settings.columns) list += (list.empty() ? "" : ", ") + column.name;
    return config::ConfigError(
        options.GetSection("poll").LocationOf("column"),
        fmt::format("the query returns no column '{}' to poll by", settings.poll->column),
        fmt::format("its columns: {}", list));
  }
  settings.schema = arrow::schema(std::move(fields));
  SLUICE_RETURN_NOT_OK(BuildStatements(*connection, query, &settings));
  // The wrapped statements must be valid too (the poll column must be orderable).
  for (const std::string* sql : {&settings.first_sql, &settings.next_sql}) {
    if (sql->empty()) continue;
    auto checked = connection->Describe(*sql);
    if (!checked.ok()) {
      return config::ConfigError(
          settings.poll ? options.GetSection("poll").LocationOf("column")
                        : options.LocationOf("query"),
          fmt::format("PostgreSQL rejects the polling query: {}", checked.status().message()));
    }
  }
  auto logger = ComponentLogger(fmt::format("source {}", context.name));
  std::string note = TextColumnNote(*connection, settings.columns);
  if (!note.empty()) logger->info("columns read as text (no native mapping): {}", note);
  std::string description = connection->description();
  return std::make_unique<PostgresSource>(std::move(settings), std::move(description),
                                          std::move(logger));
}

config::PluginSpec PostgresSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "postgres";
  spec.doc =
      "Reads the rows of a PostgreSQL query through a server-side cursor, batch_size rows per "
      "fetch, so that a large result streams in bounded memory. The columns and their types come "
      "from the database when the pipeline is built (sluice validate asks it too): bool, "
      "int2/4/8, float4/8, numeric(p,s) up to 38 digits (decimal; other numerics: double), "
      "text/varchar/char, json/jsonb and uuid (string), bytea (binary), date, timestamp and "
      "timestamptz (timestamp, UTC); other types are read as their text. Bounded, unless poll: "
      "is given: then the query runs again every interval for the rows whose poll column is "
      "greater than the last value read, which is also the source's checkpoint position.";
  OptionSpec url{"url", OptionType::kString,
                 "postgresql://user:password@host:port/database?sslmode=... (a libpq URL or "
                 "keyword string). Put the password in the environment: ${PGPASSWORD_VAR}; it "
                 "never appears in messages."};
  url.required = true;
  OptionSpec query{"query", OptionType::kString,
                   "The SELECT to read. In poll mode it runs as a subquery: SELECT ... FROM "
                   "(query) WHERE column > last value ORDER BY column."};
  query.required = true;
  OptionSpec poll{"poll", OptionType::kSection,
                  "Incremental polling: the source does not end, and re-runs the query every "
                  "interval for rows whose column is greater than the last value read. Rows "
                  "where the column is null are never read."};
  OptionSpec column{"column", OptionType::kString,
                    "The column that grows with every new row (a serial id, an updated_at "
                    "timestamp); the query must return it."};
  column.required = true;
  OptionSpec interval{"interval", OptionType::kDuration,
                      "How long to wait after a poll that read everything before the next one.",
                      "5s"};
  interval.min = 10;
  poll.fields = {interval, column};
  OptionSpec connect_timeout{"connect_timeout", OptionType::kDuration,
                             "How long a connection attempt may take (whole seconds, at least "
                             "2s).",
                             "10s"};
  connect_timeout.min = 1000;
  spec.options = {url, query, poll, connect_timeout, exec::UntilOptionSpec()};
  spec.example =
      "sources:\n"
      "  orders:\n"
      "    connector: postgres\n"
      "    url: postgresql://reader:${PG_PASSWORD}@db.example.com:5432/shop\n"
      "    query: SELECT id, customer, amount, updated_at FROM orders\n"
      "    poll: {interval: 5s, column: updated_at}\n"
      "    event_time: updated_at\n";
  return spec;
}

}  // namespace

void RegisterPostgresSource(exec::Registry* registry) {
  registry->AddSource(PostgresSourceSpec(), MakePostgresSource);
}

}  // namespace sluice::connectors

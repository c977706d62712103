#pragma once

#include <amqp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/common/tls_options.h"

// What the AMQP 0-9-1 (RabbitMQ) source and sink share: the broker's URL and TLS settings, one
// connection with one channel, declarations, reconnecting with backoff, and turning the client
// library's replies into Status. rabbitmq-c does not throw; a connection is not thread-safe, so
// each Connection is used by one thread at a time.

namespace sluice::connectors::amqp {

/// Where and how to connect, from the `url`, `tls`, `heartbeat` and `connect_timeout` options.
struct ConnectionSettings {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost = "/";
  bool tls = false;
  TlsSettings tls_settings;
  std::chrono::seconds heartbeat{30};
  /// How long a bounded run keeps retrying an unreachable broker before it fails.
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(30)};
  /// Whether retrying stops after connect_timeout (a bounded run) or goes on for ever.
  bool give_up = false;

  /// The URL without the password, for messages: amqp://guest@127.0.0.1:5672/%2F.
  std::string Describe() const;
};

/// The options both the source and the sink accept: `url`, `tls`, `heartbeat`,
/// `connect_timeout` and `declare`.
std::vector<config::OptionSpec> ConnectionOptionSpecs();

/// Reads ConnectionSettings; a URL that does not parse is a configuration error at `url`.
Result<ConnectionSettings> ConnectionSettingsFromConfig(const config::Options& options,
                                                        bool bounded);

/// What to declare on the broker before consuming or publishing (`declare:`), so that a
/// pipeline can run against an empty broker. Declaring what exists with the same settings is a
/// no-op; with different settings the broker refuses (406 PRECONDITION_FAILED), which fails the
/// run with its reply.
struct Declarations {
  std::string exchange;
  std::string exchange_type = "direct";
  bool exchange_durable = true;
  /// Empty when no queue is declared.
  std::string queue;
  bool queue_durable = true;
  /// Queue arguments (x-max-length, x-dead-letter-exchange, ...): integers and booleans as
  /// written are sent as such, the rest as text.
  std::vector<std::pair<std::string, std::string>> queue_arguments;
  /// Routing keys binding `queue` to `exchange`.
  std::vector<std::string> bindings;

  bool empty() const { return exchange.empty() && queue.empty(); }
};

/// Reads `declare:`. `queue` is the source's queue (the queue declared, whose name the section
/// may repeat), or empty for the sink (whose section names its queue).
Result<Declarations> DeclarationsFromConfig(const config::Options& options,
                                            const std::string& queue);

/// The AMQP channel every Connection opens; one channel per connection.
constexpr amqp_channel_t kChannel = 1;

/// How an operation on the broker failed: the connection is gone (retry on a new one), or the
/// broker refused what was asked on the channel (a missing queue, a precondition): fatal.
enum class Failure { kNone, kConnection, kChannel };

/// One TCP (or TLS) connection to a broker, logged in, with channel kChannel open. Closes both
/// when destroyed. Not thread-safe.
class Connection {
 public:
  /// Connects once: opens the socket (within connect_timeout, at most 10 s), logs in and opens
  /// the channel. An error says why (refused, ACCESS_REFUSED with the broker's text, ...).
  static Result<std::unique_ptr<Connection>> Open(const ConnectionSettings& settings);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  amqp_connection_state_t state() const { return state_; }

  /// Whether the connection can still be used (no connection-level failure seen).
  bool usable() const { return failure_ == Failure::kNone; }
  Failure failure() const { return failure_; }

  /// Converts the reply of an RPC into a Status and records the failure: a library error or
  /// connection.close (IOError, Failure::kConnection), channel.close (ExecutionError,
  /// Failure::kChannel). `context` says what was being done ("consuming from queue 'orders'").
  Status Check(const amqp_rpc_reply_t& reply, std::string_view context);

  /// Like Check(), for a library status code (amqp_basic_publish, amqp_basic_ack, ...).
  Status CheckCode(int code, std::string_view context);

  /// Handles a method frame the broker sent outside an RPC: channel.close and connection.close
  /// (answered with their close-ok) become errors as in Check(); anything else is OK.
  Status HandleAsyncMethod(const amqp_method_t& method, std::string_view context);

  /// Declares `declarations` on the channel.
  Status Declare(const Declarations& declarations);

  /// Sends a heartbeat frame, for a client that waits without reading (the pipeline is full):
  /// the broker would otherwise close a connection silent for two heartbeat intervals.
  Status SendHeartbeat();

 private:
  explicit Connection(amqp_connection_state_t state) : state_(state) {}

  /// The error for a connection.close or channel.close method, answered with its close-ok.
  Status Closed(const amqp_method_t& method, std::string_view context);

  amqp_connection_state_t state_;
  Failure failure_ = Failure::kNone;
  bool channel_open_ = false;
};

/// Connects (Connection::Open), retrying with growing delays (0.1 s doubling to 5 s) while the
/// broker cannot be reached or refuses the login, each failure logged as a warning. Gives up
/// after connect_timeout when settings.give_up, with the last reason. Returns Cancelled when
/// `stopping` turns true meanwhile. `prepare` runs on each new connection (declare, qos,
/// consume); a connection-level failure there is retried like a failed connect, a channel-level
/// one (the broker refused) is returned at once.
Result<std::unique_ptr<Connection>> ConnectWithBackoff(
    const ConnectionSettings& settings, spdlog::logger& logger,
    const std::function<bool()>& stopping,
    const std::function<Status(Connection&)>& prepare);

/// A table of AMQP field values built from text and numbers, owning its memory.
class FieldTable {
 public:
  void AddText(std::string key, std::string value);
  void AddInteger(std::string key, int64_t value);
  void AddDouble(std::string key, double value);
  void AddBool(std::string key, bool value);
  /// Adds `value` as written: an integer or a boolean when it reads as one, text otherwise.
  void AddParsed(std::string key, const std::string& value);
  bool empty() const { return keys_.empty(); }
  void Clear();
  /// Valid until the table changes.
  amqp_table_t table();

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> texts_;
  std::vector<amqp_field_value_t> values_;
  std::vector<amqp_table_entry_t> entries_;
};

/// Renders `table` (message headers) as a JSON object; nested tables and arrays as JSON too.
std::string TableToJson(const amqp_table_t& table);

/// `bytes` as a string view.
inline std::string_view View(const amqp_bytes_t& bytes) {
  return {static_cast<const char*>(bytes.bytes), bytes.len};
}

/// `text` as amqp_bytes_t (not owning).
inline amqp_bytes_t Bytes(std::string_view text) {
  return {text.size(), const_cast<char*>(text.data())};
}

}  // namespace sluice::connectors::amqp

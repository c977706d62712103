#include "sluice/connectors/amqp/amqp_client.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <thread>

#include "sluice/config/location.h"
#include "sluice/formats/json_row_encoder.h"

namespace sluice::connectors::amqp {
namespace {

struct timeval ToTimeval(std::chrono::microseconds duration) {
  struct timeval value;
  value.tv_sec = static_cast<time_t>(duration.count() / 1000000);
  value.tv_usec = static_cast<suseconds_t>(duration.count() % 1000000);
  return value;
}

/// Percent-encodes a vhost for the URL shown in messages ("/" is %2F).
std::string EncodeVhost(const std::string& vhost) {
  std::string encoded;
  for (char c : vhost) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      encoded += c;
    } else {
      encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return encoded;
}

config::OptionSpec DeclareSpec() {
  using config::OptionSpec;
  using config::OptionType;
  OptionSpec exchange_name{"name", OptionType::kString, "The exchange's name."};
  exchange_name.required = true;
  OptionSpec exchange_type{"type", OptionType::kEnum, "The exchange type.", "direct"};
  exchange_type.choices = {"direct", "fanout", "topic", "headers"};
  OptionSpec exchange_durable{"durable", OptionType::kBool,
                              "The exchange survives a broker restart.", "true"};
  OptionSpec exchange{"exchange", OptionType::kSection, "An exchange to declare."};
  exchange.fields = {exchange_name, exchange_type, exchange_durable};
  exchange.short_field = "name";

  OptionSpec queue_name{
      "name", OptionType::kString,
      "The queue's name; for a source, its `queue` (which this may repeat)."};
  OptionSpec queue_durable{"durable", OptionType::kBool,
                           "The queue survives a broker restart (with persistent messages, so "
                           "do they).",
                           "true"};
  OptionSpec queue_arguments{
      "arguments", OptionType::kStringMap,
      "Queue arguments, e.g. {x-max-length: 10000, x-dead-letter-exchange: rejected, "
      "x-queue-type: quorum}; integers and true/false are sent as such, the rest as text."};
  OptionSpec queue{"queue", OptionType::kSection, "A queue to declare."};
  queue.fields = {queue_name, queue_durable, queue_arguments};

  OptionSpec bindings{"bindings", OptionType::kStringList,
                      "Routing keys (patterns for a topic exchange) that bind the queue to the "
                      "exchange."};
  OptionSpec declare{
      "declare", OptionType::kSection,
      "Exchange, queue and bindings to declare before reading or writing, so that the pipeline "
      "runs against an empty broker; declaring what exists with the same settings changes "
      "nothing."};
  declare.fields = {exchange, queue, bindings};
  return declare;
}

std::string ReplyText(const amqp_bytes_t& text) { return std::string(View(text)); }

}  // namespace

std::string ConnectionSettings::Describe() const {
  std::string user_part = user.empty() ? std::string() : user + "@";
  // The default vhost "/" as a bare trailing slash, as users write it.
  return fmt::format("{}://{}{}:{}/{}", tls ? "amqps" : "amqp", user_part, host, port,
                     vhost == "/" ? std::string() : EncodeVhost(vhost));
}

std::vector<config::OptionSpec> ConnectionOptionSpecs() {
  using config::OptionSpec;
  using config::OptionType;
  OptionSpec url{"url", OptionType::kString,
                 "The broker: amqp://user:password@host:port/vhost, or amqps:// for TLS. The "
                 "vhost is percent-encoded (%2F is /; left out, it is /).",
                 "amqp://guest:guest@127.0.0.1:5672/"};
  OptionSpec heartbeat{"heartbeat", OptionType::kDuration,
                       "The heartbeat interval agreed with the broker (0 turns heartbeats off): "
                       "a silent connection is found dead after two intervals.",
                       "30s"};
  heartbeat.min = 0;
  OptionSpec connect_timeout{
      "connect_timeout", OptionType::kDuration,
      "How long a bounded run (until:, or a sink of a bounded pipeline) keeps retrying an "
      "unreachable broker or a refused login before it fails. Unbounded runs retry for ever, "
      "logging each failure, with backoff up to 5s.",
      "30s"};
  connect_timeout.min = 1;
  return {url, TlsOptionSpec("amqps"), heartbeat, connect_timeout, DeclareSpec()};
}

Result<ConnectionSettings> ConnectionSettingsFromConfig(const config::Options& options,
                                                        bool bounded) {
  ConnectionSettings settings;
  std::string url = options.GetString("url");
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  int code = amqp_parse_url(buffer.data(), &info);
  if (code != AMQP_STATUS_OK || info.host == nullptr || *info.host == '\0') {
    return config::ConfigError(options.LocationOf("url"),
                               fmt::format("'{}' is not an AMQP URL", url),
                               "e.g. amqp://guest:guest@127.0.0.1:5672/ or amqps://... for TLS");
  }
  settings.host = info.host;
  settings.port = info.port;
  settings.user = info.user == nullptr ? "" : info.user;
  settings.password = info.password == nullptr ? "" : info.password;
  settings.vhost = info.vhost == nullptr || *info.vhost == '\0' ? "/" : info.vhost;
  settings.tls = info.ssl != 0;
  SLUICE_ASSIGN_OR_RAISE(settings.tls_settings,
                         TlsSettingsFromConfig(options, settings.tls, "amqps://host:5671/"));
  settings.heartbeat =
      std::chrono::duration_cast<std::chrono::seconds>(options.GetDuration("heartbeat"));
  settings.connect_timeout = options.GetDuration("connect_timeout");
  settings.give_up = bounded;
  return settings;
}

Result<Declarations> DeclarationsFromConfig(const config::Options& options,
                                            const std::string& queue) {
  Declarations declarations;
  if (!options.Has("declare")) return declarations;
  const config::Options& declare = options.GetSection("declare");
  if (declare.Has("exchange")) {
    const config::Options& exchange = declare.GetSection("exchange");
    declarations.exchange = exchange.GetString("name");
    declarations.exchange_type = exchange.GetString("type");
    declarations.exchange_durable = exchange.GetBool("durable");
  }
  if (declare.Has("queue")) {
    const config::Options& section = declare.GetSection("queue");
    if (section.Has("name")) {
      declarations.queue = section.GetString("name");
      if (!queue.empty() && declarations.queue != queue) {
        return config::ConfigError(section.LocationOf("name"),
                                   fmt::format("the source reads queue '{}', not '{}'", queue,
                                               declarations.queue),
                                   "leave out name: the source's queue is declared");
      }
    } else if (queue.empty()) {
      return config::ConfigError(declare.LocationOf("queue"), "name the queue to declare",
                                 "e.g. queue: {name: orders}");
    } else {
      declarations.queue = queue;
    }
    declarations.queue_durable = section.GetBool("durable");
    for (const auto& [name, value] : section.GetMap("arguments")) {
      declarations.queue_arguments.emplace_back(name, value.text);
    }
  } else if (!queue.empty() && declare.Has("bindings")) {
    declarations.queue = queue;
  }
  if (declare.Has("bindings")) {
    declarations.bindings = declare.GetStringList("bindings");
    if (declarations.exchange.empty() || declarations.queue.empty()) {
      return config::ConfigError(declare.LocationOf("bindings"),
                                 "bindings need an exchange and a queue to bind",
                                 "declare exchange: {name: ..., type: ...} too");
    }
  }
  return declarations;
}

// Connection ---------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectionSettings& settings) {
  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) return Status::OutOfMemory("cannot create an AMQP connection");
  std::unique_ptr<Connection> connection(new Connection(state));
  amqp_socket_t* socket = settings.tls ? amqp_ssl_socket_new(state) : amqp_tcp_socket_new(state);
  if (socket == nullptr) return Status::IOError("cannot create a socket for ", settings.Describe());
  if (settings.tls) {
    const TlsSettings& tls = settings.tls_settings;
    amqp_ssl_socket_set_verify_peer(socket, tls.verify ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(socket, tls.verify ? 1 : 0);
    if (!tls.ca.empty() && amqp_ssl_socket_set_cacert(socket, tls.ca.c_str()) != AMQP_STATUS_OK)
      return Status::Invalid("cannot read the CA certificates in '", tls.ca, "'");
    if (!tls.cert.empty() &&
        amqp_ssl_socket_set_key(socket, tls.cert.c_str(), tls.key.c_str()) != AMQP_STATUS_OK) {
      return Status::Invalid("cannot read the client certificate '", tls.cert, "' and key '",
                             tls.key, "'");
    }
  }
  auto open_within = std::min<std::chrono::microseconds>(
      std::chrono::duration_cast<std::chrono::microseconds>(settings.connect_timeout),
      std::chrono::seconds(10));
  struct timeval open_timeout = ToTimeval(open_within);
  int code = amqp_socket_open_noblock(socket, settings.host.c_str(), settings.port, &open_timeout);
  if (code != AMQP_STATUS_OK) {
    connection->failure_ = Failure::kConnection;
    return Status::IOError(fmt::format("cannot connect to {}: {}", settings.Describe(),
                                       amqp_error_string2(code)));
  }
  // Neither the handshake nor any later RPC may hang on a broker that stopped answering.
  struct timeval rpc_timeout = ToTimeval(std::chrono::seconds(30));
  amqp_set_handshake_timeout(state, &open_timeout);
  amqp_set_rpc_timeout(state, &rpc_timeout);

  // Announce the capabilities Sluice handles: basic.cancel when the queue is deleted, and a
  // connection.close with the reason when the login is refused.
  amqp_table_entry_t capability_entries[3];
  capability_entries[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capability_entries[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability_entries[0].value.value.boolean = 1;
  capability_entries[1].key = amqp_cstring_bytes("authentication_failure_close");
  capability_entries[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability_entries[1].value.value.boolean = 1;
  capability_entries[2].key = amqp_cstring_bytes("publisher_confirms");
  capability_entries[2].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability_entries[2].value.value.boolean = 1;
  amqp_table_entry_t property_entries[3];
  property_entries[0].key = amqp_cstring_bytes("capabilities");
  property_entries[0].value.kind = AMQP_FIELD_KIND_TABLE;
  property_entries[0].value.value.table = {3, capability_entries};
  property_entries[1].key = amqp_cstring_bytes("product");
  property_entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
  property_entries[1].value.value.bytes = amqp_cstring_bytes("Sluice");
  property_entries[2].key = amqp_cstring_bytes("connection_name");
  property_entries[2].value.kind = AMQP_FIELD_KIND_UTF8;
  property_entries[2].value.value.bytes = amqp_cstring_bytes("sluice");
  amqp_table_t properties = {3, property_entries};

  int heartbeat = static_cast<int>(settings.heartbeat.count());
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      state, settings.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat, &properties,
      AMQP_SASL_METHOD_PLAIN, settings.user.c_str(), settings.password.c_str());
  SLUICE_RETURN_NOT_OK(
      connection->Check(reply, fmt::format("logging in to {}", settings.Describe())));
  amqp_channel_open(state, kChannel);
  SLUICE_RETURN_NOT_OK(connection->Check(amqp_get_rpc_reply(state), "opening a channel"));
  connection->channel_open_ = true;
  return connection;
}

Connection::~Connection() {
  if (failure_ == Failure::kNone) {
    if (channel_open_) amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

Status Connection::Check(const amqp_rpc_reply_t& reply, std::string_view context) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::OK();
    case AMQP_RESPONSE_NONE:
      failure_ = Failure::kConnection;
      return Status::IOError(fmt::format("{}: the broker's reply is missing", context));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return CheckCode(reply.library_error, context);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return Closed(reply.reply, context);
  }
  failure_ = Failure::kConnection;
  return Status::IOError(fmt::format("{}: unknown reply", context));
}

Status Connection::CheckCode(int code, std::string_view context) {
  if (code >= 0) return Status::OK();
  failure_ = Failure::kConnection;
  std::string hint;
  if (code == AMQP_STATUS_CONNECTION_CLOSED || code == AMQP_STATUS_SOCKET_CLOSED) {
    hint = " (the broker closed the connection; a wrong vhost or credentials, or the broker "
           "shutting down)";
  }
  return Status::IOError(fmt::format("{}: {}{}", context, amqp_error_string2(code), hint));
}

Status Connection::HandleAsyncMethod(const amqp_method_t& method, std::string_view context) {
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD || method.id == AMQP_CONNECTION_CLOSE_METHOD)
    return Closed(method, context);
  return Status::OK();
}

Status Connection::Closed(const amqp_method_t& method, std::string_view context) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
    amqp_connection_close_ok_t close_ok;
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
    failure_ = Failure::kConnection;
    return Status::IOError(fmt::format("{}: the broker closed the connection: {} {}", context,
                                       close->reply_code, ReplyText(close->reply_text)));
  }
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
    amqp_channel_close_ok_t close_ok;
    amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    channel_open_ = false;
    failure_ = Failure::kChannel;
    return Status::ExecutionError(fmt::format("{}: the broker refused: {} {}", context,
                                              close->reply_code, ReplyText(close->reply_text)));
  }
  failure_ = Failure::kConnection;
  return Status::IOError(fmt::format("{}: unexpected method {}", context,
                                     amqp_method_name(method.id)));
}

Status Connection::Declare(const Declarations& declarations) {
  if (!declarations.exchange.empty()) {
    amqp_exchange_declare(state_, kChannel, Bytes(declarations.exchange),
                          Bytes(declarations.exchange_type), 0, declarations.exchange_durable,
                          0, 0, amqp_empty_table);
    SLUICE_RETURN_NOT_OK(Check(amqp_get_rpc_reply(state_),
                               fmt::format("declaring exchange '{}'", declarations.exchange)));
  }
  if (!declarations.queue.empty()) {
    FieldTable arguments;
    for (const auto& [name, value] : declarations.queue_arguments) arguments.AddParsed(name, value);
    amqp_queue_declare(state_, kChannel, Bytes(declarations.queue), 0, declarations.queue_durable,
                       0, 0, arguments.table());
    SLUICE_RETURN_NOT_OK(Check(amqp_get_rpc_reply(state_),
                               fmt::format("declaring queue '{}'", declarations.queue)));
  }
  for (const auto& key : declarations.bindings) {
    amqp_queue_bind(state_, kChannel, Bytes(declarations.queue), Bytes(declarations.exchange),
                    Bytes(key), amqp_empty_table);
    SLUICE_RETURN_NOT_OK(Check(amqp_get_rpc_reply(state_),
                               fmt::format("binding queue '{}' to exchange '{}' with '{}'",
                                           declarations.queue, declarations.exchange, key)));
  }
  return Status::OK();
}

Status Connection::SendHeartbeat() {
  if (amqp_get_heartbeat(state_) == 0) return Status::OK();
  amqp_frame_t frame;
  std::memset(&frame, 0, sizeof(frame));
  frame.frame_type = AMQP_FRAME_HEARTBEAT;
  frame.channel = 0;
  return CheckCode(amqp_send_frame(state_, &frame), "sending a heartbeat");
}

Result<std::unique_ptr<Connection>> ConnectWithBackoff(
    const ConnectionSettings& settings, spdlog::logger& logger,
    const std::function<bool()>& stopping,
    const std::function<Status(Connection&)>& prepare) {
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + settings.connect_timeout;
  auto backoff = std::chrono::milliseconds(100);
  int attempts = 0;
  while (true) {
    ++attempts;
    Result<std::unique_ptr<Connection>> opened = Connection::Open(settings);
    Status status = opened.status();
    if (opened.ok()) {
      std::unique_ptr<Connection> connection = std::move(opened).ValueOrDie();
      status = prepare(*connection);
      if (status.ok()) {
        if (attempts > 1) logger.info("connected to {} after {} attempts", settings.Describe(),
                                      attempts);
        return connection;
      }
      if (connection->failure() == Failure::kChannel) return status;
    } else if (!status.IsIOError()) {
      return status;  // a TLS file that cannot be read: retrying would not help
    }
    auto now = std::chrono::steady_clock::now();
    if (settings.give_up && now + backoff > deadline) {
      return Status::IOError(fmt::format(
          "{} (gave up after {} attempts in {:.1f}s, connect_timeout)", status.message(),
          attempts, std::chrono::duration<double>(now - started).count()));
    }
    logger.warn("{}; retrying in {}ms", status.message(), backoff.count());
    auto wake = now + backoff;
    while (std::chrono::steady_clock::now() < wake) {
      if (stopping()) return Status::Cancelled("stopping");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
  }
}

// FieldTable ---------------------------------------------------------------------------------

void FieldTable::AddText(std::string key, std::string value) {
  keys_.push_back(std::move(key));
  texts_.push_back(std::move(value));
  amqp_field_value_t field;
  field.kind = AMQP_FIELD_KIND_UTF8;
  // The bytes are pointed at in table(), once the vectors stop moving.
  field.value.bytes = amqp_empty_bytes;
  field.value.i64 = static_cast<int64_t>(texts_.size() - 1);
  values_.push_back(field);
}

void FieldTable::AddInteger(std::string key, int64_t value) {
  keys_.push_back(std::move(key));
  amqp_field_value_t field;
  field.kind = AMQP_FIELD_KIND_I64;
  field.value.i64 = value;
  values_.push_back(field);
}

void FieldTable::AddDouble(std::string key, double value) {
  keys_.push_back(std::move(key));
  amqp_field_value_t field;
  field.kind = AMQP_FIELD_KIND_F64;
  field.value.f64 = value;
  values_.push_back(field);
}

void FieldTable::AddBool(std::string key, bool value) {
  keys_.push_back(std::move(key));
  amqp_field_value_t field;
  field.kind = AMQP_FIELD_KIND_BOOLEAN;
  field.value.boolean = value ? 1 : 0;
  values_.push_back(field);
}

void FieldTable::AddParsed(std::string key, const std::string& value) {
  int64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (!value.empty() && error == std::errc() && end == value.data() + value.size()) {
    AddInteger(std::move(key), number);
  } else if (value == "true" || value == "false") {
    AddBool(std::move(key), value == "true");
  } else {
    AddText(std::move(key), value);
  }
}

void FieldTable::Clear() {
  keys_.clear();
  texts_.clear();
  values_.clear();
  entries_.clear();
}

amqp_table_t FieldTable::table() {
  entries_.clear();
  size_t text = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    amqp_table_entry_t entry;
    entry.key = Bytes(keys_[i]);
    entry.value = values_[i];
    if (entry.value.kind == AMQP_FIELD_KIND_UTF8) entry.value.value.bytes = Bytes(texts_[text++]);
    entries_.push_back(entry);
  }
  return {static_cast<int>(entries_.size()), entries_.data()};
}

// Headers as JSON ----------------------------------------------------------------------------

namespace {

void AppendFieldJson(const amqp_field_value_t& value, std::string* out);

void AppendTableJson(const amqp_table_t& table, std::string* out) {
  out->push_back('{');
  for (int i = 0; i < table.num_entries; ++i) {
    if (i > 0) out->push_back(',');
    formats::AppendJsonString(View(table.entries[i].key), out);
    out->push_back(':');
    AppendFieldJson(table.entries[i].value, out);
  }
  out->push_back('}');
}

void AppendFieldJson(const amqp_field_value_t& value, std::string* out) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
      out->append(value.value.boolean ? "true" : "false");
      break;
    case AMQP_FIELD_KIND_I8:
      out->append(std::to_string(value.value.i8));
      break;
    case AMQP_FIELD_KIND_U8:
      out->append(std::to_string(value.value.u8));
      break;
    case AMQP_FIELD_KIND_I16:
      out->append(std::to_string(value.value.i16));
      break;
    case AMQP_FIELD_KIND_U16:
      out->append(std::to_string(value.value.u16));
      break;
    case AMQP_FIELD_KIND_I32:
      out->append(std::to_string(value.value.i32));
      break;
    case AMQP_FIELD_KIND_U32:
      out->append(std::to_string(value.value.u32));
      break;
    case AMQP_FIELD_KIND_I64:
      out->append(std::to_string(value.value.i64));
      break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      out->append(std::to_string(value.value.u64));
      break;
    case AMQP_FIELD_KIND_F32:
      out->append(fmt::format("{}", value.value.f32));
      break;
    case AMQP_FIELD_KIND_F64:
      out->append(fmt::format("{}", value.value.f64));
      break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      formats::AppendJsonString(View(value.value.bytes), out);
      break;
    case AMQP_FIELD_KIND_TABLE:
      AppendTableJson(value.value.table, out);
      break;
    case AMQP_FIELD_KIND_ARRAY:
      out->push_back('[');
      for (int i = 0; i < value.value.array.num_entries; ++i) {
        if (i > 0) out->push_back(',');
        AppendFieldJson(value.value.array.entries[i], out);
      }
      out->push_back(']');
      break;
    default:
      out->append("null");
      break;
  }
}

}  // namespace

std::string TableToJson(const amqp_table_t& table) {
  std::string json;
  AppendTableJson(table, &json);
  return json;
}

}  // namespace sluice::connectors::amqp

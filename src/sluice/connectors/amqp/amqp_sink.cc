#include "sluice/connectors/amqp/amqp_sink.h"

#include <arrow/array.h>
#include <arrow/compute/api.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/config/location.h"
#include "sluice/connectors/amqp/amqp_client.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/formats/message_codec.h"

namespace sluice::connectors {
namespace {

using amqp::Connection;

/// The row a message stands for when it carries a whole batch (format: arrow).
constexpr int64_t kWholeBatch = -1;

/// Publishes between two looks at the broker's confirms, so that they never pile up unread.
constexpr int kPublishesPerDrain = 256;

struct SinkSettings {
  std::string name;
  amqp::ConnectionSettings connection;
  amqp::Declarations declarations;
  std::string exchange;
  std::string routing_key;
  std::string routing_key_field;
  std::vector<std::string> header_fields;
  std::string message_id_field;
  bool persistent = true;
  bool mandatory = true;
  int max_retries = 3;
  std::chrono::nanoseconds confirm_timeout{std::chrono::seconds(30)};
  int64_t max_message_size = 128 * 1024 * 1024;
  formats::PayloadEncoding encoding;
  /// Built by the factory when it knows the rows' schema, else by Open().
  std::unique_ptr<formats::PayloadEncoder> encoder;
  config::Location where;
};

/// The content type of payloads of `format`.
const char* ContentType(formats::MessageFormat format) {
  switch (format) {
    case formats::MessageFormat::kJson:
      return "application/json";
    case formats::MessageFormat::kCsv:
      return "text/csv";
    case formats::MessageFormat::kAvro:
      return "avro/binary";
    case formats::MessageFormat::kArrow:
      return "application/vnd.apache.arrow.stream";
    case formats::MessageFormat::kRaw:
      return "text/plain";
  }
  return "application/octet-stream";
}

/// One message of the batch being written.
struct Outgoing {
  enum class State { kPending, kConfirmed, kNacked, kReturned };
  int64_t row = 0;
  std::string routing_key;
  std::string payload;
  std::string message_id;
  bool has_message_id = false;
  amqp::FieldTable headers;
  State state = State::kPending;
  /// Whether it was published on the current connection and awaits its confirm.
  bool in_flight = false;
  std::string reason;
};

/// Publishes one message per row (one per batch with format arrow) to an exchange on a
/// channel in confirm mode. Write() returns once the broker confirmed every message of the
/// batch, so that "Write returned OK" means "RabbitMQ has it" (routed to its queues, and with
/// persistent delivery to a durable queue written to disk): the pipeline then acknowledges the
/// input (at-least-once).
///
/// Refusals: a message the broker nacks (a full queue with x-overflow: reject-publish) is sent
/// again up to `max_retries` times with growing delays, then becomes a dead letter; with
/// `mandatory` a message no queue takes comes back (basic.return) and becomes a dead letter at
/// once. A lost connection (or confirms overdue by `confirm_timeout`) is reopened with backoff
/// and every unconfirmed message of the batch is sent again: the broker may then hold a
/// message twice. A channel the broker closes (a missing exchange) fails the run with its reply.
/// Pipeline thread only.
class AmqpSink final : public exec::Sink {
 public:
  AmqpSink(SinkSettings settings, exec::DeadLetterQueue* dead_letters)
      : settings_(std::move(settings)),
        dead_letters_(dead_letters),
        logger_(ComponentLogger(fmt::format("sink {}", settings_.name))) {}

  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    if (settings_.encoder == nullptr) {
      SLUICE_ASSIGN_OR_RAISE(settings_.encoder,
                             formats::PayloadEncoder::Make(settings_.encoding, schema));
    }
    SLUICE_ASSIGN_OR_RAISE(routing_key_index_,
                           FieldIndex(*schema, settings_.routing_key_field, "routing_key_field"));
    SLUICE_ASSIGN_OR_RAISE(message_id_index_,
                           FieldIndex(*schema, settings_.message_id_field, "message_id_field"));
    for (const auto& name : settings_.header_fields) {
      SLUICE_ASSIGN_OR_RAISE(int index, FieldIndex(*schema, name, "headers"));
      header_indices_.push_back(index);
    }
    return Connect();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (batch->num_rows() == 0) return Status::OK();
    undeliverable_ = 0;
    SLUICE_RETURN_NOT_OK(WriteMessages(batch));
    if (undeliverable_ > 0) {
      return Status::IOError(fmt::format("{} row(s) could not be delivered: {}", undeliverable_,
                                         undeliverable_reason_));
    }
    return Status::OK();
  }

  /// Publishes the rows of `batch`; those that cannot be delivered go to Reject().
  Status WriteMessages(const std::shared_ptr<arrow::RecordBatch>& batch) {
    std::vector<Outgoing> messages;
    SLUICE_RETURN_NOT_OK(Encode(batch, &messages));
    for (int attempt = 0;; ++attempt) {
      SLUICE_RETURN_NOT_OK(PublishAndConfirm(&messages));
      int64_t nacked = 0;
      for (auto& message : messages) {
        if (message.state == Outgoing::State::kReturned) {
          Reject(*batch, message.row, message.reason);
          message.state = Outgoing::State::kConfirmed;
        } else if (message.state == Outgoing::State::kNacked) {
          ++nacked;
        }
      }
      if (nacked == 0) return Status::OK();
      if (attempt >= settings_.max_retries) {
        for (auto& message : messages) {
          if (message.state != Outgoing::State::kNacked) continue;
          Reject(*batch, message.row,
                 fmt::format("the broker refused the message (basic.nack) {} times, publishing "
                             "to exchange '{}' with routing key '{}'",
                             attempt + 1, settings_.exchange, message.routing_key));
        }
        logger_->warn("{} message(s) nacked {} times; dead-lettered", nacked, attempt + 1);
        return Status::OK();
      }
      auto delay = std::chrono::milliseconds(100) * (1 << attempt);
      logger_->warn("the broker nacked {} message(s); sending them again in {}ms", nacked,
                    delay.count());
      std::this_thread::sleep_for(delay);
      for (auto& message : messages) {
        if (message.state == Outgoing::State::kNacked) message.state = Outgoing::State::kPending;
      }
    }
  }

  Status Close() override {
    connection_.reset();
    return Status::OK();
  }

  void Abort() override { connection_.reset(); }

 private:
  Result<int> FieldIndex(const arrow::Schema& schema, const std::string& name,
                         const char* option) const {
    if (name.empty()) return -1;
    int index = schema.GetFieldIndex(name);
    if (index < 0) {
      return config::ConfigError(settings_.where,
                                 fmt::format("{} '{}' is not a field of the output", option, name),
                                 SpellingHint(name, schema.field_names()));
    }
    return index;
  }

  Status Connect() {
    connection_.reset();
    auto prepare = [this](Connection& connection) -> Status {
      SLUICE_RETURN_NOT_OK(connection.Declare(settings_.declarations));
      amqp_confirm_select(connection.state(), amqp::kChannel);
      return connection.Check(amqp_get_rpc_reply(connection.state()),
                              "turning on publisher confirms");
    };
    auto connected = amqp::ConnectWithBackoff(
        settings_.connection, *logger_, [] { return false; }, prepare);
    // The pipeline names the sink in the error.
    if (!connected.ok()) return connected.status();
    connection_ = std::move(connected).ValueOrDie();
    next_sequence_ = 1;
    in_flight_.clear();
    return Status::OK();
  }

  /// Text of each row of `column` (any type), for routing keys and message ids.
  static Result<std::shared_ptr<arrow::StringArray>> AsText(
      const std::shared_ptr<arrow::Array>& column) {
    if (column->type_id() == arrow::Type::STRING)
      return std::static_pointer_cast<arrow::StringArray>(column);
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum cast, arrow::compute::Cast(column, arrow::utf8()));
    return std::static_pointer_cast<arrow::StringArray>(cast.make_array());
  }

  /// Encodes the rows of `batch` as messages; rows that cannot be encoded become dead letters.
  Status Encode(const std::shared_ptr<arrow::RecordBatch>& batch,
                std::vector<Outgoing>* messages) {
    formats::PayloadEncoder& encoder = *settings_.encoder;
    if (encoder.per_batch()) {
      Outgoing message;
      message.row = kWholeBatch;
      message.routing_key = settings_.routing_key;
      SLUICE_ASSIGN_OR_RAISE(message.payload, formats::PayloadEncoder::EncodeBatch(*batch));
      if (static_cast<int64_t>(message.payload.size()) > settings_.max_message_size) {
        Reject(*batch, kWholeBatch, OversizeReason(message.payload.size()));
        return Status::OK();
      }
      messages->push_back(std::move(message));
      return Status::OK();
    }
    SLUICE_RETURN_NOT_OK(encoder.Prepare(batch));
    std::shared_ptr<arrow::StringArray> routing_keys;
    if (routing_key_index_ >= 0) {
      SLUICE_ASSIGN_OR_RAISE(routing_keys, AsText(batch->column(routing_key_index_)));
    }
    std::shared_ptr<arrow::StringArray> message_ids;
    if (message_id_index_ >= 0) {
      SLUICE_ASSIGN_OR_RAISE(message_ids, AsText(batch->column(message_id_index_)));
    }
    messages->reserve(batch->num_rows());
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      Outgoing message;
      message.row = row;
      std::string reason;
      SLUICE_ASSIGN_OR_RAISE(bool encoded, encoder.EncodeRow(row, &message.payload, &reason));
      if (!encoded) {
        Reject(*batch, row, std::move(reason));
        continue;
      }
      if (static_cast<int64_t>(message.payload.size()) > settings_.max_message_size) {
        Reject(*batch, row, OversizeReason(message.payload.size()));
        continue;
      }
      if (routing_keys != nullptr) {
        if (routing_keys->IsNull(row)) {
          Reject(*batch, row,
                 fmt::format("routing_key_field '{}' is null", settings_.routing_key_field));
          continue;
        }
        message.routing_key = std::string(routing_keys->GetView(row));
      } else {
        message.routing_key = settings_.routing_key;
      }
      if (message_ids != nullptr && message_ids->IsValid(row)) {
        message.message_id = std::string(message_ids->GetView(row));
        message.has_message_id = true;
      }
      SLUICE_RETURN_NOT_OK(AddHeaders(*batch, row, &message.headers));
      messages->push_back(std::move(message));
    }
    return Status::OK();
  }

  std::string OversizeReason(size_t size) const {
    return fmt::format("the message of {} bytes is larger than max_message_size ({} bytes)",
                       size, settings_.max_message_size);
  }

  /// The `headers` fields of row `row`: numbers and booleans as such, other values as text;
  /// null values are left out.
  Status AddHeaders(const arrow::RecordBatch& batch, int64_t row, amqp::FieldTable* headers) {
    for (size_t i = 0; i < header_indices_.size(); ++i) {
      const auto& column = batch.column(header_indices_[i]);
      if (column->IsNull(row)) continue;
      std::string key = settings_.header_fields[i];
      switch (column->type_id()) {
        case arrow::Type::BOOL:
          headers->AddBool(key, static_cast<const arrow::BooleanArray&>(*column).Value(row));
          break;
        case arrow::Type::INT32:
          headers->AddInteger(key, static_cast<const arrow::Int32Array&>(*column).Value(row));
          break;
        case arrow::Type::INT64:
          headers->AddInteger(key, static_cast<const arrow::Int64Array&>(*column).Value(row));
          break;
        case arrow::Type::DOUBLE:
          headers->AddDouble(key, static_cast<const arrow::DoubleArray&>(*column).Value(row));
          break;
        case arrow::Type::STRING:
          headers->AddText(
              key, std::string(static_cast<const arrow::StringArray&>(*column).GetView(row)));
          break;
        default: {
          SLUICE_ASSIGN_OR_RAISE(auto scalar, column->GetScalar(row));
          SLUICE_ASSIGN_OR_RAISE(auto text, scalar->CastTo(arrow::utf8()));
          headers->AddText(key, text->ToString());
          break;
        }
      }
    }
    return Status::OK();
  }

  /// Publishes every pending message of `messages` and waits until the broker settled each
  /// (confirmed, nacked or returned), reconnecting and publishing again what a lost connection
  /// left unconfirmed.
  Status PublishAndConfirm(std::vector<Outgoing>* messages) {
    while (true) {
      if (connection_ == nullptr || !connection_->usable()) SLUICE_RETURN_NOT_OK(Connect());
      Status status = PublishPending(messages);
      if (status.ok()) status = AwaitConfirms(messages);
      if (status.ok()) return status;
      if (connection_->failure() != amqp::Failure::kConnection) return status;
      int64_t unsettled = 0;
      for (auto& message : *messages) {
        if (message.state == Outgoing::State::kPending) ++unsettled;
        message.in_flight = false;
      }
      logger_->warn("{}; reconnecting to send {} unconfirmed message(s) again", status.message(),
                    unsettled);
      connection_.reset();
    }
  }

  Status PublishPending(std::vector<Outgoing>* messages) {
    amqp_connection_state_t state = connection_->state();
    int since_drain = 0;
    for (size_t i = 0; i < messages->size(); ++i) {
      Outgoing& message = (*messages)[i];
      if (message.state != Outgoing::State::kPending || message.in_flight) continue;
      amqp_basic_properties_t properties;
      properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
      properties.content_type = amqp_cstring_bytes(ContentType(settings_.encoder->format()));
      properties.delivery_mode = settings_.persistent ? 2 : 1;
      if (message.has_message_id) {
        properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        properties.message_id = amqp::Bytes(message.message_id);
      }
      if (!message.headers.empty()) {
        properties._flags |= AMQP_BASIC_HEADERS_FLAG;
        properties.headers = message.headers.table();
      }
      int code = amqp_basic_publish(state, amqp::kChannel, amqp::Bytes(settings_.exchange),
                                    amqp::Bytes(message.routing_key), settings_.mandatory ? 1 : 0,
                                    0, &properties, amqp::Bytes(message.payload));
      SLUICE_RETURN_NOT_OK(connection_->CheckCode(code, PublishContext()));
      message.in_flight = true;
      in_flight_[next_sequence_++] = i;
      if (++since_drain == kPublishesPerDrain) {
        since_drain = 0;
        SLUICE_RETURN_NOT_OK(ReadFrames(messages, std::chrono::milliseconds(0)));
      }
    }
    return Status::OK();
  }

  std::string PublishContext() const {
    return fmt::format("publishing to exchange '{}' on {}", settings_.exchange,
                       settings_.connection.Describe());
  }

  /// Waits for the confirms of every message in flight, for at most confirm_timeout without
  /// progress; overdue confirms count as a lost connection.
  Status AwaitConfirms(std::vector<Outgoing>* messages) {
    auto deadline = std::chrono::steady_clock::now() + settings_.confirm_timeout;
    while (!in_flight_.empty()) {
      size_t before = in_flight_.size();
      SLUICE_RETURN_NOT_OK(ReadFrames(messages, std::chrono::milliseconds(200)));
      auto now = std::chrono::steady_clock::now();
      if (in_flight_.size() < before) {
        deadline = now + settings_.confirm_timeout;
      } else if (now > deadline) {
        return connection_->CheckCode(AMQP_STATUS_TIMEOUT,
                                      fmt::format("{}: no confirm within confirm_timeout",
                                                  PublishContext()));
      }
    }
    return Status::OK();
  }

  /// Reads the frames that arrive within `wait` (all that are there already when zero).
  Status ReadFrames(std::vector<Outgoing>* messages, std::chrono::milliseconds wait) {
    amqp_connection_state_t state = connection_->state();
    bool first = true;
    while (true) {
      struct timeval timeout;
      auto span = first ? wait : std::chrono::milliseconds(0);
      timeout.tv_sec = span.count() / 1000;
      timeout.tv_usec = (span.count() % 1000) * 1000;
      first = false;
      amqp_frame_t frame;
      amqp_maybe_release_buffers(state);
      int code = amqp_simple_wait_frame_noblock(state, &frame, &timeout);
      if (code == AMQP_STATUS_TIMEOUT) return Status::OK();
      SLUICE_RETURN_NOT_OK(connection_->CheckCode(code, PublishContext()));
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      SLUICE_RETURN_NOT_OK(HandleMethod(frame.payload.method, messages));
    }
  }

  Status HandleMethod(const amqp_method_t& method, std::vector<Outgoing>* messages) {
    switch (method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        Settle(ack->delivery_tag, ack->multiple != 0, Outgoing::State::kConfirmed, messages);
        return Status::OK();
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
        Settle(nack->delivery_tag, nack->multiple != 0, Outgoing::State::kNacked, messages);
        return Status::OK();
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* returned = static_cast<const amqp_basic_return_t*>(method.decoded);
        std::string reason = fmt::format(
            "the broker returned the message as unroutable: {} {} (exchange '{}', routing key "
            "'{}')",
            returned->reply_code, amqp::View(returned->reply_text), amqp::View(returned->exchange),
            amqp::View(returned->routing_key));
        std::string routing_key(amqp::View(returned->routing_key));
        amqp_message_t content;
        SLUICE_RETURN_NOT_OK(connection_->Check(
            amqp_read_message(connection_->state(), amqp::kChannel, &content, 0),
            PublishContext()));
        std::string_view body = amqp::View(content.body);
        // The return comes before the confirm of its message: the first unconfirmed message
        // with that routing key and body is the one (equal ones are interchangeable).
        for (const auto& [sequence, index] : in_flight_) {
          Outgoing& message = (*messages)[index];
          if (message.state == Outgoing::State::kPending && message.routing_key == routing_key &&
              message.payload == body) {
            message.state = Outgoing::State::kReturned;
            message.reason = reason;
            break;
          }
        }
        amqp_destroy_message(&content);
        return Status::OK();
      }
      case AMQP_CONNECTION_BLOCKED_METHOD:
        logger_->warn("the broker blocks publishing (a resource alarm); waiting");
        return Status::OK();
      case AMQP_CONNECTION_UNBLOCKED_METHOD:
        logger_->info("the broker accepts publishing again");
        return Status::OK();
      default:
        return connection_->HandleAsyncMethod(method, PublishContext());
    }
  }

  /// Records the broker's answer for message `sequence` (and every earlier one with
  /// `multiple`). A returned message keeps its state: its confirm follows the return.
  void Settle(uint64_t sequence, bool multiple, Outgoing::State state,
              std::vector<Outgoing>* messages) {
    auto end = in_flight_.upper_bound(sequence);
    auto begin = multiple ? in_flight_.begin() : in_flight_.find(sequence);
    if (begin == in_flight_.end()) return;
    for (auto it = begin; it != end; ++it) {
      Outgoing& message = (*messages)[it->second];
      message.in_flight = false;
      if (message.state == Outgoing::State::kPending) message.state = state;
    }
    in_flight_.erase(begin, end);
  }

  void Reject(const arrow::RecordBatch& batch, int64_t row, std::string reason) {
    if (row == kWholeBatch) {
      for (int64_t each = 0; each < batch.num_rows(); ++each) Reject(batch, each, reason);
      return;
    }
    if (dead_letters_ == nullptr) {
      // Nowhere to put it (the dead-letter sink itself): Write() fails instead.
      if (undeliverable_++ == 0) undeliverable_reason_ = std::move(reason);
      return;
    }
    dead_letters_->Add(exec::DeadLetter{std::move(reason), "sink:" + settings_.name, "", "",
                                        exec::RowToJson(batch, row)});
  }

  SinkSettings settings_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<spdlog::logger> logger_;
  int routing_key_index_ = -1;
  int message_id_index_ = -1;
  std::vector<int> header_indices_;
  std::unique_ptr<Connection> connection_;
  /// The publish sequence number (the confirm's delivery tag) of the next message.
  uint64_t next_sequence_ = 1;
  /// Messages published and not confirmed yet: sequence number → index in the batch's messages.
  std::map<uint64_t, size_t> in_flight_;
  /// Rows of the batch being written that could not be delivered, without a dead-letter output.
  int64_t undeliverable_ = 0;
  std::string undeliverable_reason_;
};

Result<std::unique_ptr<exec::Sink>> MakeAmqpSink(const exec::ConnectorContext& context,
                                                 const config::Options& options) {
  SinkSettings settings;
  settings.name = context.name;
  settings.where = options.where();
  // A sink gives up after connect_timeout in every run: a batch must not wait for ever.
  SLUICE_ASSIGN_OR_RAISE(settings.connection,
                         amqp::ConnectionSettingsFromConfig(options, /*bounded=*/true));
  SLUICE_ASSIGN_OR_RAISE(settings.declarations, amqp::DeclarationsFromConfig(options, ""));
  settings.exchange = options.GetString("exchange");
  if (options.Has("routing_key") && options.Has("routing_key_field")) {
    return config::ConfigError(options.LocationOf("routing_key_field"),
                               "give routing_key or routing_key_field, not both");
  }
  if (settings.exchange.empty() && !options.Has("routing_key") &&
      !options.Has("routing_key_field")) {
    return config::ConfigError(
        options.where(), "the default exchange routes by queue name: give routing_key",
        "e.g. routing_key: orders (the queue's name), or exchange: with a bound exchange");
  }
  if (options.Has("routing_key")) settings.routing_key = options.GetString("routing_key");
  if (options.Has("routing_key_field"))
    settings.routing_key_field = options.GetString("routing_key_field");
  if (options.Has("headers")) settings.header_fields = options.GetStringList("headers");
  if (options.Has("message_id_field"))
    settings.message_id_field = options.GetString("message_id_field");
  settings.persistent = options.GetBool("persistent");
  settings.mandatory = options.GetBool("mandatory");
  settings.max_retries = static_cast<int>(options.GetInteger("max_retries"));
  settings.confirm_timeout = options.GetDuration("confirm_timeout");
  settings.max_message_size = options.GetInteger("max_message_size");
  SLUICE_ASSIGN_OR_RAISE(settings.encoding, PayloadEncodingFromConfig(options));
  if (settings.encoding.format == formats::MessageFormat::kArrow) {
    for (const char* per_row : {"routing_key_field", "headers", "message_id_field"}) {
      if (options.Has(per_row)) {
        return config::ConfigError(
            options.LocationOf(per_row),
            fmt::format("format arrow writes one message per batch, so '{}' (which is per row) "
                        "cannot apply",
                        per_row),
            "leave it out, or use format: json or csv");
      }
    }
  }
  if (context.input_schema != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(settings.encoder,
                           formats::PayloadEncoder::Make(settings.encoding, context.input_schema));
    for (const char* option : {"routing_key_field", "message_id_field"}) {
      if (!options.Has(option)) continue;
      std::string name = options.GetString(option);
      if (context.input_schema->GetFieldIndex(name) < 0) {
        return config::ConfigError(options.LocationOf(option),
                                   fmt::format("'{}' is not a field of the output", name),
                                   SpellingHint(name, context.input_schema->field_names()));
      }
    }
    for (const auto& name : settings.header_fields) {
      if (context.input_schema->GetFieldIndex(name) < 0) {
        return config::ConfigError(options.LocationOf("headers"),
                                   fmt::format("'{}' is not a field of the output", name),
                                   SpellingHint(name, context.input_schema->field_names()));
      }
    }
  }
  return std::make_unique<AmqpSink>(std::move(settings), context.dead_letters);
}

config::PluginSpec AmqpSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "amqp";
  spec.doc =
      "Publishes one message per row (one per batch with format arrow) to a RabbitMQ exchange "
      "(AMQP 0-9-1) with publisher confirms: a batch is written once the broker confirmed every "
      "message, so the input is acknowledged only after RabbitMQ has it (at-least-once). Nacked "
      "messages are sent again up to max_retries times, then dead-lettered; unroutable ones "
      "(mandatory) are dead-lettered. A lost connection is reopened with backoff and the "
      "unconfirmed messages sent again; the run fails when the broker stays unreachable for "
      "connect_timeout.";
  spec.options = amqp::ConnectionOptionSpecs();
  OptionSpec exchange{"exchange", OptionType::kString,
                      "The exchange to publish to; empty: the default exchange, which routes "
                      "to the queue named by the routing key.",
                      ""};
  OptionSpec routing_key{"routing_key", OptionType::kString,
                         "The routing key of every message (or give routing_key_field)."};
  OptionSpec routing_key_field{"routing_key_field", OptionType::kString,
                               "A field whose value is each row's routing key, instead of "
                               "routing_key; a null key makes the row a dead letter."};
  OptionSpec headers{"headers", OptionType::kStringList,
                     "Fields sent as message headers (named like the field): integers, doubles "
                     "and booleans as such, other types as text; null values are left out."};
  OptionSpec message_id_field{"message_id_field", OptionType::kString,
                              "A field sent as each message's message_id property (a source "
                              "reads it as _message_id, e.g. to dedup on it)."};
  OptionSpec persistent{"persistent", OptionType::kBool,
                        "Persistent delivery (delivery_mode 2): a durable queue keeps the "
                        "message across broker restarts.",
                        "true"};
  OptionSpec mandatory{"mandatory", OptionType::kBool,
                       "Ask the broker to return messages no queue takes; they become dead "
                       "letters. false: the broker drops them silently.",
                       "true"};
  OptionSpec max_retries{"max_retries", OptionType::kInteger,
                         "How often a message the broker nacks (e.g. a full queue with "
                         "x-overflow: reject-publish) is sent again, after 0.1s, 0.2s, 0.4s, "
                         "..., before it becomes a dead letter.",
                         "3"};
  max_retries.min = 0;
  max_retries.max = 20;
  OptionSpec confirm_timeout{"confirm_timeout", OptionType::kDuration,
                             "How long to wait for the broker's confirms without progress "
                             "before the connection counts as lost (and is reopened).",
                             "30s"};
  confirm_timeout.min = 1;
  OptionSpec max_message_size{"max_message_size", OptionType::kInteger,
                              "Messages larger than this many bytes become dead letters instead "
                              "of being sent (RabbitMQ's max_message_size is 128 MiB by default "
                              "and closes the channel of a larger one).",
                              "134217728"};
  max_message_size.min = 1;
  for (auto& option : {exchange, routing_key, routing_key_field, headers, message_id_field,
                       persistent, mandatory, max_retries, confirm_timeout, max_message_size}) {
    spec.options.push_back(option);
  }
  for (auto& option : PayloadSinkOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sinks:\n"
      "  alerts:\n"
      "    connector: amqp\n"
      "    url: amqp://sluice:${AMQP_PASSWORD}@rabbit.internal:5672/shop\n"
      "    exchange: alerts\n"
      "    routing_key_field: severity\n"
      "    headers: [region]\n"
      "    declare: {exchange: {name: alerts, type: topic}}\n";
  return spec;
}

}  // namespace

void RegisterAmqpSink(exec::Registry* registry) {
  registry->AddSink(AmqpSinkSpec(), MakeAmqpSink);
}

}  // namespace sluice::connectors

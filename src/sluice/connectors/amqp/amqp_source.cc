#include "sluice/connectors/amqp/amqp_source.h"

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/amqp/amqp_client.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/exec/until.h"
#include "sluice/formats/message_codec.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors {
namespace {

using amqp::Connection;

/// The fields `metadata: true` adds, after the payload's.
arrow::FieldVector MetadataFields() {
  return {arrow::field("_exchange", arrow::utf8()),
          arrow::field("_routing_key", arrow::utf8()),
          arrow::field("_delivery_tag", arrow::int64()),
          arrow::field("_redelivered", arrow::boolean()),
          arrow::field("_message_id", arrow::utf8()),
          arrow::field("_timestamp", formats::TimestampType()),
          arrow::field("_headers", arrow::utf8())};
}

/// Builds the metadata columns of the batch being built, one row per decoded row.
class MetadataColumns {
 public:
  Status Append(const amqp_envelope_t& envelope, int64_t rows) {
    const amqp_basic_properties_t& properties = envelope.message.properties;
    for (int64_t i = 0; i < rows; ++i) {
      SLUICE_RETURN_NOT_OK(exchange_.Append(amqp::View(envelope.exchange)));
      SLUICE_RETURN_NOT_OK(routing_key_.Append(amqp::View(envelope.routing_key)));
      SLUICE_RETURN_NOT_OK(delivery_tag_.Append(static_cast<int64_t>(envelope.delivery_tag)));
      SLUICE_RETURN_NOT_OK(redelivered_.Append(envelope.redelivered != 0));
      if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        SLUICE_RETURN_NOT_OK(message_id_.Append(amqp::View(properties.message_id)));
      } else {
        SLUICE_RETURN_NOT_OK(message_id_.AppendNull());
      }
      if (properties._flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        // AMQP timestamps are whole seconds since the epoch.
        SLUICE_RETURN_NOT_OK(
            timestamp_.Append(static_cast<int64_t>(properties.timestamp) * 1000000));
      } else {
        SLUICE_RETURN_NOT_OK(timestamp_.AppendNull());
      }
      if ((properties._flags & AMQP_BASIC_HEADERS_FLAG) && properties.headers.num_entries > 0) {
        SLUICE_RETURN_NOT_OK(headers_.Append(amqp::TableToJson(properties.headers)));
      } else {
        SLUICE_RETURN_NOT_OK(headers_.AppendNull());
      }
    }
    return Status::OK();
  }

  Result<arrow::ArrayVector> Finish() {
    arrow::ArrayVector columns(7);
    SLUICE_RETURN_NOT_OK(exchange_.Finish(&columns[0]));
    SLUICE_RETURN_NOT_OK(routing_key_.Finish(&columns[1]));
    SLUICE_RETURN_NOT_OK(delivery_tag_.Finish(&columns[2]));
    SLUICE_RETURN_NOT_OK(redelivered_.Finish(&columns[3]));
    SLUICE_RETURN_NOT_OK(message_id_.Finish(&columns[4]));
    std::shared_ptr<arrow::Array> micros;
    SLUICE_RETURN_NOT_OK(timestamp_.Finish(&micros));
    SLUICE_ASSIGN_OR_RAISE(columns[5], micros->View(formats::TimestampType()));
    SLUICE_RETURN_NOT_OK(headers_.Finish(&columns[6]));
    return columns;
  }

 private:
  arrow::StringBuilder exchange_;
  arrow::StringBuilder routing_key_;
  arrow::Int64Builder delivery_tag_;
  arrow::BooleanBuilder redelivered_;
  arrow::StringBuilder message_id_;
  arrow::Int64Builder timestamp_;
  arrow::StringBuilder headers_;
};

struct SourceSettings {
  std::string name;
  amqp::ConnectionSettings connection;
  std::string queue;
  amqp::Declarations declarations;
  int prefetch = 1000;
  formats::PayloadDecoding decoding;
  bool metadata = false;
  /// Undecodable messages are nacked without requeue (the queue's dead-letter exchange takes
  /// them) instead of becoming Sluice dead letters.
  bool reject_to_broker = false;
  exec::UntilOptions until;
  exec::BatchingOptions batching;
};

/// What to acknowledge once the first `batches` pushed batches are done.
struct AckEntry {
  int64_t batches = 0;
  /// The connection the delivery tags belong to; tags of an earlier connection are void (the
  /// broker requeued those messages when it closed).
  int64_t generation = 0;
  /// Acknowledge every message up to this tag (multiple); 0 when there is none.
  uint64_t ack_through = 0;
  /// Messages to nack without requeue (reject: broker), each on its own.
  std::vector<uint64_t> nacks;
};

/// Consumes one queue on the source thread with rabbitmq-c and cuts deliveries into
/// micro-batches of at most `batch_size` rows, pushed at the latest `linger` after their first.
///
/// Acknowledgements: manual. Each pushed batch leaves an AckEntry with the highest delivery tag
/// taken so far (decoded or dead-lettered). OnBatchesDone(), on the pipeline thread, turns the
/// entries of the done batches into one pending "ack up to tag N" (basic.ack with `multiple`),
/// which the source thread sends between waits: the connection is not thread-safe. Once Run()
/// has returned, OnBatchesDone() sends it itself, under the same mutex. The broker keeps at
/// most `prefetch` messages unacknowledged on this consumer, which bounds what Sluice holds.
///
/// Backpressure: while the pipeline's queue is full the source stops reading (it only sends
/// heartbeats and pending acks), so the broker stops delivering once `prefetch` messages are
/// unacknowledged.
///
/// Reconnection: a lost connection is reopened with backoff and the consumer set up again; the
/// broker redelivers every message that was not acknowledged (flagged _redelivered), including
/// ones already pushed, which the pipeline may then see twice (at-least-once).
class AmqpSource final : public exec::Source {
 public:
  AmqpSource(SourceSettings settings, std::shared_ptr<arrow::Schema> schema)
      : settings_(std::move(settings)),
        schema_(std::move(schema)),
        logger_(ComponentLogger(fmt::format("source {}", settings_.name))) {}

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return settings_.until.any(); }

  Status Run(exec::SourceOutput& out) override {
    Status status = Consume(out);
    std::lock_guard<std::mutex> lock(mutex_);
    run_ended_ = true;
    // Messages rejected after the last batch are done once the run is; but not when rows that
    // were never pushed lie among them (a stop came first): those must come again.
    if (rows_ == 0 && !abandoned_) pending_.push_back(CurrentEntry(pushes_ + 1));
    if (!status.ok() && connection_ != nullptr && connection_->usable()) {
      // A failed run acknowledges nothing more: closing the connection requeues the rest.
      connection_.reset();
    }
    return status;
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!pending_.empty() && (end_of_run || pending_.front().batches <= batches)) {
      AckEntry& entry = pending_.front();
      if (entry.generation == generation_) {
        ready_.ack_through = std::max(ready_.ack_through, entry.ack_through);
        ready_.nacks.insert(ready_.nacks.end(), entry.nacks.begin(), entry.nacks.end());
      }
      pending_.pop_front();
    }
    if (run_ended_) {
      SendAcks();
      if (end_of_run) connection_.reset();
    }
  }

  // With checkpoints the broker holds the position: what is not acknowledged (everything after
  // the last completed checkpoint) is redelivered after a restart.
  bool checkpointable() const override { return true; }
  Result<std::string> PositionAfter(int64_t batches) override {
    (void)batches;
    return std::string("{}");
  }
  Status RestorePosition(const std::string& position) override {
    (void)position;
    return Status::OK();
  }

 private:
  Status Consume(exec::SourceOutput& out) {
    SLUICE_ASSIGN_OR_RAISE(decoder_, formats::PayloadDecoder::Make(settings_.decoding));
    exec::UntilClock until(settings_.until);
    while (!out.stopping()) {
      if (connection_ == nullptr || !connection_->usable()) {
        // A broker that is away is not an idle queue: idle time restarts once connected.
        until.Unreachable();
        Status connected = Connect(out);
        if (connected.IsCancelled()) break;
        SLUICE_RETURN_NOT_OK(connected);
        until.Reachable();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        SendAcks();
      }
      if (until.Reached()) {
        logger_->info("ending {}", until.reason());
        break;
      }
      auto wait = until.Wait(
          settings_.batching.Wait(rows_, batch_started_, std::chrono::milliseconds(100)));
      SLUICE_ASSIGN_OR_RAISE(bool took, Receive(out, wait));
      if (took) until.Took(1);
      if (settings_.batching.Due(rows_, batch_started_)) {
        SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
        if (!pushed) return Status::OK();
      }
    }
    if (rows_ > 0 && !out.stopping()) {
      SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
      if (!pushed) return Status::OK();
    }
    if (broker_rejected_ > 0) {
      logger_->info("{} undecodable message(s) were nacked to the dead-letter exchange of queue "
                    "'{}' (reject: broker)",
                    broker_rejected_, settings_.queue);
    }
    return Status::OK();
  }

  /// (Re)opens the connection and starts consuming.
  Status Connect(exec::SourceOutput& out) {
    std::unique_ptr<Connection> lost;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lost = std::move(connection_);
    }
    lost.reset();
    auto prepare = [this](Connection& connection) -> Status {
      SLUICE_RETURN_NOT_OK(connection.Declare(settings_.declarations));
      amqp_basic_qos(connection.state(), amqp::kChannel, 0,
                     static_cast<uint16_t>(settings_.prefetch), 0);
      SLUICE_RETURN_NOT_OK(
          connection.Check(amqp_get_rpc_reply(connection.state()), "setting the prefetch"));
      amqp_basic_consume(connection.state(), amqp::kChannel, amqp::Bytes(settings_.queue),
                         amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
      return connection.Check(amqp_get_rpc_reply(connection.state()),
                              fmt::format("consuming from queue '{}'", settings_.queue));
    };
    auto connected = amqp::ConnectWithBackoff(
        settings_.connection, *logger_, [&out] { return out.stopping(); }, prepare);
    // The pipeline names the source in the error.
    if (!connected.ok()) return connected.status();
    std::lock_guard<std::mutex> lock(mutex_);
    connection_ = std::move(connected).ValueOrDie();
    ++generation_;
    // Tags of the previous connection are void: those messages come again.
    taken_through_ = 0;
    acked_through_ = 0;
    nacks_.clear();
    ready_ = AckEntry{};
    if (generation_ > 1) logger_->warn("reconnected to {}", settings_.connection.Describe());
    return Status::OK();
  }

  /// Waits up to `wait` for one delivery and takes it. True when a message was taken.
  Result<bool> Receive(exec::SourceOutput& out, std::chrono::milliseconds wait) {
    amqp_connection_state_t state = connection_->state();
    amqp_maybe_release_buffers(state);
    struct timeval timeout;
    timeout.tv_sec = wait.count() / 1000;
    timeout.tv_usec = (wait.count() % 1000) * 1000;
    amqp_envelope_t envelope;
    amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      Status taken = Take(envelope, out);
      amqp_destroy_envelope(&envelope);
      SLUICE_RETURN_NOT_OK(taken);
      return true;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      return false;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A frame other than a delivery: a method the broker sent on its own.
      amqp_frame_t frame;
      int code = amqp_simple_wait_frame(state, &frame);
      SLUICE_RETURN_NOT_OK(LostOrFailed(connection_->CheckCode(code, Context())));
      if (frame.frame_type != AMQP_FRAME_METHOD) return false;
      if (frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
        return Status::IOError(fmt::format(
            "the broker cancelled the consumer of queue '{}' on {} (the queue was deleted)",
            settings_.queue, settings_.connection.Describe()));
      }
      SLUICE_RETURN_NOT_OK(
          LostOrFailed(connection_->HandleAsyncMethod(frame.payload.method, Context())));
      return false;
    }
    SLUICE_RETURN_NOT_OK(LostOrFailed(connection_->Check(reply, Context())));
    return false;
  }

  std::string Context() const {
    return fmt::format("consuming from queue '{}' on {}", settings_.queue,
                       settings_.connection.Describe());
  }

  /// A lost connection is logged and reopened by the loop; a refusal on the channel (the queue
  /// was deleted, a precondition) fails the run.
  Status LostOrFailed(Status status) {
    if (status.ok()) return status;
    if (connection_->failure() == amqp::Failure::kConnection) {
      logger_->warn("{}; reconnecting", status.message());
      return Status::OK();
    }
    return status;
  }

  /// Decodes one delivery into the batch being built, or rejects it.
  Status Take(const amqp_envelope_t& envelope, exec::SourceOutput& out) {
    std::string_view payload = amqp::View(envelope.message.body);
    std::string origin = fmt::format("amqp:{}#{}", settings_.queue, envelope.delivery_tag);
    std::vector<exec::DeadLetter> rejected;
    std::string reason;
    SLUICE_ASSIGN_OR_RAISE(int64_t rows, decoder_->Append(payload, origin, &rejected, &reason));
    for (auto& letter : rejected) out.Reject(std::move(letter));
    std::lock_guard<std::mutex> lock(mutex_);
    if (!reason.empty()) {
      if (settings_.reject_to_broker) {
        nacks_.push_back(envelope.delivery_tag);
        ++broker_rejected_;
        logger_->debug("{}: {}; nacked to the queue's dead-letter exchange", origin, reason);
        return Status::OK();
      }
      out.Reject(exec::DeadLetter{std::move(reason), "source", settings_.name, origin,
                                  decoder_->DeadLetterRecord(payload)});
    }
    taken_through_ = envelope.delivery_tag;
    if (rows > 0) {
      if (rows_ == 0) batch_started_ = std::chrono::steady_clock::now();
      rows_ += rows;
      if (settings_.metadata) SLUICE_RETURN_NOT_OK(metadata_.Append(envelope, rows));
    }
    return Status::OK();
  }

  /// The acknowledgements owed for what was taken so far, keyed by `batches`. Under mutex_.
  AckEntry CurrentEntry(int64_t batches) {
    AckEntry entry;
    entry.batches = batches;
    entry.generation = generation_;
    entry.ack_through = taken_through_;
    entry.nacks = std::move(nacks_);
    nacks_.clear();
    return entry;
  }

  /// Sends what OnBatchesDone() made ready. Under mutex_; on the source thread, or on the
  /// pipeline thread once Run() returned.
  void SendAcks() {
    if (connection_ == nullptr || !connection_->usable()) return;
    amqp_connection_state_t state = connection_->state();
    for (uint64_t tag : ready_.nacks) {
      Status status = connection_->CheckCode(
          amqp_basic_nack(state, amqp::kChannel, tag, /*multiple=*/0, /*requeue=*/0),
          "nacking a message");
      if (!status.ok()) logger_->warn("{}", status.message());
    }
    ready_.nacks.clear();
    if (ready_.ack_through > acked_through_) {
      Status status = connection_->CheckCode(
          amqp_basic_ack(state, amqp::kChannel, ready_.ack_through, /*multiple=*/1),
          "acknowledging messages");
      if (!status.ok()) {
        logger_->warn("{}; the broker redelivers them", status.message());
      } else {
        acked_through_ = ready_.ack_through;
      }
    }
  }

  /// Waits for room in the pipeline's queue without reading (the broker stops at `prefetch`
  /// unacknowledged messages), keeping the connection alive. False when stopping.
  bool AwaitRoom(exec::SourceOutput& out) {
    auto last_heartbeat = std::chrono::steady_clock::now();
    while (!out.WaitForRoom(std::chrono::milliseconds(100))) {
      std::lock_guard<std::mutex> lock(mutex_);
      SendAcks();
      auto now = std::chrono::steady_clock::now();
      if (connection_ != nullptr && connection_->usable() &&
          now - last_heartbeat >= settings_.connection.heartbeat / 2) {
        Status status = connection_->SendHeartbeat();
        if (!status.ok()) logger_->warn("{}", status.message());
        last_heartbeat = now;
      }
    }
    return !out.stopping();
  }

  /// Sends the batch being built; false when the pipeline is stopping.
  Result<bool> PushBatch(exec::SourceOutput& out) {
    if (!AwaitRoom(out)) return false;
    SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector columns, decoder_->Finish());
    if (settings_.metadata) {
      SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector metadata, metadata_.Finish());
      columns.insert(columns.end(), metadata.begin(), metadata.end());
    }
    int64_t rows = rows_;
    rows_ = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(CurrentEntry(pushes_ + 1));
    }
    Status pushed = out.Push(arrow::RecordBatch::Make(schema_, rows, std::move(columns)));
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pushed.ok()) {
      // Its messages never reached the pipeline: they stay unacknowledged and come again.
      pending_.pop_back();
      abandoned_ = true;
      if (pushed.IsCancelled()) return false;
      return pushed;
    }
    ++pushes_;
    return true;
  }

  const SourceSettings settings_;
  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<spdlog::logger> logger_;

  // Source thread only.
  std::unique_ptr<formats::PayloadDecoder> decoder_;
  MetadataColumns metadata_;
  int64_t rows_ = 0;
  std::chrono::steady_clock::time_point batch_started_;
  int64_t broker_rejected_ = 0;
  /// A batch could not be pushed: nothing taken after the last pushed batch is acknowledged.
  bool abandoned_ = false;

  // Shared with the pipeline thread (OnBatchesDone); the connection is used by the source
  // thread, and by the pipeline thread only after Run() returned.
  std::mutex mutex_;
  std::unique_ptr<Connection> connection_;
  int64_t generation_ = 0;
  int64_t pushes_ = 0;
  /// The highest delivery tag taken (decoded or dead-lettered) on this connection.
  uint64_t taken_through_ = 0;
  /// The highest tag acknowledged on this connection.
  uint64_t acked_through_ = 0;
  /// Tags to nack (reject: broker) not yet in an entry.
  std::vector<uint64_t> nacks_;
  std::deque<AckEntry> pending_;
  /// What the done batches owe, to send on the next occasion.
  AckEntry ready_;
  bool run_ended_ = false;
};

Result<std::unique_ptr<exec::Source>> MakeAmqpSource(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  SourceSettings settings;
  settings.name = context.name;
  settings.until = exec::UntilOptions::FromOptions(options);
  SLUICE_ASSIGN_OR_RAISE(settings.connection,
                         amqp::ConnectionSettingsFromConfig(options, settings.until.any()));
  settings.queue = options.GetString("queue");
  SLUICE_ASSIGN_OR_RAISE(settings.declarations,
                         amqp::DeclarationsFromConfig(options, settings.queue));
  settings.prefetch = static_cast<int>(options.GetInteger("prefetch"));
  SLUICE_ASSIGN_OR_RAISE(settings.decoding, PayloadDecodingFromConfig(options));
  settings.metadata = options.GetBool("metadata");
  settings.reject_to_broker = options.GetString("reject") == "broker";
  settings.batching = exec::BatchingOptions::FromOptions(options);

  arrow::FieldVector fields = settings.decoding.schema->fields();
  if (settings.metadata) {
    for (const auto& field : MetadataFields()) {
      if (settings.decoding.schema->GetFieldByName(field->name()) != nullptr) {
        return config::ConfigError(
            options.LocationOf("schema"),
            fmt::format("field '{}' clashes with the metadata field of that name", field->name()),
            "rename it, or set metadata: false");
      }
      fields.push_back(field);
    }
  }
  return std::make_unique<AmqpSource>(std::move(settings), arrow::schema(std::move(fields)));
}

config::PluginSpec AmqpSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "amqp";
  spec.doc =
      "Consumes a RabbitMQ queue (AMQP 0-9-1), one record per message, with manual "
      "acknowledgements: a message is acknowledged only after every sink wrote what it "
      "produced (at-least-once), or with checkpoint: once the checkpoint covering it is "
      "complete. At most `prefetch` messages are unacknowledged at a time. Undecodable messages "
      "become dead letters with origin amqp:<queue>#<delivery tag> (and are acknowledged), or "
      "with reject: broker are nacked to the queue's dead-letter exchange. A lost connection is "
      "reopened with backoff; unacknowledged messages are then redelivered. Several processes "
      "consuming one queue share its messages.";
  spec.options = amqp::ConnectionOptionSpecs();
  OptionSpec queue{"queue", OptionType::kString, "The queue to consume."};
  queue.required = true;
  OptionSpec prefetch{
      "prefetch", OptionType::kInteger,
      "How many messages the broker may deliver before Sluice acknowledges them (basic.qos): "
      "more throughput, more messages redelivered after a crash; it bounds what Sluice holds "
      "when the pipeline is slow. Keep it at least batch_size for full batches.",
      "1000"};
  prefetch.min = 1;
  prefetch.max = 65535;
  OptionSpec metadata{
      "metadata", OptionType::kBool,
      "Add the fields _exchange and _routing_key (string), _delivery_tag (int64), _redelivered "
      "(bool: delivered before, not acknowledged), _message_id (string), _timestamp (the "
      "message's timestamp property, whole seconds) and _headers (the headers as a JSON object "
      "text); absent properties are null.",
      "false"};
  OptionSpec reject{
      "reject", OptionType::kEnum,
      "What happens to a message that cannot be decoded: dead_letter: a Sluice dead letter "
      "(reason and origin), acknowledged with its batch; broker: nacked without requeue, so "
      "the queue's dead-letter exchange (x-dead-letter-exchange) takes it, or the broker drops "
      "it when the queue has none.",
      "dead_letter"};
  reject.choices = {"dead_letter", "broker"};
  spec.options.insert(spec.options.begin() + 1, queue);
  for (auto& option : PayloadSourceOptionSpecs()) spec.options.push_back(std::move(option));
  for (auto& option : {prefetch, metadata, reject, exec::UntilOptionSpec()})
    spec.options.push_back(option);
  spec.example =
      "sources:\n"
      "  orders:\n"
      "    connector: amqp\n"
      "    url: amqp://sluice:${AMQP_PASSWORD}@rabbit.internal:5672/shop\n"
      "    queue: orders\n"
      "    declare: {exchange: {name: shop, type: topic}, bindings: [\"order.*\"]}\n"
      "    schema: {id: int64, amount: double, ts: timestamp}\n"
      "    event_time: ts\n";
  return spec;
}

}  // namespace

void RegisterAmqpSource(exec::Registry* registry) {
  registry->AddSource(AmqpSourceSpec(), MakeAmqpSource);
}

}  // namespace sluice::connectors

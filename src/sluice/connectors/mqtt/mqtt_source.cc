#include "sluice/connectors/mqtt/mqtt_source.h"

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <utility>

#include "sluice/common/duration.h"
#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/connectors/mqtt/mqtt_client.h"
#include "sluice/connectors/mqtt/topic_names.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/until.h"
#include "sluice/formats/message_codec.h"
#include "sluice/formats/type_names.h"
#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

using mqtt::Client;
using mqtt::ClientSettings;
using mqtt::ConnectionLog;

/// What the factory validated; the client starts in Run(), so that building a pipeline (and
/// `sluice validate`) never contacts a broker.
struct SourceSettings {
  std::string name;
  ClientSettings client;
  formats::PayloadDecoding decoding;
  bool metadata = false;
  exec::UntilOptions until;
  exec::BatchingOptions batching;
};

arrow::FieldVector MetadataFields() {
  return {arrow::field("_topic", arrow::utf8()), arrow::field("_qos", arrow::int32()),
          arrow::field("_retain", arrow::boolean()),
          arrow::field("_timestamp", formats::TimestampType()),
          arrow::field("_properties", arrow::utf8())};
}

/// The metadata columns of the batch being built.
class MetadataBuilder {
 public:
  Status Append(const SluiceMqttEvent& message, int64_t rows, int64_t received_us) {
    std::string properties;
    if (message.property_count > 0) {
      properties = "{";
      for (size_t i = 0; i < message.property_count; ++i) {
        const SluiceMqttProperty& property = message.properties[i];
        if (i > 0) properties += ',';
        formats::AppendJsonString({property.name, property.name_len}, &properties);
        properties += ':';
        formats::AppendJsonString({property.value, property.value_len}, &properties);
      }
      properties += '}';
    }
    for (int64_t row = 0; row < rows; ++row) {
      SLUICE_RETURN_NOT_OK(topic_.Append(mqtt::TopicOf(message)));
      SLUICE_RETURN_NOT_OK(qos_.Append(message.qos));
      SLUICE_RETURN_NOT_OK(retain_.Append(message.retain != 0));
      SLUICE_RETURN_NOT_OK(timestamp_.Append(received_us));
      SLUICE_RETURN_NOT_OK(message.property_count > 0 ? properties_.Append(properties)
                                                      : properties_.AppendNull());
    }
    return Status::OK();
  }

  Status Finish(arrow::ArrayVector* columns) {
    std::shared_ptr<arrow::Array> array;
    for (arrow::ArrayBuilder* builder :
         std::initializer_list<arrow::ArrayBuilder*>{&topic_, &qos_, &retain_, &timestamp_,
                                                     &properties_}) {
      SLUICE_RETURN_NOT_OK(builder->Finish(&array));
      columns->push_back(std::move(array));
    }
    return Status::OK();
  }

 private:
  arrow::StringBuilder topic_;
  arrow::Int32Builder qos_;
  arrow::BooleanBuilder retain_;
  arrow::TimestampBuilder timestamp_{formats::TimestampType(), arrow::default_memory_pool()};
  arrow::StringBuilder properties_;
};

/// Subscribes to topic filters and cuts the messages into micro-batches of at most
/// `batch_size` rows, sent at the latest `linger` after their first row.
///
/// Acknowledgement: the client never acknowledges by itself. Each pushed batch keeps the
/// acknowledgement handles of its messages (and of messages rejected before it); OnBatchesDone()
/// acknowledges them (PUBACK / PUBREC) on the pipeline thread once every sink wrote what they
/// produced, or with checkpoints once the checkpoint covering them is complete. A crash before
/// that leaves them unacknowledged, and the broker delivers them again to the persistent session
/// (at-least-once). An acknowledgement for a message of an earlier connection is dropped: the
/// broker sends such messages again after a reconnect.
///
/// Flow control: unacknowledged QoS 1/2 messages are bounded by the broker's in-flight window
/// (MQTT 5: our receive_maximum); the client's event queue holds that many, so while the
/// pipeline's queue is full and Push() blocks, the broker holds back the rest. QoS 0 messages
/// fill the event queue, and the client then stops reading the socket.
class MqttSource final : public exec::Source {
 public:
  MqttSource(SourceSettings settings, std::shared_ptr<arrow::Schema> schema,
             std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)), schema_(std::move(schema)), logger_(std::move(logger)) {}

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return settings_.until.any(); }

  Status Run(exec::SourceOutput& out) override {
    {
      size_t capacity = static_cast<size_t>(settings_.client.receive_maximum) + 256;
      SLUICE_ASSIGN_OR_RAISE(auto client, Client::Start(settings_.client, capacity));
      std::lock_guard<std::mutex> lock(mutex_);
      client_ = std::move(client);
    }
    SLUICE_ASSIGN_OR_RAISE(decoder_, formats::PayloadDecoder::Make(settings_.decoding));
    exec::UntilClock clock(settings_.until);
    ConnectionLog log(logger_, settings_.client.Describe());
    auto disconnected_since = std::chrono::steady_clock::now();
    while (!out.stopping() && !clock.Reached()) {
      auto now = std::chrono::steady_clock::now();
      if (settings_.batching.Due(rows_, batch_started_)) {
        SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
        if (!pushed) return Status::OK();
        continue;
      }
      if (bounded() && !log.connected() &&
          now - disconnected_since >= settings_.client.connect_timeout) {
        return mqtt::ConnectionError(settings_.client, log,
                                     FormatDuration(settings_.client.connect_timeout));
      }
      auto wait = settings_.batching.Wait(rows_, batch_started_, std::chrono::milliseconds(100));
      mqtt::Event event = client_->Poll(clock.Wait(wait));
      if (event == nullptr) continue;
      switch (event->kind) {
        case SLUICE_MQTT_MESSAGE:
          clock.Took(1);
          SLUICE_RETURN_NOT_OK(Take(*event, out));
          break;
        case SLUICE_MQTT_CONNECTED:
          log.Report(*event);
          break;
        case SLUICE_MQTT_DISCONNECTED:
          if (log.connected()) disconnected_since = std::chrono::steady_clock::now();
          log.Report(*event);
          break;
        case SLUICE_MQTT_SUBSCRIBED:
          logger_->info("subscribed to {}", TopicList());
          break;
        case SLUICE_MQTT_SUBSCRIBE_FAILED:
          return Status::IOError(fmt::format("MQTT broker {}: {} (topics: {})",
                                             settings_.client.Describe(), event->reason,
                                             TopicList()));
        default:
          break;
      }
    }
    if (rows_ > 0 && !out.stopping()) {
      SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
      if (!pushed) return Status::OK();
    }
    if (clock.Reached()) logger_->info("source ends: {}", clock.reason());
    std::lock_guard<std::mutex> lock(mutex_);
    // Messages rejected after the last batch: acknowledged once the whole run is done.
    leftover_ = std::move(pending_acks_);
    return Status::OK();
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    std::vector<uint64_t> done;
    Client* client = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      client = client_.get();
      while (acked_batches_ < batches && !batch_acks_.empty()) {
        done.insert(done.end(), batch_acks_.front().begin(), batch_acks_.front().end());
        batch_acks_.pop_front();
        ++acked_batches_;
      }
      if (end_of_run) {
        done.insert(done.end(), leftover_.begin(), leftover_.end());
        leftover_.clear();
      }
    }
    // Outside the lock: the source thread takes messages meanwhile.
    if (client != nullptr) Ack(*client, done);
  }

  // A broker source cannot replay: its position is the broker's set of unacknowledged
  // messages, which it delivers again after a restart.
  bool checkpointable() const override { return true; }
  Result<std::string> PositionAfter(int64_t) override { return std::string("{}"); }
  Status RestorePosition(const std::string&) override { return Status::OK(); }

 private:
  std::string TopicList() const {
    std::string list;
    for (const auto& [filter, qos] : settings_.client.subscriptions) {
      list += list.empty() ? filter : ", " + filter;
    }
    return list;
  }

  /// Acknowledges `handles` in order. Never blocks on the broker (the client queues them).
  void Ack(Client& client, const std::vector<uint64_t>& handles) {
    int64_t stale = 0;
    for (uint64_t handle : handles) {
      if (handle != 0 && client.Ack(handle) == Client::Acked::kStale) ++stale;
    }
    if (stale > 0) {
      logger_->debug("{} message(s) came over an earlier connection; the broker sends them again",
                     stale);
    }
  }

  /// Decodes one message into the batch being built, or rejects it.
  Status Take(const SluiceMqttEvent& message, exec::SourceOutput& out) {
    std::string origin = fmt::format("mqtt:{}", mqtt::TopicOf(message));
    std::string_view payload = mqtt::PayloadOf(message);
    std::vector<exec::DeadLetter> rejected;
    std::string reason;
    SLUICE_ASSIGN_OR_RAISE(int64_t rows, decoder_->Append(payload, origin, &rejected, &reason));
    for (auto& letter : rejected) {
      letter.stage = "source";
      letter.source = settings_.name;
      out.Reject(std::move(letter));
    }
    if (rows == 0 && !reason.empty()) {
      out.Reject(exec::DeadLetter{reason, "source", settings_.name, origin,
                                  decoder_->DeadLetterRecord(payload)});
    }
    if (rows > 0 && settings_.metadata) {
      auto received = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      SLUICE_RETURN_NOT_OK(metadata_.Append(message, rows, received.count()));
    }
    if (rows > 0 && rows_ == 0) batch_started_ = std::chrono::steady_clock::now();
    rows_ += rows;
    if (message.ack_handle != 0) {
      std::vector<uint64_t> rejected_only;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_acks_.push_back(message.ack_handle);
        // Only rejected messages for a while: their dead letters are queued, and holding their
        // acknowledgements back longer would fill the broker's in-flight window and stall.
        if (rows_ == 0 && pending_acks_.size() >= settings_.client.receive_maximum / 2u + 1) {
          rejected_only.swap(pending_acks_);
        }
      }
      if (!rejected_only.empty()) Ack(*client_, rejected_only);
    }
    return Status::OK();
  }

  /// Sends the batch being built; false when the pipeline is stopping.
  Result<bool> PushBatch(exec::SourceOutput& out) {
    SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector columns, decoder_->Finish());
    if (settings_.metadata) SLUICE_RETURN_NOT_OK(metadata_.Finish(&columns));
    int64_t rows = rows_;
    rows_ = 0;
    std::vector<uint64_t> acks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      acks = std::move(pending_acks_);
      pending_acks_.clear();
      // Recorded before Push(): the pipeline may be done with the batch before Push() returns.
      batch_acks_.push_back(std::move(acks));
    }
    Status pushed = out.Push(arrow::RecordBatch::Make(schema_, rows, std::move(columns)));
    if (!pushed.ok()) {
      // Not acknowledged: the broker delivers these messages again.
      std::lock_guard<std::mutex> lock(mutex_);
      batch_acks_.pop_back();
    }
    if (pushed.IsCancelled()) return false;
    SLUICE_RETURN_NOT_OK(pushed);
    return true;
  }

  const SourceSettings settings_;
  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<spdlog::logger> logger_;

  // Source thread only.
  std::unique_ptr<formats::PayloadDecoder> decoder_;
  MetadataBuilder metadata_;
  int64_t rows_ = 0;
  std::chrono::steady_clock::time_point batch_started_;

  // Shared with the pipeline thread (OnBatchesDone).
  std::mutex mutex_;
  std::unique_ptr<Client> client_;
  /// Acknowledgement handles of the messages since the last pushed batch.
  std::vector<uint64_t> pending_acks_;
  /// Those of each pushed batch not acknowledged yet, oldest first.
  std::deque<std::vector<uint64_t>> batch_acks_;
  int64_t acked_batches_ = 0;
  /// Those of messages rejected after the last batch, acknowledged at the end of the run.
  std::vector<uint64_t> leftover_;
};

Result<std::unique_ptr<exec::Source>> MakeMqttSource(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  SourceSettings settings;
  settings.name = context.name;
  SLUICE_ASSIGN_OR_RAISE(settings.client,
                         mqtt::ClientSettingsFromConfig(
                             options, fmt::format("sluice-{}-{}", context.pipeline_name,
                                                  context.name)));
  int qos = static_cast<int>(options.GetInteger("qos"));
  std::vector<std::string> topics = options.GetStringList("topics");
  if (topics.empty()) return config::ConfigError(options.LocationOf("topics"), "no topic given");
  for (const auto& topic : topics) {
    Status valid = mqtt::CheckTopicFilter(topic);
    if (!valid.ok()) {
      return config::ConfigError(options.LocationOf("topics"), valid.message(),
                                 "+ stands for one whole level, # for the rest and comes last; "
                                 "$share/<group>/<filter> shares a subscription");
    }
    settings.client.subscriptions.emplace_back(topic, qos);
  }
  settings.client.clean_start = options.GetBool("clean_start");
  settings.client.session_expiry =
      std::chrono::duration_cast<std::chrono::seconds>(options.GetDuration("session_expiry"));
  if (options.Has("session_expiry") && settings.client.protocol_version != 5) {
    return config::ConfigError(options.LocationOf("session_expiry"),
                               "session_expiry needs version 5",
                               "with 3.1.1 the broker keeps a session until its own expiry "
                               "(mosquitto: persistent_client_expiration)");
  }
  settings.client.receive_maximum = static_cast<uint16_t>(options.GetInteger("receive_maximum"));
  SLUICE_ASSIGN_OR_RAISE(settings.decoding, PayloadDecodingFromConfig(options));
  settings.metadata = options.GetBool("metadata");
  settings.until = exec::UntilOptions::FromOptions(options);
  settings.batching = exec::BatchingOptions::FromOptions(options);

  arrow::FieldVector fields = settings.decoding.schema->fields();
  if (settings.metadata) {
    for (const auto& field : MetadataFields()) {
      if (settings.decoding.schema->GetFieldByName(field->name()) != nullptr) {
        return config::ConfigError(
            options.Has("schema") ? options.LocationOf("schema") : options.where(),
            fmt::format("field '{}' clashes with the metadata field of that name",
                        field->name()),
            "rename it, or set metadata: false");
      }
      fields.push_back(field);
    }
  }
  auto logger = ComponentLogger(fmt::format("source {}", context.name));
  return std::make_unique<MqttSource>(std::move(settings), arrow::schema(std::move(fields)),
                                      std::move(logger));
}

config::PluginSpec MqttSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "mqtt";
  spec.doc =
      "Subscribes to MQTT topics (3.1.1 or 5), one record per message. QoS 1 and 2 messages are "
      "acknowledged only after every sink has written the batches that carried them, or with "
      "checkpoint: after the checkpoint covering them (at-least-once; add dedup on a message id "
      "for exactly-once results). With clean_start: false the broker keeps the session, so "
      "messages published while Sluice is down arrive after a restart. Messages that cannot be "
      "decoded become dead letters with origin mqtt:<topic>. Bounded with until:.";
  spec.options = mqtt::ClientOptionSpecs();
  OptionSpec topics{"topics", OptionType::kStringList,
                    "Topic filters: + matches one level, # the rest; $share/<group>/<filter> is a "
                    "shared subscription, whose messages the broker spreads over the clients of "
                    "the group (scale-out over several processes)."};
  topics.required = true;
  OptionSpec qos{"qos", OptionType::kInteger,
                 "Subscription QoS: 0 at most once (never acknowledged, lost while down), 1 at "
                 "least once, 2 exactly once between broker and client.",
                 "1"};
  qos.min = 0;
  qos.max = 2;
  OptionSpec clean_start{"clean_start", OptionType::kBool,
                         "true: start a new session at every connection (messages published "
                         "while away are lost). false: keep the session, so QoS 1/2 messages "
                         "wait for the client (persistent session).",
                         "false"};
  OptionSpec session_expiry{"session_expiry", OptionType::kDuration,
                            "Version 5, clean_start false: how long the broker keeps the session "
                            "(and queues messages) after a disconnect.",
                            "1h"};
  session_expiry.min = 1000;
  session_expiry.max = 4294967295000.0;
  OptionSpec receive_maximum{
      "receive_maximum", OptionType::kInteger,
      "Version 5 flow control: how many QoS 1/2 messages the broker may send before they are "
      "acknowledged, which bounds the messages in flight in the pipeline. With 3.1.1 the "
      "broker's setting decides (mosquitto: max_inflight_messages).",
      "1000"};
  receive_maximum.min = 1;
  receive_maximum.max = 65535;
  OptionSpec metadata{
      "metadata", OptionType::kBool,
      "Add the fields _topic (string), _qos (int32), _retain (bool), _timestamp (when the "
      "message was received) and _properties (version 5 user properties as a JSON object text, "
      "null when there are none).",
      "false"};
  for (auto& option : {topics, qos, clean_start, session_expiry, receive_maximum}) {
    spec.options.push_back(option);
  }
  for (auto& option : PayloadSourceOptionSpecs()) spec.options.push_back(std::move(option));
  spec.options.push_back(metadata);
  spec.options.push_back(exec::UntilOptionSpec());
  spec.example =
      "sources:\n"
      "  sensors:\n"
      "    connector: mqtt\n"
      "    url: mqtt://127.0.0.1:1883\n"
      "    topics: [sensors/+/temperature]\n"
      "    client_id: sensor-stats\n"
      "    schema: {device: string, celsius: double, ts: timestamp}\n"
      "    event_time: ts\n";
  return spec;
}

}  // namespace

void RegisterMqttSource(exec::Registry* registry) {
  registry->AddSource(MqttSourceSpec(), MakeMqttSource);
}

}  // namespace sluice::connectors

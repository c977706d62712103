#include "sluice/connectors/mqtt/mqtt_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "sluice/common/duration.h"
#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/connectors/mqtt/mqtt_client.h"
#include "sluice/connectors/mqtt/topic_names.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::connectors {
namespace {

using mqtt::Client;
using mqtt::ClientSettings;
using mqtt::ConnectionLog;

/// Bytes of a PUBLISH packet besides topic and payload (fixed header, lengths, packet id,
/// MQTT 5 properties), kept free under max_message_size.
constexpr size_t kPacketOverhead = 64;

struct SinkSettings {
  std::string name;
  ClientSettings client;
  mqtt::TopicTemplate topic;
  int qos = 1;
  bool retain = false;
  std::chrono::seconds message_expiry{0};
  std::chrono::nanoseconds delivery_timeout{std::chrono::seconds(30)};
  int64_t retries = 3;
  /// The sink's options, for the encoder when the input schema is known only at Open().
  config::Options options;
};

/// One message of the batch being written.
struct Outgoing {
  std::string topic;
  std::string payload;
  /// The row it was made from, or -1 for a whole batch (format arrow).
  int64_t row = -1;
};

/// Publishes one JSON, CSV, Avro or raw message per row, or one Arrow IPC message per batch,
/// to a fixed topic or one made from each row's fields. Write() returns once the broker
/// confirmed every QoS 1/2 message of the batch (PUBACK / PUBCOMP; QoS 0: once written to the
/// socket): that is what lets the pipeline acknowledge the input (at-least-once). Messages whose
/// confirmation does not come (the connection was lost) are published again, up to `retries`
/// times; messages the broker refuses (MQTT 5 reason codes) and rows that cannot become a message
/// (a null topic field, a message over max_message_size) become dead letters. A broker that
/// stays unreachable fails the run. Pipeline thread only.
class MqttSink final : public exec::Sink {
 public:
  MqttSink(SinkSettings settings, std::unique_ptr<formats::PayloadEncoder> encoder,
           exec::DeadLetterQueue* dead_letters, std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)),
        encoder_(std::move(encoder)),
        dead_letters_(dead_letters),
        logger_(std::move(logger)),
        log_(logger_, settings_.client.Describe()) {}

  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    SLUICE_RETURN_NOT_OK(settings_.topic.Bind(*schema));
    if (encoder_ == nullptr) {
      SLUICE_ASSIGN_OR_RAISE(encoder_, PayloadEncoderFromConfig(settings_.options, schema));
    }
    SLUICE_ASSIGN_OR_RAISE(client_, Client::Start(settings_.client, 4096));
    // Wait for the first connection, so that wrong credentials or an unreachable broker fail
    // the run before any input is read.
    auto deadline = std::chrono::steady_clock::now() + settings_.client.connect_timeout;
    while (!log_.connected()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return mqtt::ConnectionError(settings_.client, log_,
                                     FormatDuration(settings_.client.connect_timeout));
      }
      mqtt::Event event = client_->Poll(std::chrono::milliseconds(100));
      if (event != nullptr) log_.Report(*event);
    }
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (client_ == nullptr) return Status::Invalid("mqtt sink: Write() before Open()");
    std::vector<Outgoing> messages;
    std::string reason;
    if (encoder_->per_batch()) {
      SLUICE_ASSIGN_OR_RAISE(std::string payload, formats::PayloadEncoder::EncodeBatch(*batch));
      messages.push_back({settings_.topic.text(), std::move(payload), -1});
    } else {
      SLUICE_RETURN_NOT_OK(encoder_->Prepare(batch));
      for (int64_t row = 0; row < batch->num_rows(); ++row) {
        Outgoing message;
        message.row = row;
        if (settings_.topic.fixed()) {
          message.topic = settings_.topic.text();
        } else if (!settings_.topic.Render(*batch, row, &message.topic, &reason)) {
          Reject(*batch, row, std::move(reason));
          continue;
        }
        SLUICE_ASSIGN_OR_RAISE(bool encoded, encoder_->EncodeRow(row, &message.payload, &reason));
        if (!encoded) {
          Reject(*batch, row, std::move(reason));
          continue;
        }
        messages.push_back(std::move(message));
      }
    }
    std::vector<size_t> todo;
    for (size_t i = 0; i < messages.size(); ++i) {
      size_t size = messages[i].payload.size() + messages[i].topic.size() + kPacketOverhead;
      if (size > settings_.client.max_packet_size) {
        Reject(*batch, messages[i].row,
               fmt::format("the message of {} bytes is larger than max_message_size ({})", size,
                           settings_.client.max_packet_size));
        continue;
      }
      todo.push_back(i);
    }
    std::map<size_t, std::string> refused;
    std::string lost_reason;
    for (int64_t attempt = 0; !todo.empty(); ++attempt) {
      if (attempt > 0) {
        if (attempt > settings_.retries) {
          return Status::IOError(fmt::format(
              "{} message(s) to MQTT broker {} unconfirmed after {} attempt(s): {}", todo.size(),
              settings_.client.Describe(), attempt, lost_reason));
        }
        logger_->warn("{} message(s) unconfirmed ({}); publishing them again (attempt {} of {})",
                      todo.size(), lost_reason, attempt + 1, settings_.retries + 1);
        SLUICE_RETURN_NOT_OK(AwaitConnection());
      }
      SLUICE_ASSIGN_OR_RAISE(todo, PublishAll(messages, todo, &refused, &lost_reason));
    }
    for (auto& [index, why] : refused) Reject(*batch, messages[index].row, std::move(why));
    return Status::OK();
  }

  Status Close() override { return Status::OK(); }

 private:
  /// Publishes messages[todo] and waits for their completions, up to delivery_timeout. Returns
  /// those to publish again (unconfirmed), with why in `lost_reason`; those the broker refused
  /// go to `refused`.
  Result<std::vector<size_t>> PublishAll(const std::vector<Outgoing>& messages,
                                         const std::vector<size_t>& todo,
                                         std::map<size_t, std::string>* refused,
                                         std::string* lost_reason) {
    std::map<uint64_t, size_t> waiting;
    std::vector<size_t> again;
    auto deadline = std::chrono::steady_clock::now() + settings_.delivery_timeout;
    for (size_t index : todo) {
      const Outgoing& message = messages[index];
      while (true) {
        auto queued = client_->Publish(message.topic, message.payload, settings_.qos,
                                       settings_.retain, settings_.message_expiry);
        if (!queued.ok()) {
          (*refused)[index] = queued.status().message();
          break;
        }
        if (queued->has_value()) {
          waiting[**queued] = index;
          break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          *lost_reason = "the client's request queue stayed full";
          again.push_back(index);
          break;
        }
        HandleEvent(client_->Poll(std::chrono::milliseconds(5)), &waiting, &again, refused,
                    lost_reason);
      }
    }
    while (!waiting.empty()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        *lost_reason = fmt::format("no confirmation within {}",
                                   FormatDuration(settings_.delivery_timeout));
        for (const auto& [token, index] : waiting) again.push_back(index);
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      HandleEvent(client_->Poll(std::min(left, std::chrono::milliseconds(100))), &waiting, &again,
                  refused, lost_reason);
    }
    return again;
  }

  void HandleEvent(mqtt::Event event, std::map<uint64_t, size_t>* waiting,
                   std::vector<size_t>* again, std::map<size_t, std::string>* refused,
                   std::string* lost_reason) {
    if (event == nullptr) return;
    switch (event->kind) {
      case SLUICE_MQTT_PUBLISHED:
        waiting->erase(event->token);
        break;
      case SLUICE_MQTT_PUBLISH_FAILED: {
        auto it = waiting->find(event->token);
        if (it == waiting->end()) break;  // of an earlier attempt
        if (event->refused) {
          (*refused)[it->second] = event->reason;
        } else {
          *lost_reason = event->reason;
          again->push_back(it->second);
        }
        waiting->erase(it);
        break;
      }
      default:
        log_.Report(*event);
    }
  }

  /// Waits until the client is connected again, up to connect_timeout.
  Status AwaitConnection() {
    auto deadline = std::chrono::steady_clock::now() + settings_.client.connect_timeout;
    while (!log_.connected()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return mqtt::ConnectionError(settings_.client, log_,
                                     FormatDuration(settings_.client.connect_timeout));
      }
      mqtt::Event event = client_->Poll(std::chrono::milliseconds(100));
      if (event != nullptr && event->kind != SLUICE_MQTT_PUBLISHED &&
          event->kind != SLUICE_MQTT_PUBLISH_FAILED) {
        log_.Report(*event);
      }
    }
    return Status::OK();
  }

  void Reject(const arrow::RecordBatch& batch, int64_t row, std::string reason) {
    if (dead_letters_ == nullptr) return;
    exec::DeadLetter letter;
    letter.reason = std::move(reason);
    letter.stage = "sink:" + settings_.name;
    letter.origin = row >= 0 ? fmt::format("row {}", row) : "batch";
    letter.record = row >= 0 ? exec::RowToJson(batch, row)
                             : fmt::format("{{\"rows\": {}}}", batch.num_rows());
    dead_letters_->Add(std::move(letter));
  }

  SinkSettings settings_;
  std::unique_ptr<formats::PayloadEncoder> encoder_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<spdlog::logger> logger_;
  ConnectionLog log_;
  std::unique_ptr<Client> client_;
};

Result<std::unique_ptr<exec::Sink>> MakeMqttSink(const exec::ConnectorContext& context,
                                                 const config::Options& options) {
  SinkSettings settings;
  settings.name = context.name;
  SLUICE_ASSIGN_OR_RAISE(settings.client,
                         mqtt::ClientSettingsFromConfig(
                             options, fmt::format("sluice-{}-{}", context.pipeline_name,
                                                  context.name)));
  // The sink confirms each batch itself and publishes again what a lost connection left
  // unconfirmed, so it needs no session.
  settings.client.clean_start = true;
  SLUICE_ASSIGN_OR_RAISE(settings.topic, mqtt::TopicTemplate::Parse(options.GetText("topic")));
  settings.qos = static_cast<int>(options.GetInteger("qos"));
  settings.retain = options.GetBool("retain");
  if (options.Has("message_expiry")) {
    if (settings.client.protocol_version != 5) {
      return config::ConfigError(options.LocationOf("message_expiry"),
                                 "message_expiry needs version 5");
    }
    settings.message_expiry = std::chrono::ceil<std::chrono::seconds>(
        options.GetDuration("message_expiry"));
  }
  settings.delivery_timeout = options.GetDuration("delivery_timeout");
  settings.retries = options.GetInteger("retries");
  settings.options = options;
  std::unique_ptr<formats::PayloadEncoder> encoder;
  if (context.input_schema != nullptr) {
    SLUICE_RETURN_NOT_OK(settings.topic.Bind(*context.input_schema));
    SLUICE_ASSIGN_OR_RAISE(encoder, PayloadEncoderFromConfig(options, context.input_schema));
  }
  if (encoder != nullptr && encoder->per_batch() && !settings.topic.fixed()) {
    return config::ConfigError(options.LocationOf("topic"),
                               "format arrow sends a whole batch as one message, to one topic",
                               "use a topic without {field}, or a per-row format");
  }
  auto logger = ComponentLogger(fmt::format("sink {}", context.name));
  return std::make_unique<MqttSink>(std::move(settings), std::move(encoder), context.dead_letters,
                                    std::move(logger));
}

config::PluginSpec MqttSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "mqtt";
  spec.doc =
      "Publishes to an MQTT broker (3.1.1 or 5): one message per row (json, csv, avro, raw) or "
      "per micro-batch (arrow). A batch counts as written once the broker confirmed every "
      "message of it (QoS 1: PUBACK, QoS 2: PUBCOMP), which is when the input is acknowledged "
      "(at-least-once). Unconfirmed messages are published again; rows the broker refuses or "
      "that cannot become a message are dead letters.";
  spec.options = mqtt::ClientOptionSpecs();
  OptionSpec topic{"topic", OptionType::kString,
                   "The topic to publish to; {field} stands for a row's value of that field "
                   "(alerts/{symbol}), {{ and }} for braces."};
  topic.required = true;
  OptionSpec qos{"qos", OptionType::kInteger,
                 "0: fire and forget; 1: confirmed (PUBACK), may arrive twice; 2: confirmed "
                 "once (PUBCOMP).",
                 "1"};
  qos.min = 0;
  qos.max = 2;
  OptionSpec retain{"retain", OptionType::kBool,
                    "The broker keeps the last message of each topic for new subscribers.",
                    "false"};
  OptionSpec message_expiry{"message_expiry", OptionType::kDuration,
                            "Version 5: the broker drops a message not delivered within this "
                            "time (whole seconds)."};
  message_expiry.min = 1000;
  OptionSpec delivery_timeout{"delivery_timeout", OptionType::kDuration,
                              "How long to wait for the broker's confirmations of a batch before "
                              "publishing the unconfirmed messages again.",
                              "30s"};
  delivery_timeout.min = 100;
  OptionSpec retries{"retries", OptionType::kInteger,
                     "How often unconfirmed messages are published again (after reconnecting) "
                     "before the run fails.",
                     "3"};
  retries.min = 0;
  for (auto& option : {topic, qos, retain, message_expiry, delivery_timeout, retries}) {
    spec.options.push_back(option);
  }
  for (auto& option : PayloadSinkOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sinks:\n"
      "  alerts:\n"
      "    connector: mqtt\n"
      "    url: mqtt://127.0.0.1:1883\n"
      "    topic: alerts/{symbol}\n"
      "    qos: 1\n";
  return spec;
}

}  // namespace

void RegisterMqttSink(exec::Registry* registry) {
  registry->AddSink(MqttSinkSpec(), MakeMqttSink);
}

}  // namespace sluice::connectors

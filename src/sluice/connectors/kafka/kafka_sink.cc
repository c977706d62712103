#include "sluice/connectors/kafka/kafka_sink.h"

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/compute/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/config/location.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/connectors/kafka/kafka_client.h"
#include "sluice/connectors/kafka/transactional_producer.h"
#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/record_writer.h"
#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

using kafka::ClientEvents;

/// The row a failed message stands for when it carried a whole batch (format: arrow).
constexpr int64_t kWholeBatch = -1;

struct SinkSettings {
  std::string name;
  std::string brokers;
  /// The fixed topic, or empty when `topic_field` names it per row.
  std::string topic;
  std::string topic_field;
  std::vector<std::string> key_fields;
  /// How rows become messages: json, csv, avro and raw write one message per row, arrow one per
  /// batch.
  formats::PayloadEncoding encoding;
  config::Location where;
  std::chrono::nanoseconds delivery_timeout{std::chrono::seconds(30)};
  /// Exactly-once: one producer transaction per input batch, carrying the source's offsets, or
  /// with `checkpoints` one per checkpoint.
  bool exactly_once = false;
  std::string transactional_id;
  /// The pipeline takes checkpoints (ConnectorContext::checkpoints).
  bool checkpoints = false;
  /// With checkpoints and exactly_once: reads the checkpoint markers (group
  /// `<transactional_id>.checkpoints`) at recovery.
  std::unique_ptr<RdKafka::Conf> marker_conf;
};

/// With checkpoints, each committed transaction records its checkpoint id as the offset of the
/// consumer group `<transactional_id>.checkpoints` on a partition every cluster has: the sink's
/// own topic may not exist yet when the first checkpoint, with no output, commits.
std::pair<std::string, int32_t> MarkerPartition(const SinkSettings& settings) {
  (void)settings;
  return {"__consumer_offsets", 0};
}

std::string MarkerGroup(const SinkSettings& settings) {
  return settings.transactional_id + ".checkpoints";
}

/// One failed delivery, collected by the delivery-report callback.
struct DeliveryFailure {
  int64_t row = 0;
  RdKafka::ErrorCode code = RdKafka::ERR_NO_ERROR;
  std::string reason;
};

/// Whether a failed delivery means the brokers are unreachable (the run fails) rather than that
/// this message is bad (it becomes a dead letter).
bool IsConnectionFailure(RdKafka::ErrorCode code) {
  return code == RdKafka::ERR__MSG_TIMED_OUT || code == RdKafka::ERR__TRANSPORT ||
         code == RdKafka::ERR__ALL_BROKERS_DOWN || code == RdKafka::ERR__TIMED_OUT ||
         code == RdKafka::ERR__FATAL;
}

/// Produces one JSON, CSV or Avro message per row, or one Arrow IPC message per batch, with a
/// librdkafka Producer, which batches, compresses and
/// retries with backoff on its own threads. Write() returns once every message of the batch is
/// delivered or has failed for good, so that "Write returned OK" means "in Kafka": that is what
/// lets the pipeline acknowledge the input (at-least-once). Messages the brokers refuse become
/// dead letters with the reason; unreachable brokers (after `delivery_timeout` of retries) fail
/// the run. Pipeline thread only; the delivery callback runs inside poll()/flush() on it too.
///
/// With `exactly_once` the producer is transactional: the first Write() after a Commit() begins
/// a transaction, and Commit() (the pipeline calls it once the input batch is done) adds the
/// Kafka source's offsets for that batch (send_offsets_to_transaction) and commits. Output and
/// input position so become visible together; a crash leaves an open transaction, which the
/// next process with the same transactional id aborts (fencing its predecessor) before it
/// resumes from the committed offsets. A message the brokers refuse inside a transaction fails
/// the run (the transaction is aborted and a restart replays the batch) instead of becoming a
/// dead letter.
///
/// With `exactly_once` in a pipeline with checkpoints the sink decides whether a checkpoint
/// completed (CheckpointRole::kDeciding): each checkpoint's output is one transaction, committed
/// by CommitCheckpoint() once the checkpoint is written, together with a marker (the checkpoint
/// id as the offset of group `<transactional_id>.checkpoints`, see MarkerPartition()) that
/// LastCommittedCheckpoint() reads after a crash. Two producers (`<transactional_id>-0` and
/// `-1`) take turns, because the next checkpoint's output is written while the previous one is
/// being saved: Write() goes into the current producer's transaction, PrepareCheckpoint() flushes
/// it and turns to the other producer. Open() initialises both, which aborts whatever a killed
/// predecessor left open (a commit it had already decided is completed instead).
class KafkaSink final : public exec::Sink, public RdKafka::DeliveryReportCb {
 public:
  KafkaSink(SinkSettings settings, std::unique_ptr<RdKafka::Conf> conf,
            std::unique_ptr<ClientEvents> events, exec::DeadLetterQueue* dead_letters)
      : settings_(std::move(settings)),
        conf_(std::move(conf)),
        events_(std::move(events)),
        dead_letters_(dead_letters) {}

  ~KafkaSink() override {
    // A failed run: give queued messages a moment, but never hang on unreachable brokers.
    if (plain_producer_ != nullptr) plain_producer_->flush(1000);
    for (const auto& transactional : transactional_) transactional->producer()->flush(1000);
  }

  /// Whether checkpoints decide this sink's transactions.
  bool deciding() const { return settings_.exactly_once && settings_.checkpoints; }

  exec::CheckpointRole checkpoint_role() const override {
    return deciding() ? exec::CheckpointRole::kDeciding : exec::CheckpointRole::kAtLeastOnce;
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    if (!settings_.topic_field.empty()) {
      topic_index_ = schema->GetFieldIndex(settings_.topic_field);
      if (topic_index_ < 0 || schema->field(topic_index_)->type()->id() != arrow::Type::STRING) {
        return config::ConfigError(
            settings_.where,
            fmt::format("topic_field '{}' is not a string field of the output",
                        settings_.topic_field),
            SpellingHint(settings_.topic_field, schema->field_names()));
      }
    }
    for (const auto& name : settings_.key_fields) {
      int index = schema->GetFieldIndex(name);
      if (index < 0) {
        return config::ConfigError(settings_.where,
                                   fmt::format("key field '{}' is not in the output", name),
                                   SpellingHint(name, schema->field_names()));
      }
      key_indices_.push_back(index);
    }
    SLUICE_ASSIGN_OR_RAISE(encoder_, formats::PayloadEncoder::Make(settings_.encoding, schema));
    if (key_indices_.size() > 1) {
      arrow::FieldVector key_fields;
      for (int index : key_indices_) key_fields.push_back(schema->field(index));
      key_encoder_ =
          std::make_unique<formats::JsonRowEncoder>(*arrow::schema(std::move(key_fields)));
    }
    std::string error;
    if (conf_->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error) !=
        RdKafka::Conf::CONF_OK) {
      return Status::Invalid("cannot register the Kafka delivery callback: ", error);
    }
    if (!settings_.exactly_once) {
      plain_producer_.reset(RdKafka::Producer::create(conf_.get(), error));
      if (plain_producer_ == nullptr)
        return Status::IOError("cannot create a Kafka producer: ", error);
      producer_ = plain_producer_.get();
      return Status::OK();
    }
    std::vector<std::string> ids = {settings_.transactional_id};
    if (deciding()) ids = {settings_.transactional_id + "-0", settings_.transactional_id + "-1"};
    for (const auto& id : ids) {
      SLUICE_ASSIGN_OR_RAISE(auto transactional,
                             kafka::TransactionalProducer::Make(conf_.get(), id, Timeout()));
      // Fences earlier producers with this transactional id and ends their open transaction.
      SLUICE_RETURN_NOT_OK(transactional->Initialize());
      transactional_.push_back(std::move(transactional));
    }
    // Two producers take turns, starting with the second: checkpoint N is then in producer
    // N % 2 when checkpoints count from 1.
    UseProducer(transactional_.size() - 1);
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (producer_ == nullptr) return Status::Invalid("kafka sink: Write() before Open()");
    if (settings_.exactly_once) SLUICE_RETURN_NOT_OK(transactional_[current_]->Begin());
    std::shared_ptr<arrow::StringArray> single_key;
    std::shared_ptr<arrow::RecordBatch> key_columns;
    if (key_indices_.size() == 1) {
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum cast,
                             arrow::compute::Cast(batch->column(key_indices_[0]), arrow::utf8()));
      single_key = std::static_pointer_cast<arrow::StringArray>(cast.make_array());
    } else if (key_indices_.size() > 1) {
      SLUICE_ASSIGN_OR_RAISE(key_columns, batch->SelectColumns(key_indices_));
    }
    const auto* topics =
        topic_index_ >= 0
            ? static_cast<const arrow::StringArray*>(batch->column(topic_index_).get())
            : nullptr;
    failures_.clear();
    std::string value;
    std::string key;
    if (encoder_->per_batch()) {
      if (batch->num_rows() > 0) {
        SLUICE_ASSIGN_OR_RAISE(value, formats::PayloadEncoder::EncodeBatch(*batch));
        SLUICE_RETURN_NOT_OK(Produce(settings_.topic, value, nullptr, 0, kWholeBatch));
      }
      return AwaitDelivery(*batch);
    }
    SLUICE_RETURN_NOT_OK(encoder_->Prepare(batch));
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      value.clear();
      std::string reason;
      SLUICE_ASSIGN_OR_RAISE(bool encoded, encoder_->EncodeRow(row, &value, &reason));
      if (!encoded) {
        Reject(*batch, row, std::move(reason));
        continue;
      }
      const void* key_data = nullptr;
      size_t key_size = 0;
      if (single_key != nullptr && single_key->IsValid(row)) {
        std::string_view view = single_key->GetView(row);
        key_data = view.data();
        key_size = view.size();
      } else if (key_columns != nullptr) {
        key.clear();
        key_encoder_->AppendRow(*key_columns, row, &key);
        key_data = key.data();
        key_size = key.size();
      }
      std::string topic = settings_.topic;
      if (topics != nullptr) {
        if (topics->IsNull(row)) {
          Reject(*batch, row, fmt::format("topic field '{}' is null", settings_.topic_field));
          continue;
        }
        topic = std::string(topics->GetView(row));
      }
      SLUICE_RETURN_NOT_OK(Produce(topic, value, key_data, key_size, row));
    }
    return AwaitDelivery(*batch);
  }

  /// Waits until every message of `batch` is delivered or has failed for good.
  Status AwaitDelivery(const arrow::RecordBatch& batch) {
    auto timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(settings_.delivery_timeout) +
        std::chrono::seconds(5);
    producer_->flush(static_cast<int>(timeout.count()));
    if (producer_->outq_len() > 0) {
      return Status::IOError(fmt::format(
          "{} message(s) to Kafka brokers {} still undelivered after {}s: {}",
          producer_->outq_len(), settings_.brokers, timeout.count() / 1000, events_->last_error()));
    }
    return HandleFailures(batch);
  }

  /// Queues one message; `row` is the row it carries (kWholeBatch for an arrow message). A
  /// message librdkafka refuses at once is recorded in `failures_`; only a fatal producer error
  /// fails the call.
  Status Produce(const std::string& topic, const std::string& value, const void* key_data,
                 size_t key_size, int64_t row) {
    while (true) {
      RdKafka::ErrorCode code =
          producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(value.data()), value.size(), key_data, key_size,
                             0, reinterpret_cast<void*>(static_cast<intptr_t>(row)));
      if (code == RdKafka::ERR_NO_ERROR) return Status::OK();
      if (code == RdKafka::ERR__QUEUE_FULL) {
        producer_->poll(100);  // wait for deliveries to make room
        continue;
      }
      if (code == RdKafka::ERR__FATAL) return kafka::KafkaError(code, "the Kafka producer failed");
      failures_.push_back({row, code, RdKafka::err2str(code)});
      return Status::OK();
    }
  }

  Status Commit(const exec::InputDone& done) override {
    // With checkpoints the transactions follow checkpoints (CommitCheckpoint()).
    if (!settings_.exactly_once || settings_.checkpoints) return Status::OK();
    auto* input = dynamic_cast<kafka::TransactionalInput*>(done.source);
    if (input == nullptr) return Status::Invalid("kafka sink: exactly_once needs a kafka source");
    SLUICE_ASSIGN_OR_RAISE(kafka::ConsumerPosition position,
                           input->TakePosition(settings_.name, done.batches, done.end_of_run));
    kafka::TransactionalProducer& transactional = *transactional_[current_];
    if (!transactional.in_transaction() && position.offsets.empty()) return Status::OK();
    SLUICE_RETURN_NOT_OK(transactional.Begin());
    if (!position.offsets.empty())
      SLUICE_RETURN_NOT_OK(transactional.SendOffsets(position.offsets, position.group.get()));
    return transactional.Commit();
  }

  Result<std::string> PrepareCheckpoint(int64_t id) override {
    // Without transactions Write() returned only once Kafka had every message.
    if (!deciding()) return std::string("{}");
    if (prepared_) {
      return Status::Invalid(fmt::format(
          "kafka sink: checkpoint {} prepared while checkpoint {} is not committed", id,
          prepared_->id));
    }
    kafka::TransactionalProducer& transactional = *transactional_[current_];
    // A checkpoint without output still commits its marker.
    SLUICE_RETURN_NOT_OK(transactional.Begin());
    producer_->flush(static_cast<int>(Timeout().count()));
    if (producer_->outq_len() > 0) {
      return Status::IOError(fmt::format(
          "{} message(s) to Kafka brokers {} still undelivered after {}s: {}",
          producer_->outq_len(), settings_.brokers, Timeout().count() / 1000,
          events_->last_error()));
    }
    if (!failures_.empty()) {
      return Status::IOError(fmt::format("{} message(s) of checkpoint {} failed: {}",
                                         failures_.size(), id, failures_.front().reason));
    }
    prepared_ = PreparedCheckpoint{id, current_};
    UseProducer(1 - current_);
    std::string description = R"({"transactional_id":)";
    formats::AppendJsonString(transactional.transactional_id(), &description);
    description += fmt::format(R"(,"checkpoint":{}}})", id);
    return description;
  }

  Status CommitCheckpoint(int64_t id, const std::string& pending) override {
    (void)pending;
    if (!deciding()) return Status::OK();
    if (prepared_ && prepared_->id == id) {
      kafka::TransactionalProducer& transactional = *transactional_[prepared_->producer];
      auto [topic, partition] = MarkerPartition(settings_);
      SLUICE_RETURN_NOT_OK(
          transactional.SendOffsets({{{topic, partition}, id}}, MarkerGroup(settings_)));
      SLUICE_RETURN_NOT_OK(transactional.Commit());
      prepared_.reset();
      last_committed_ = id;
      return Status::OK();
    }
    if (prepared_) {
      return Status::Invalid(fmt::format(
          "kafka sink: checkpoint {} committed while checkpoint {} is prepared", id,
          prepared_->id));
    }
    // Recovery: the pipeline restores only a checkpoint whose transaction an earlier process
    // committed (LastCommittedCheckpoint(), or its own record of the commit, which outlives
    // the brokers' retention of the marker): nothing is left to do.
    UseProducer(static_cast<size_t>((id + 1) % 2));
    return Status::OK();
  }

  Status AbortCheckpoint(int64_t id, const std::string& pending) override {
    // Open() aborted its transaction already (init_transactions).
    (void)id;
    (void)pending;
    return Status::OK();
  }

  Result<int64_t> LastCommittedCheckpoint() override {
    if (!deciding()) return -1;
    if (last_committed_) return *last_committed_;
    std::string error;
    std::unique_ptr<RdKafka::KafkaConsumer> reader(
        RdKafka::KafkaConsumer::create(settings_.marker_conf.get(), error));
    if (reader == nullptr) return Status::IOError("cannot create a Kafka consumer: ", error);
    auto [topic, partition] = MarkerPartition(settings_);
    std::vector<RdKafka::TopicPartition*> partitions = {
        RdKafka::TopicPartition::create(topic, partition, RdKafka::Topic::OFFSET_INVALID)};
    RdKafka::ErrorCode code = reader->committed(partitions, static_cast<int>(Timeout().count()));
    int64_t offset = partitions[0]->offset();
    RdKafka::ErrorCode partition_code = partitions[0]->err();
    RdKafka::TopicPartition::destroy(partitions);
    reader->close();
    if (code == RdKafka::ERR_NO_ERROR) code = partition_code;
    if (code != RdKafka::ERR_NO_ERROR) {
      return kafka::KafkaError(
          code, fmt::format("cannot read the last committed checkpoint (group '{}' on {}/{})",
                            MarkerGroup(settings_), topic, partition));
    }
    last_committed_ = offset >= 0 ? offset : -1;
    return *last_committed_;
  }

  Status Close() override {
    if (producer_ == nullptr) return Status::OK();
    bool open = prepared_.has_value();
    for (const auto& transactional : transactional_) open = open || transactional->in_transaction();
    if (open) {
      // A successful run committed its last transaction before Close().
      Abort();
      return Status::Invalid("kafka sink: closed with a transaction open");
    }
    int left = 0;
    for (RdKafka::Producer* producer : Producers()) {
      producer->flush(static_cast<int>(Timeout().count()));
      left += producer->outq_len();
    }
    Release();
    if (left > 0)
      return Status::IOError(fmt::format("{} message(s) could not be delivered to Kafka", left));
    return Status::OK();
  }

  void Abort() override {
    if (producer_ == nullptr) return;
    // What was written since the last commit is not backed by a committed input position (or
    // checkpoint): it must never become visible.
    for (const auto& transactional : transactional_)
      transactional->Abort(std::chrono::milliseconds(5000));
    // Without transactions what was sent stays sent (at least once): give it a moment.
    if (plain_producer_ != nullptr) plain_producer_->flush(1000);
    Release();
  }

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    if (settings_.exactly_once) {
      // The transaction cannot commit any more; a dead letter would not help.
      failures_.push_back({static_cast<int64_t>(reinterpret_cast<intptr_t>(message.msg_opaque())),
                           RdKafka::ERR__FATAL,
                           fmt::format("{} (inside a transaction, which is aborted)",
                                       message.errstr())});
      return;
    }
    failures_.push_back({static_cast<int64_t>(reinterpret_cast<intptr_t>(message.msg_opaque())),
                         message.err(), message.errstr()});
  }

 private:
  /// What a checkpoint's prepared transaction is in.
  struct PreparedCheckpoint {
    int64_t id = 0;
    /// The index in `transactional_` of the producer whose transaction holds it.
    size_t producer = 0;
  };

  /// Bounds each call of the transaction API, and the flush of a checkpoint.
  std::chrono::milliseconds Timeout() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(settings_.delivery_timeout);
  }

  /// Write() goes to the transactional producer `index` from now on.
  void UseProducer(size_t index) {
    current_ = index;
    producer_ = transactional_[index]->producer();
  }

  std::vector<RdKafka::Producer*> Producers() const {
    std::vector<RdKafka::Producer*> producers;
    if (plain_producer_ != nullptr) producers.push_back(plain_producer_.get());
    for (const auto& transactional : transactional_) producers.push_back(transactional->producer());
    return producers;
  }

  /// Destroys the producers.
  void Release() {
    producer_ = nullptr;
    plain_producer_.reset();
    transactional_.clear();
    prepared_.reset();
  }

  Status HandleFailures(const arrow::RecordBatch& batch) {
    if (failures_.empty()) return Status::OK();
    // Taken out first: Reject() may record new failures while these are looked at.
    std::vector<DeliveryFailure> failures = std::move(failures_);
    failures_.clear();
    int64_t unreachable = 0;
    std::string first_reason;
    for (const auto& failure : failures) {
      if (IsConnectionFailure(failure.code)) {
        if (unreachable++ == 0) first_reason = failure.reason;
        continue;
      }
      std::string reason = fmt::format("Kafka refused the message: {}", failure.reason);
      if (failure.row == kWholeBatch) {
        for (int64_t row = 0; row < batch.num_rows(); ++row) Reject(batch, row, reason);
      } else {
        Reject(batch, failure.row, std::move(reason));
      }
    }
    if (!failures_.empty()) {
      // Refused messages with no dead-letter queue to keep them: fail rather than lose them.
      return Status::IOError(fmt::format("Kafka refused {} message(s): {}", failures_.size(), failures_.front().reason));
    }
    if (unreachable > 0) {
      std::string detail = events_->last_error();
      return Status::IOError(fmt::format(
          "{} of {} message(s) could not be delivered to Kafka brokers {} within {}s: {}{}{}",
          unreachable, batch.num_rows(), settings_.brokers,
          std::chrono::duration_cast<std::chrono::seconds>(settings_.delivery_timeout).count(),
          first_reason, detail.empty() ? "" : "; last client error: ", detail));
    }
    return Status::OK();
  }

  /// A row that cannot be delivered goes to the dead letters, or fails the run when the sink was
  /// built without a dead-letter queue.
  void Reject(const arrow::RecordBatch& batch, int64_t row, std::string reason) {
    if (dead_letters_ == nullptr) {
      failures_.push_back({row, RdKafka::ERR__FATAL, std::move(reason)});
      return;
    }
    dead_letters_->Add(exec::DeadLetter{std::move(reason), "sink:" + settings_.name, "", "",
                                        exec::RowToJson(batch, row)});
  }

  const SinkSettings settings_;
  std::unique_ptr<RdKafka::Conf> conf_;
  // Declared before the producer, which calls into it until it is destroyed.
  std::unique_ptr<ClientEvents> events_;
  exec::DeadLetterQueue* dead_letters_;
  std::unique_ptr<formats::PayloadEncoder> encoder_;
  std::unique_ptr<formats::JsonRowEncoder> key_encoder_;
  int topic_index_ = -1;
  std::vector<int> key_indices_;
  std::vector<DeliveryFailure> failures_;
  /// The checkpoint prepared and not committed yet.
  std::optional<PreparedCheckpoint> prepared_;
  /// The last checkpoint committed (by this process, or found by LastCommittedCheckpoint()).
  std::optional<int64_t> last_committed_;
  // The producers come last: they call the delivery callback, which fills `failures_`, until
  // they are destroyed.
  /// Without exactly_once: the producer.
  std::unique_ptr<RdKafka::Producer> plain_producer_;
  /// With exactly_once: one transactional producer, or two taking turns with checkpoints.
  std::vector<std::unique_ptr<kafka::TransactionalProducer>> transactional_;
  size_t current_ = 0;
  /// The producer Write() uses: the plain one, or the current transactional one.
  RdKafka::Producer* producer_ = nullptr;
};

/// Without checkpoints, exactly-once is well-defined only when each output row's input batch,
/// and so the offsets to commit with it, is known: one Kafka source and no stage holding rows
/// across batches. With checkpoints, the checkpoint holds the sources' positions and the
/// stages' state, and each transaction commits with one: any sources and stages will do.
Status CheckExactlyOnce(const exec::ConnectorContext& context, const config::Options& options,
                        SinkSettings* settings) {
  settings->exactly_once = options.GetBool("exactly_once");
  settings->checkpoints = context.checkpoints;
  if (!settings->exactly_once) {
    if (options.Has("transactional_id")) {
      return config::ConfigError(options.LocationOf("transactional_id"),
                                 "transactional_id is used only with exactly_once: true");
    }
    return Status::OK();
  }
  config::Location where = options.LocationOf("exactly_once");
  if (!context.checkpoints &&
      (context.source_connectors.size() != 1 || context.source_connectors[0] != "kafka")) {
    return config::ConfigError(
        where,
        context.source_connectors.empty()
            ? std::string("exactly_once needs a Kafka source feeding this sink; a dead-letter "
                          "sink cannot be exactly-once")
            : fmt::format("exactly_once needs exactly one source, of connector kafka, whose "
                          "offsets are committed in the sink's transactions; this pipeline "
                          "reads from: {}",
                          fmt::join(context.source_connectors, ", ")),
        "add checkpoint: {dir: ...} to the pipeline (its transactions then commit with "
        "checkpoints, from any source), use one kafka source, or exactly_once: false "
        "(at-least-once)");
  }
  if (!context.checkpoints && !context.stateful_stages.empty()) {
    return config::ConfigError(
        where,
        fmt::format("exactly_once cannot follow a stateful processor ({}) in a pipeline "
                    "without checkpoints: its state is not saved, so after a crash the offsets "
                    "committed with the output would skip rows it held but had not emitted, or "
                    "replay rows it had",
                    fmt::join(context.stateful_stages, ", ")),
        "add checkpoint: {dir: ...} to the pipeline (its state is then saved with each "
        "transaction), keep to stateless processors (filter, derive, select, ...), or use "
        "exactly_once: false");
  }
  if (!options.GetBool("idempotent")) {
    return config::ConfigError(where, "exactly_once needs the idempotent producer",
                               "leave out idempotent: false");
  }
  settings->transactional_id =
      options.Has("transactional_id")
          ? options.GetString("transactional_id")
          : fmt::format("sluice-{}-{}", context.pipeline_name, context.name);
  return Status::OK();
}

Result<std::unique_ptr<exec::Sink>> MakeKafkaSink(const exec::ConnectorContext& context,
                                                  const config::Options& options) {
  SinkSettings settings;
  settings.name = context.name;
  settings.brokers = kafka::BrokerList(options);
  settings.where = options.where();
  if (options.Has("topic") == options.Has("topic_field")) {
    return config::ConfigError(options.where(), "give exactly one of 'topic' and 'topic_field'",
                               "e.g. topic: orders-enriched");
  }
  if (options.Has("topic")) settings.topic = options.GetString("topic");
  if (options.Has("topic_field")) settings.topic_field = options.GetString("topic_field");
  if (options.Has("key")) settings.key_fields = options.GetStringList("key");
  SLUICE_ASSIGN_OR_RAISE(settings.encoding, PayloadEncodingFromConfig(options));
  if (settings.encoding.format == formats::MessageFormat::kArrow) {
    for (const char* per_row : {"key", "topic_field"}) {
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
  settings.delivery_timeout = options.GetDuration("delivery_timeout");
  SLUICE_RETURN_NOT_OK(CheckExactlyOnce(context, options, &settings));

  auto linger =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.GetDuration("linger"));
  auto delivery_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(settings.delivery_timeout);
  std::map<std::string, std::string> defaults = {
      {"client.id", fmt::format("sluice-{}-{}", context.pipeline_name, context.name)},
      {"enable.idempotence", options.GetBool("idempotent") ? "true" : "false"},
      {"compression.codec", options.GetString("compression")},
      {"partitioner", options.GetString("partitioner")},
      {"linger.ms", std::to_string(linger.count())},
      {"batch.num.messages", std::to_string(options.GetInteger("batch_messages"))},
      {"message.timeout.ms", std::to_string(delivery_ms.count())},
      {"retry.backoff.ms", "100"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "5000"},
  };
  if (settings.exactly_once) {
    defaults["transactional.id"] = settings.transactional_id;
    // librdkafka requires message.timeout.ms <= transaction.timeout.ms. With checkpoints a
    // transaction stays open for a whole checkpoint interval: up to the brokers' default
    // transaction.max.timeout.ms (15 minutes) before they abort it.
    int64_t minimum = settings.checkpoints ? 900000 : 60000;
    defaults["transaction.timeout.ms"] =
        std::to_string(std::max<int64_t>(minimum, delivery_ms.count()));
  }
  auto events =
      std::make_unique<ClientEvents>(ComponentLogger(fmt::format("sink {}", context.name)));
  SLUICE_ASSIGN_OR_RAISE(auto conf, kafka::MakeClientConf(options, events.get(), defaults));
  if (settings.exactly_once && settings.checkpoints) {
    std::map<std::string, std::string> reader_defaults = {
        {"client.id", fmt::format("sluice-{}-{}-checkpoints", context.pipeline_name,
                                  context.name)},
        {"group.id", MarkerGroup(settings)},
        {"enable.auto.commit", "false"},
        {"isolation.level", "read_committed"},
    };
    SLUICE_ASSIGN_OR_RAISE(settings.marker_conf,
                           kafka::MakeClientConf(options, events.get(), reader_defaults));
  }
  return std::make_unique<KafkaSink>(std::move(settings), std::move(conf), std::move(events),
                                     context.dead_letters);
}

config::PluginSpec KafkaSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "kafka";
  spec.doc =
      "Writes one JSON, CSV or Avro message per row, or one Arrow IPC message per batch, to Kafka. "
      "Each batch is written once every message is delivered, so the "
      "input is acknowledged only after Kafka has it (at-least-once; idempotent producer by "
      "default). librdkafka "
      "retries with backoff; messages the brokers refuse become dead letters; unreachable brokers "
      "fail the run "
      "after delivery_timeout.";
  spec.options = kafka::ClientOptions();
  OptionSpec topic{"topic", OptionType::kString, "The topic to write to (or give topic_field)."};
  OptionSpec topic_field{"topic_field", OptionType::kString,
                         "A string field naming each row's topic, instead of topic."};
  OptionSpec key{"key", OptionType::kStringList,
                 "Field(s) forming the message key: one field's value as text, several as a JSON "
                 "object. No key "
                 "when left out."};
  OptionSpec compression{"compression", OptionType::kEnum, "Compression of message batches.",
                         "none"};
  compression.choices = {"none", "gzip", "snappy", "lz4", "zstd"};
  OptionSpec partitioner{
      "partitioner", OptionType::kEnum,
      "How a key picks its partition; murmur2_random matches the Java client (keyless messages "
      "are spread at random).",
      "murmur2_random"};
  partitioner.choices = {"murmur2_random", "murmur2",      "consistent_random",
                         "consistent",     "fnv1a_random", "fnv1a",
                         "random"};
  OptionSpec idempotent{
      "idempotent", OptionType::kBool,
      "Idempotent producer: retries never duplicate or reorder messages within a partition.",
      "true"};
  OptionSpec linger{"linger", OptionType::kDuration,
                    "How long the producer waits to fill a message batch (linger.ms): more "
                    "throughput, more latency.",
                    "5ms"};
  linger.min = 0;
  OptionSpec batch_messages{"batch_messages", OptionType::kInteger,
                            "Messages per produce request at most.", "10000"};
  batch_messages.min = 1;
  batch_messages.max = 1000000;
  OptionSpec delivery_timeout{
      "delivery_timeout", OptionType::kDuration,
      "How long a message may be retried before its delivery fails (message.timeout.ms).", "30s"};
  delivery_timeout.min = 1;
  OptionSpec exactly_once{
      "exactly_once", OptionType::kBool,
      "Write each input batch's output in one Kafka transaction that also commits the kafka "
      "source's offsets: read_committed readers see every record once, even across crashes. "
      "Needs one kafka source and stateless processors, unless the pipeline has checkpoint: "
      "then each checkpoint's output is one transaction (producers <transactional_id>-0 and "
      "-1 take turns), committed once the checkpoint is saved, after any sources and stages.",
      "false"};
  OptionSpec transactional_id{
      "transactional_id", OptionType::kString,
      "With exactly_once: the producer's transactional.id; sluice-<pipeline>-<sink> when left "
      "out. A restarted process with the same id fences its predecessor. With checkpoint:, "
      "the consumer group <transactional_id>.checkpoints records the last committed "
      "checkpoint."};
  for (auto& option : {topic, topic_field, key}) spec.options.push_back(option);
  for (auto& option : PayloadSinkOptionSpecs()) spec.options.push_back(std::move(option));
  for (auto& option : {compression, partitioner, idempotent, linger, batch_messages,
                       delivery_timeout, exactly_once, transactional_id}) {
    spec.options.push_back(option);
  }
  spec.example =
      "sinks:\n"
      "  enriched:\n"
      "    connector: kafka\n"
      "    brokers: [127.0.0.1:9092]\n"
      "    topic: orders-enriched\n"
      "    key: [customer_id]\n"
      "    compression: zstd\n";
  return spec;
}

}  // namespace

void RegisterKafkaSink(exec::Registry* registry) {
  registry->AddSink(KafkaSinkSpec(), MakeKafkaSink);
}

}  // namespace sluice::connectors

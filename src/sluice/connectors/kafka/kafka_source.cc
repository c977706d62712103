#include "sluice/connectors/kafka/kafka_source.h"

#include <arrow/buffer.h>
#include <arrow/builder.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/record_batch.h>
#include <arrow/util/base64.h>
#include <arrow/util/utf8.h>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/kafka/avro_codec.h"
#include "sluice/connectors/kafka/kafka_client.h"
#include "sluice/connectors/kafka/start_position.h"
#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/jsonl_decoder.h"
#include "sluice/formats/record_reader.h"
#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors {
namespace {

using kafka::ClientEvents;

/// The metadata fields added with `metadata: true`, in this order.
constexpr const char* kMetadataFields[] = {"_key", "_topic", "_partition", "_offset", "_timestamp"};

using PartitionKey = std::pair<std::string, int32_t>;
/// The next offset to read (the offset to commit) of each partition.
using OffsetMap = kafka::PartitionOffsets;

enum class ValueFormat { kJson, kRaw, kCsv, kArrow, kAvro };

/// The name of `format` in pipeline files.
const char* ValueFormatName(ValueFormat format) {
  switch (format) {
    case ValueFormat::kJson:
      return "json";
    case ValueFormat::kRaw:
      return "raw";
    case ValueFormat::kCsv:
      return "csv";
    case ValueFormat::kArrow:
      return "arrow";
    case ValueFormat::kAvro:
      return "avro";
  }
  return "json";
}

/// What the factory validated; the consumer itself is created by Run(), so that building a
/// pipeline (and `sluice validate`) never contacts a broker.
struct SourceSettings {
  std::string name;
  std::string brokers;
  std::vector<std::string> topics;
  ValueFormat format = ValueFormat::kJson;
  std::shared_ptr<arrow::Schema> value_schema;
  /// The epoch units the schema declares (timestamp_ms, ...).
  formats::TimeReadings value_times;
  /// avro: decodes the messages with the schema of the `avro_schema` file.
  std::shared_ptr<kafka::AvroCodec> avro;
  bool metadata = false;
  bool until_end = false;
  kafka::StartPosition start;
  /// The consumer group (group.id), for messages.
  std::string group;
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(30)};
  exec::BatchingOptions batching;
};

/// Reads messages on the source thread with a librdkafka KafkaConsumer and cuts them into
/// micro-batches of at most `batch_size` rows, sent at the latest `linger` after their first row.
///
/// Offsets: automatic commits are off. Each pushed batch remembers the next offset of every
/// partition it (or a message rejected before it) advanced; OnBatchesDone(), called on the
/// pipeline thread once the pipeline wrote the batch, commits those offsets (asynchronously,
/// and synchronously at the end of a run). With an exactly-once Kafka sink the sink takes them
/// instead (TakePosition(), also on the pipeline thread) and commits them in its transaction;
/// the source then commits nothing itself. librdkafka handles are thread-safe; the offsets
/// awaiting acknowledgement are guarded by `mutex_`.
///
/// Backpressure: while the pipeline's queue is full (SourceOutput::WaitForRoom), the source
/// pauses every assigned partition and keeps calling consume(), so that it stays in its group
/// and serves rebalances without fetching more; it resumes them once there is room. Memory
/// stays bounded by the queue and librdkafka's `queued.max.messages.kbytes`.
class KafkaSource final : public exec::Source,
                          public RdKafka::RebalanceCb,
                          public kafka::TransactionalInput {
 public:
  KafkaSource(SourceSettings settings, std::shared_ptr<arrow::Schema> schema,
              std::unique_ptr<RdKafka::Conf> conf, std::unique_ptr<ClientEvents> events,
              std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)),
        schema_(std::move(schema)),
        conf_(std::move(conf)),
        events_(std::move(events)),
        logger_(std::move(logger)) {}

  ~KafkaSource() override {
    if (consumer_ != nullptr) consumer_->close();
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return settings_.until_end; }

  Status Run(exec::SourceOutput& out) override {
    // The rebalance callback reports assignments to `out`, but only while Run() is running:
    // closing the consumer later revokes partitions when `out` may be gone.
    out_ = &out;
    Status status = Consume(out);
    out_ = nullptr;
    return status;
  }

  Status Consume(exec::SourceOutput& out) {
    std::string error;
    if (conf_->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error) !=
        RdKafka::Conf::CONF_OK) {
      return Status::Invalid("cannot register the Kafka rebalance callback: ", error);
    }
    consumer_.reset(RdKafka::KafkaConsumer::create(conf_.get(), error));
    if (consumer_ == nullptr) return Status::IOError("cannot create a Kafka consumer: ", error);
    if (settings_.format == ValueFormat::kJson) {
      SLUICE_ASSIGN_OR_RAISE(decoder_, formats::JsonLinesDecoder::Make(settings_.value_schema,
                                                                        settings_.value_times));
    }
    if (settings_.format == ValueFormat::kArrow) {
      conformer_ = std::make_unique<formats::BatchConformer>(settings_.value_schema,
                                                            settings_.value_times);
    }
    SLUICE_RETURN_NOT_OK(ResetBuilders());
    if (settings_.until_end) {
      SLUICE_ASSIGN_OR_RAISE(bool reached, ReadEndOffsets(out));
      if (!reached) return Status::OK();  // stopping
    }
    RdKafka::ErrorCode code = consumer_->subscribe(settings_.topics);
    if (code != RdKafka::ERR_NO_ERROR)
      return kafka::KafkaError(code, "cannot subscribe to the Kafka topics");

    while (!out.stopping()) {
      if (rows_ == 0) {
        // Nothing of theirs is waiting to be pushed (their last messages were rejected).
        for (const auto& partition : ends_after_this_) MarkDone(partition);
        ends_after_this_.clear();
      }
      if (settings_.until_end && assigned_once_ && AllAssignedDone()) break;
      int timeout_ms = 100;
      if (rows_ > 0) {
        auto waited = std::chrono::steady_clock::now() - batch_started_;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        settings_.batching.linger - waited)
                        .count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 100));
      }
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
      SLUICE_RETURN_NOT_OK(Handle(*message, out));
      bool full = rows_ >= settings_.batching.batch_size;
      bool lingered = rows_ > 0 && std::chrono::steady_clock::now() - batch_started_ >=
                                       settings_.batching.linger;
      if (full || lingered) {
        SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
        if (!pushed) return Status::OK();
      }
    }
    if (rows_ > 0 && !out.stopping()) {
      SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
      if (!pushed) return Status::OK();
    }
    if (settings_.until_end && !out.stopping()) WarnIfNothingRead();
    std::lock_guard<std::mutex> lock(mutex_);
    // Messages rejected after the last batch: committed once the whole run is done.
    for (const auto& [partition, offset] : pending_offsets_) trailing_offsets_[partition] = offset;
    pending_offsets_.clear();
    return Status::OK();
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    OffsetMap commit;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // An exactly-once sink commits the offsets in its transactions (TakePosition).
      if (!transactional_sink_.empty()) return;
      commit = TakeOffsets(batches, end_of_run);
    }
    if (commit.empty() || consumer_ == nullptr) return;
    std::vector<RdKafka::TopicPartition*> partitions;
    for (const auto& [partition, offset] : commit) {
      partitions.push_back(
          RdKafka::TopicPartition::create(partition.first, partition.second, offset));
    }
    RdKafka::ErrorCode code =
        end_of_run ? consumer_->commitSync(partitions) : consumer_->commitAsync(partitions);
    if (code != RdKafka::ERR_NO_ERROR)
      events_->Report(code, "committing offsets failed; they are committed later");
    RdKafka::TopicPartition::destroy(partitions);
  }

  Result<kafka::ConsumerPosition> TakePosition(const std::string& sink, int64_t batches,
                                               bool end_of_run) override {
    kafka::ConsumerPosition position;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (transactional_sink_.empty()) transactional_sink_ = sink;
      if (transactional_sink_ != sink) {
        return Status::Invalid(fmt::format(
            "sinks '{}' and '{}' both commit the offsets of source '{}' in a transaction; only one "
            "exactly-once sink can follow a Kafka source",
            transactional_sink_, sink, settings_.name));
      }
      position.offsets = TakeOffsets(batches, end_of_run);
    }
    if (position.offsets.empty()) return position;
    if (consumer_ == nullptr) return Status::Invalid("kafka source: offsets before the consumer");
    position.group.reset(consumer_->groupMetadata());
    if (position.group == nullptr) {
      return Status::IOError("cannot read the consumer group metadata of source '",
                             settings_.name, "'");
    }
    return position;
  }

  /// Takes one result of consume(): a message, an end of partition, a timeout or an error.
  Status Handle(const RdKafka::Message& message, exec::SourceOutput& out) {
    switch (message.err()) {
      case RdKafka::ERR_NO_ERROR:
        return Accept(message, out);
      case RdKafka::ERR__PARTITION_EOF:
        if (settings_.until_end &&
            message.offset() >= EndOffset(message.topic_name(), message.partition())) {
          MarkDoneAfterPush({message.topic_name(), message.partition()});
        }
        return Status::OK();
      case RdKafka::ERR__TIMED_OUT:
        return Status::OK();
      case RdKafka::ERR__FATAL:
        return kafka::KafkaError(message.err(),
                                 fmt::format("Kafka consumer failed: {}", message.errstr()));
      default:
        events_->Report(message.err(), message.errstr());
        return Status::OK();
    }
  }

  /// Called by librdkafka inside consume(), on the source thread.
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode code,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (code == RdKafka::ERR__ASSIGN_PARTITIONS) {
      // An explicit start places the first assignment; partitions that reach this consumer in
      // a later rebalance go on from where the group got to, never back to the start.
      if (!assigned_once_)
        kafka::PlaceAtStart(consumer, settings_.start, partitions, events_.get());
      RdKafka::ErrorCode assigned = consumer->assign(partitions);
      if (assigned != RdKafka::ERR_NO_ERROR)
        events_->Report(assigned, "cannot take the assigned partitions");
      assigned_.clear();
      std::vector<int32_t> ids;
      for (const auto* partition : partitions) {
        PartitionKey key{partition->topic(), partition->partition()};
        assigned_.insert(key);
        if (!done_.count(key)) ids.push_back(PartitionId(key));
      }
      // The pipeline keeps a watermark per partition: an assigned partition that has not
      // delivered yet holds it back, so its rows cannot turn late behind a faster partition.
      if (out_ != nullptr) out_->AssignPartitions(std::move(ids));
      assigned_once_ = true;
      logger_->info("assigned {} partition(s)", partitions.size());
    } else {
      consumer->unassign();
      assigned_.clear();
      if (out_ != nullptr) out_->AssignPartitions({});
    }
  }

 private:
  /// A bounded run that read nothing says why, so that re-running a job whose group has read
  /// everything before is never silently empty.
  void WarnIfNothingRead() {
    if (messages_read_ > 0) return;
    kafka::PartitionOffsets ends;
    for (const auto& [partition, end] : end_offsets_) {
      if (assigned_.empty() || assigned_.count(partition) > 0) ends[partition] = end;
    }
    std::string hint = settings_.start.kind == kafka::StartPosition::Kind::kGroup
                           ? "; the group had read up to the end before, start: earliest reads "
                             "the topic again"
                           : "";
    logger_->warn(
        "read nothing up to the end offsets (start: {}): consumer group '{}' has committed "
        "offsets {}{}",
        settings_.start.Describe(), settings_.group,
        kafka::DescribeCommittedOffsets(consumer_.get(), ends), hint);
  }

  /// Reads the end offset of every partition of the topics, retrying while the brokers cannot
  /// be reached, for at most `connect_timeout`. False when a stop was requested meanwhile.
  Result<bool> ReadEndOffsets(exec::SourceOutput& out) {
    auto deadline = std::chrono::steady_clock::now() + settings_.connect_timeout;
    auto backoff = std::chrono::milliseconds(250);
    std::unique_ptr<RdKafka::Metadata> metadata;
    while (true) {
      if (out.stopping()) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      RdKafka::Metadata* raw = nullptr;
      int timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 1, 2000));
      RdKafka::ErrorCode code = consumer_->metadata(true, nullptr, &raw, timeout_ms);
      metadata.reset(raw);
      if (code == RdKafka::ERR_NO_ERROR) break;
      // The consumer serves its error events only from consume(); the reason is among them.
      std::unique_ptr<RdKafka::Message>(consumer_->consume(0));
      left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::string reason =
          events_->last_error().empty() ? RdKafka::err2str(code) : events_->last_error();
      if (left.count() <= 0) {
        return Status::IOError(fmt::format(
            "cannot reach the Kafka brokers {} within {}s: {}", settings_.brokers,
            std::chrono::duration_cast<std::chrono::seconds>(settings_.connect_timeout).count(),
            reason));
      }
      logger_->warn("cannot read topic metadata from {} ({}); retrying in {}ms", settings_.brokers,
                    reason, std::min<int64_t>(backoff.count(), left.count()));
      std::this_thread::sleep_for(std::min(backoff, left));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(4000));
    }
    int64_t partitions = 0;
    for (const auto& wanted : settings_.topics) {
      bool found = false;
      for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
        if (!TopicMatches(wanted, topic->topic())) continue;
        found = true;
        for (const RdKafka::PartitionMetadata* partition : *topic->partitions()) {
          int64_t low = 0;
          int64_t high = 0;
          RdKafka::ErrorCode code = consumer_->query_watermark_offsets(
              topic->topic(), partition->id(), &low, &high, 10000);
          if (code != RdKafka::ERR_NO_ERROR) {
            return kafka::KafkaError(code, fmt::format("cannot read the end offset of {}/{}",
                                                       topic->topic(), partition->id()));
          }
          end_offsets_[{topic->topic(), partition->id()}] = high;
          ++partitions;
        }
      }
      if (!found && wanted.rfind('^', 0) != 0) {
        return Status::IOError(
            fmt::format("Kafka topic '{}' does not exist on {}", wanted, settings_.brokers));
      }
    }
    logger_->info("reading {} partition(s) up to their current end offsets", partitions);
    return true;
  }

  static bool TopicMatches(const std::string& wanted, const std::string& topic) {
    if (wanted.rfind('^', 0) != 0) return wanted == topic;
    try {
      return std::regex_search(topic, std::regex(wanted));
    } catch (const std::regex_error&) {
      return false;
    }
  }

  int64_t EndOffset(const std::string& topic, int32_t partition) const {
    auto it = end_offsets_.find({topic, partition});
    return it == end_offsets_.end() ? 0 : it->second;
  }

  bool AllAssignedDone() const {
    return std::all_of(assigned_.begin(), assigned_.end(),
                       [&](const PartitionKey& key) { return done_.count(key) > 0; });
  }

  Status ResetBuilders() {
    auto* pool = arrow::default_memory_pool();
    raw_values_ = std::make_unique<arrow::StringBuilder>(pool);
    keys_ = std::make_unique<arrow::StringBuilder>(pool);
    topics_ = std::make_unique<arrow::StringBuilder>(pool);
    partitions_ = std::make_unique<arrow::Int32Builder>(pool);
    offsets_ = std::make_unique<arrow::Int64Builder>(pool);
    timestamps_ = std::make_unique<arrow::TimestampBuilder>(formats::TimestampType(), pool);
    return Status::OK();
  }

  /// Decodes one message into the batch being built, or rejects it.
  Status Accept(const RdKafka::Message& message, exec::SourceOutput& out) {
    PartitionKey partition{message.topic_name(), message.partition()};
    int64_t offset = message.offset();
    if (settings_.until_end) {
      int64_t end = EndOffset(partition.first, partition.second);
      if (offset >= end) {  // written after the run started: beyond this run's end
        MarkDoneAfterPush(partition);
        return Status::OK();
      }
      if (offset + 1 >= end) ends_after_this_.insert(partition);
    }
    ++messages_read_;
    pending_offsets_[partition] = offset + 1;
    std::string_view value(static_cast<const char*>(message.payload()), message.len());
    const std::string* key = message.key();
    std::string origin = fmt::format("{}/{}@{}", partition.first, partition.second, offset);
    auto reject = [&](std::string reason) {
      // Arrow messages are binary; the dead-letter record is text.
      std::string record = settings_.format == ValueFormat::kArrow ||
                                   settings_.format == ValueFormat::kAvro
                               ? arrow::util::base64_encode(value)
                               : std::string(value);
      out.Reject(
          exec::DeadLetter{std::move(reason), "source", settings_.name, origin, std::move(record)});
    };
    if (message.payload() == nullptr) {
      reject("empty message (a tombstone)");
      return Status::OK();
    }
    if (settings_.metadata && key != nullptr &&
        !arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(key->data()),
                                   static_cast<int64_t>(key->size()))) {
      reject("the message key is not UTF-8 text");
      return Status::OK();
    }
    int64_t added = 1;
    switch (settings_.format) {
      case ValueFormat::kJson: {
        Status decoded = decoder_->Append(value);
        if (!decoded.ok()) {
          reject(decoded.message());
          return Status::OK();
        }
        break;
      }
      case ValueFormat::kRaw:
        if (!arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(value.data()),
                                       static_cast<int64_t>(value.size()))) {
          reject("the message is not UTF-8 text");
          return Status::OK();
        }
        SLUICE_RETURN_NOT_OK(raw_values_->Append(value));
        break;
      case ValueFormat::kCsv: {
        std::string reason;
        SLUICE_ASSIGN_OR_RAISE(auto row, DecodeCsv(value, &reason));
        if (row == nullptr) {
          reject(std::move(reason));
          return Status::OK();
        }
        decoded_.push_back(std::move(row));
        break;
      }
      case ValueFormat::kAvro: {
        std::string reason;
        SLUICE_ASSIGN_OR_RAISE(bool decoded, settings_.avro->Append(value, &reason));
        if (!decoded) {
          reject(std::move(reason));
          return Status::OK();
        }
        break;
      }
      case ValueFormat::kArrow: {
        std::string reason;
        std::vector<exec::DeadLetter> rejected;
        SLUICE_ASSIGN_OR_RAISE(auto rows, DecodeArrow(value, origin, &rejected, &reason));
        for (auto& letter : rejected) {
          letter.stage = "source";
          letter.source = settings_.name;
          out.Reject(std::move(letter));
        }
        if (rows == nullptr) {
          reject(std::move(reason));
          return Status::OK();
        }
        added = rows->num_rows();
        if (added == 0) return Status::OK();  // nothing left to deliver; the offset still moves
        decoded_.push_back(std::move(rows));
        break;
      }
    }
    for (int64_t row = 0; row < added; ++row) {
      if (settings_.metadata) {
        SLUICE_RETURN_NOT_OK(key == nullptr ? keys_->AppendNull() : keys_->Append(*key));
        SLUICE_RETURN_NOT_OK(topics_->Append(partition.first));
        SLUICE_RETURN_NOT_OK(partitions_->Append(partition.second));
        SLUICE_RETURN_NOT_OK(offsets_->Append(offset));
        RdKafka::MessageTimestamp timestamp = message.timestamp();
        if (timestamp.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
          SLUICE_RETURN_NOT_OK(timestamps_->AppendNull());
        } else {
          SLUICE_RETURN_NOT_OK(timestamps_->Append(timestamp.timestamp * 1000));
        }
      }
      SLUICE_RETURN_NOT_OK(row_partitions_.Append(PartitionId(partition)));
      SLUICE_RETURN_NOT_OK(row_offsets_.Append(offset));
    }
    if (rows_ == 0) batch_started_ = std::chrono::steady_clock::now();
    rows_ += added;
    return Status::OK();
  }

  /// Decodes a csv message: exactly one CSV record, no header, its fields in the order of the
  /// declared schema, read and converted by the CSV file reader so that both agree on every
  /// value. Returns nullptr with `reason` set when the message is rejected.
  Result<std::shared_ptr<arrow::RecordBatch>> DecodeCsv(std::string_view value,
                                                        std::string* reason) {
    // A copy: the decoded values must outlive the librdkafka message.
    auto input = std::make_shared<arrow::io::BufferReader>(
        arrow::Buffer::FromString(std::string(value)));
    formats::ReadOptions options;
    options.schema = settings_.value_schema;
    options.times = settings_.value_times;
    options.header = false;
    auto reader = formats::RecordReader::Open(std::move(input), "message", formats::Format::kCsv,
                                              options);
    if (!reader.ok()) {
      *reason = fmt::format("not a CSV record: {}", reader.status().message());
      return nullptr;
    }
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    std::vector<exec::DeadLetter> rejected;
    int64_t rows = 0;
    while (true) {
      auto batch = (*reader)->Next(&rejected);
      if (!batch.ok()) {
        *reason = fmt::format("not a CSV record: {}", batch.status().message());
        return nullptr;
      }
      if (*batch == nullptr) break;
      rows += (*batch)->num_rows();
      if ((*batch)->num_rows() > 0) batches.push_back(*std::move(batch));
    }
    int64_t records = rows + static_cast<int64_t>(rejected.size());
    if (records != 1) {
      *reason = records == 0 ? std::string("empty message: no CSV record")
                             : fmt::format("a csv message holds one record, not {}", records);
      return nullptr;
    }
    if (!rejected.empty()) {
      *reason = std::move(rejected.front().reason);
      return nullptr;
    }
    return batches.front();
  }

  /// Decodes an arrow message: an Arrow IPC stream whose batches are conformed to the declared
  /// schema. Rows whose values do not convert go to `rejected`; a message that is not an IPC
  /// stream, or lacks a declared field, is rejected as a whole (nullptr with `reason` set).
  Result<std::shared_ptr<arrow::RecordBatch>> DecodeArrow(std::string_view value,
                                                          const std::string& origin,
                                                          std::vector<exec::DeadLetter>* rejected,
                                                          std::string* reason) {
    // A copy: the IPC reader slices its input, and the rows must outlive the librdkafka message.
    auto input = std::make_shared<arrow::io::BufferReader>(
        arrow::Buffer::FromString(std::string(value)));
    auto reader = arrow::ipc::RecordBatchStreamReader::Open(std::move(input));
    if (!reader.ok()) {
      *reason = fmt::format("not an Arrow IPC stream: {}", reader.status().message());
      return nullptr;
    }
    std::shared_ptr<arrow::Schema> schema = (*reader)->schema();
    for (const auto& field : settings_.value_schema->fields()) {
      if (schema->GetFieldIndex(field->name()) < 0) {
        *reason = fmt::format("the Arrow message has no field '{}' (its schema: {})",
                              field->name(), schema->ToString());
        return nullptr;
      }
    }
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      arrow::Status read = (*reader)->ReadNext(&batch);
      if (read.ok() && batch != nullptr) read = batch->ValidateFull();
      if (!read.ok()) {
        *reason = fmt::format("not a valid Arrow IPC stream: {}", read.message());
        return nullptr;
      }
      if (batch == nullptr) break;
      auto origin_of = [&](int64_t) { return origin; };
      SLUICE_ASSIGN_OR_RAISE(auto conformed, conformer_->Conform(batch, origin_of, rejected));
      if (conformed->num_rows() > 0) batches.push_back(std::move(conformed));
    }
    if (batches.empty()) return arrow::RecordBatch::MakeEmpty(settings_.value_schema);
    if (batches.size() == 1) return batches.front();
    return arrow::ConcatenateRecordBatches(batches);
  }

  /// Removes and returns the offsets to commit for the first `batches` batches (and the trailing
  /// rejected records at the end of the run). Needs `mutex_`.
  OffsetMap TakeOffsets(int64_t batches, bool end_of_run) {
    OffsetMap commit;
    while (!unacknowledged_.empty() && unacknowledged_.front().first <= batches) {
      for (const auto& [partition, offset] : unacknowledged_.front().second)
        commit[partition] = offset;
      unacknowledged_.pop_front();
    }
    if (end_of_run) {
      for (const auto& [partition, offset] : trailing_offsets_) commit[partition] = offset;
      trailing_offsets_.clear();
    }
    return commit;
  }

  /// A small stable number for a topic's partition, for the pipeline's per-partition watermarks.
  int32_t PartitionId(const PartitionKey& partition) {
    auto [it, inserted] = partition_ids_.emplace(partition, static_cast<int32_t>(partition_ids_.size()));
    // Dead letters of later stages name the partition as a decode error does: topic/partition.
    if (inserted && out_ != nullptr)
      out_->NamePartition(it->second, fmt::format("{}/{}", partition.first, partition.second));
    return it->second;
  }

  /// A bounded read reached the end of `partition`: it no longer holds the watermark back.
  void MarkDone(const PartitionKey& partition) {
    if (!done_.insert(partition).second) return;
    if (out_ != nullptr) out_->EndPartition(PartitionId(partition));
  }

  /// Like MarkDone(), but when the partition's last rows still wait in the batch being built,
  /// only once that batch is pushed: ending the partition first would let the other partitions
  /// move the watermark past those rows, and they would arrive late.
  void MarkDoneAfterPush(const PartitionKey& partition) {
    if (ends_after_this_.count(partition) > 0) return;  // PushBatch() ends it
    MarkDone(partition);
  }

  /// Pauses or resumes fetching from every partition assigned now. Returns how many.
  size_t SetPaused(bool paused) {
    std::vector<RdKafka::TopicPartition*> partitions;
    RdKafka::ErrorCode code = consumer_->assignment(partitions);
    if (code == RdKafka::ERR_NO_ERROR && !partitions.empty()) {
      code = paused ? consumer_->pause(partitions) : consumer_->resume(partitions);
    }
    if (code != RdKafka::ERR_NO_ERROR) {
      events_->Report(code, paused ? "cannot pause the partitions" : "cannot resume the partitions");
    }
    size_t count = partitions.size();
    RdKafka::TopicPartition::destroy(partitions);
    return count;
  }

  /// Waits until the pipeline's queue has room for the next batch. While it is full, fetching
  /// is paused on every assigned partition, and consume() is still called so that the consumer
  /// stays in its group (max.poll.interval.ms) and serves rebalances; a message it returns
  /// (fetched before the pause) joins the batch being built. False when the pipeline is
  /// stopping.
  Result<bool> AwaitRoom(exec::SourceOutput& out) {
    if (out.WaitForRoom(std::chrono::milliseconds(0))) return true;
    size_t paused = SetPaused(true);
    ++pauses_;
    logger_->debug("the pipeline's queue is full: paused {} partition(s)", paused);
    while (!out.WaitForRoom(std::chrono::milliseconds(100))) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(0));
      SLUICE_RETURN_NOT_OK(Handle(*message, out));
      // A rebalance inside consume() assigns partitions unpaused.
      SetPaused(true);
    }
    size_t resumed = SetPaused(false);
    logger_->debug("the pipeline's queue has room: resumed {} partition(s) (pause {})", resumed,
                   pauses_);
    return !out.stopping();
  }

  /// Sends the batch being built; false when the pipeline is stopping.
  Result<bool> PushBatch(exec::SourceOutput& out) {
    SLUICE_ASSIGN_OR_RAISE(bool room, AwaitRoom(out));
    if (!room) return false;
    std::vector<std::shared_ptr<arrow::Array>> columns;
    if (settings_.format == ValueFormat::kJson) {
      SLUICE_ASSIGN_OR_RAISE(auto values, decoder_->Finish());
      columns = values->columns();
    } else if (settings_.format == ValueFormat::kRaw) {
      SLUICE_ASSIGN_OR_RAISE(auto values, raw_values_->Finish());
      columns.push_back(std::move(values));
    } else if (settings_.format == ValueFormat::kAvro) {
      SLUICE_ASSIGN_OR_RAISE(auto values, settings_.avro->Finish());
      columns = values->columns();
    } else {
      SLUICE_ASSIGN_OR_RAISE(auto values, arrow::ConcatenateRecordBatches(decoded_));
      decoded_.clear();
      columns = values->columns();
    }
    if (settings_.metadata) {
      for (arrow::ArrayBuilder* builder : std::initializer_list<arrow::ArrayBuilder*>{
               keys_.get(), topics_.get(), partitions_.get(), offsets_.get(), timestamps_.get()}) {
        SLUICE_ASSIGN_OR_RAISE(auto column, builder->Finish());
        columns.push_back(std::move(column));
      }
    }
    int64_t rows = rows_;
    rows_ = 0;
    std::shared_ptr<arrow::Int32Array> partitions;
    SLUICE_RETURN_NOT_OK(row_partitions_.Finish(&partitions));
    std::shared_ptr<arrow::Int64Array> offsets;
    SLUICE_RETURN_NOT_OK(row_offsets_.Finish(&offsets));
    Status pushed =
        out.PushPartitionedAt(arrow::RecordBatch::Make(schema_, rows, std::move(columns)),
                              std::move(partitions), std::move(offsets));
    if (pushed.IsCancelled()) return false;
    SLUICE_RETURN_NOT_OK(pushed);
    // Partitions whose last message was in this batch end after it (not before: their rows
    // must reach the pipeline while the partition still holds the watermark).
    for (const auto& partition : ends_after_this_) MarkDone(partition);
    ends_after_this_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    unacknowledged_.emplace_back(++batches_pushed_, std::move(pending_offsets_));
    pending_offsets_.clear();
    return true;
  }

  const SourceSettings settings_;
  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<RdKafka::Conf> conf_;
  // Declared before the consumer, which calls into it until it is destroyed.
  std::unique_ptr<ClientEvents> events_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;

  // Source thread only.
  std::unique_ptr<formats::JsonLinesDecoder> decoder_;
  /// arrow: brings each message's batches to the declared schema.
  std::unique_ptr<formats::BatchConformer> conformer_;
  /// csv and arrow: the decoded rows of the batch being built.
  std::vector<std::shared_ptr<arrow::RecordBatch>> decoded_;
  std::unique_ptr<arrow::StringBuilder> raw_values_;
  std::unique_ptr<arrow::StringBuilder> keys_;
  std::unique_ptr<arrow::StringBuilder> topics_;
  std::unique_ptr<arrow::Int32Builder> partitions_;
  std::unique_ptr<arrow::Int64Builder> offsets_;
  std::unique_ptr<arrow::TimestampBuilder> timestamps_;
  int64_t rows_ = 0;
  /// Messages taken in this run, decoded or rejected.
  int64_t messages_read_ = 0;
  std::chrono::steady_clock::time_point batch_started_;
  std::map<PartitionKey, int64_t> end_offsets_;
  std::set<PartitionKey> assigned_;
  std::set<PartitionKey> done_;
  /// Partitions whose last message is in the batch being built.
  std::set<PartitionKey> ends_after_this_;
  std::map<PartitionKey, int32_t> partition_ids_;
  /// The partition id of each row of the batch being built.
  arrow::Int32Builder row_partitions_;
  /// Each row's offset in its partition, for dead-letter origins.
  arrow::Int64Builder row_offsets_;
  /// Where Run() delivers; set for the rebalance callback, which runs inside consume().
  exec::SourceOutput* out_ = nullptr;
  bool assigned_once_ = false;
  int64_t batches_pushed_ = 0;
  /// How often the partitions were paused because the pipeline's queue was full.
  int64_t pauses_ = 0;
  OffsetMap pending_offsets_;

  // Shared with the pipeline thread (OnBatchesDone).
  std::mutex mutex_;
  std::deque<std::pair<int64_t, OffsetMap>> unacknowledged_;
  OffsetMap trailing_offsets_;
  /// The exactly-once sink that commits the offsets, once one asked for them.
  std::string transactional_sink_;
};

Result<std::shared_ptr<arrow::Schema>> ValueSchema(const config::Options& options,
                                                   ValueFormat format, SourceSettings* settings) {
  if (format != ValueFormat::kAvro && options.Has("avro_schema")) {
    return config::ConfigError(options.LocationOf("avro_schema"),
                               "avro_schema is used only with format: avro");
  }
  if (format == ValueFormat::kAvro) {
    if (options.Has("schema")) {
      return config::ConfigError(options.LocationOf("schema"),
                                 "format avro takes its schema from the avro_schema file",
                                 "leave out 'schema'; convert fields with a processor");
    }
    if (!options.Has("avro_schema")) {
      return config::ConfigError(
          options.Has("format") ? options.LocationOf("format") : options.where(),
          "format avro needs avro_schema, the path of a .avsc file",
          "e.g. avro_schema: schemas/orders.avsc");
    }
    SLUICE_ASSIGN_OR_RAISE(settings->avro,
                           kafka::AvroCodec::Make(options.GetString("avro_schema"),
                                                  options.LocationOf("avro_schema")));
    return settings->avro->schema();
  }
  if (format == ValueFormat::kRaw) {
    if (options.Has("schema")) {
      return config::ConfigError(options.LocationOf("schema"),
                                 "format raw has a fixed schema {value: string}",
                                 "leave out 'schema', or use format: json");
    }
    return arrow::schema({arrow::field("value", arrow::utf8())});
  }
  if (!options.Has("schema")) {
    return config::ConfigError(
        options.Has("format") ? options.LocationOf("format") : options.where(),
        fmt::format("format {} needs a schema", ValueFormatName(format)),
        "declare the fields, e.g. schema: {id: int64, name: string, ts: timestamp}");
  }
  return DeclaredSchema(options, &settings->value_times);
}

Result<std::unique_ptr<exec::Source>> MakeKafkaSource(const exec::ConnectorContext& context,
                                                      const config::Options& options) {
  SourceSettings settings;
  settings.name = context.name;
  settings.brokers = kafka::BrokerList(options);
  settings.topics = options.GetStringList("topics");
  if (settings.topics.empty())
    return config::ConfigError(options.LocationOf("topics"), "no topic given");
  for (const auto& topic : settings.topics) {
    if (topic.rfind('^', 0) != 0) continue;
    try {
      std::regex check(topic);
    } catch (const std::regex_error& error) {
      return config::ConfigError(options.LocationOf("topics"),
                                 fmt::format("bad topic pattern '{}': {}", topic, error.what()));
    }
  }
  std::string format_name = options.GetString("format");
  for (ValueFormat format : {ValueFormat::kJson, ValueFormat::kRaw, ValueFormat::kCsv,
                             ValueFormat::kArrow, ValueFormat::kAvro}) {
    if (format_name == ValueFormatName(format)) settings.format = format;
  }
  SLUICE_ASSIGN_OR_RAISE(settings.value_schema, ValueSchema(options, settings.format, &settings));
  settings.metadata = options.GetBool("metadata");
  settings.until_end = options.GetString("until") == "end";
  SLUICE_ASSIGN_OR_RAISE(settings.start, kafka::ParseStartPosition(options));
  settings.connect_timeout = options.GetDuration("connect_timeout");
  settings.batching = exec::BatchingOptions::FromOptions(options);

  arrow::FieldVector fields = settings.value_schema->fields();
  if (settings.metadata) {
    std::vector<std::shared_ptr<arrow::DataType>> types = {
        arrow::utf8(), arrow::utf8(), arrow::int32(), arrow::int64(), formats::TimestampType()};
    for (size_t i = 0; i < types.size(); ++i) {
      if (settings.value_schema->GetFieldByName(kMetadataFields[i]) != nullptr) {
        return config::ConfigError(
            options.LocationOf("schema"),
            fmt::format("field '{}' clashes with the metadata field of that name",
                        kMetadataFields[i]),
            "rename it, or set metadata: false");
      }
      fields.push_back(arrow::field(kMetadataFields[i], types[i]));
    }
  }
  auto schema = arrow::schema(std::move(fields));

  auto logger = ComponentLogger(fmt::format("source {}", context.name));
  auto events = std::make_unique<ClientEvents>(logger);
  std::string group = options.Has("group") ? options.GetString("group")
                                           : fmt::format("sluice-{}", context.pipeline_name);
  settings.group = group;
  std::map<std::string, std::string> defaults = {
      {"group.id", group},
      {"client.id", fmt::format("sluice-{}-{}", context.pipeline_name, context.name)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", settings.until_end ? "true" : "false"},
      {"auto.offset.reset", settings.start.AutoOffsetReset()},
      {"isolation.level", options.GetString("isolation")},
      {"queued.max.messages.kbytes", "16384"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "5000"},
  };
  SLUICE_ASSIGN_OR_RAISE(auto conf, kafka::MakeClientConf(options, events.get(), defaults));
  return std::make_unique<KafkaSource>(std::move(settings), std::move(schema), std::move(conf),
                                       std::move(events), std::move(logger));
}

config::PluginSpec KafkaSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "kafka";
  spec.doc =
      "Reads Kafka topics as a member of a consumer group, one record per message. Offsets are "
      "committed only "
      "after every sink has written the batches that carried them (at-least-once), or inside an "
      "exactly-once Kafka sink's transactions. Messages that "
      "cannot be decoded "
      "become dead letters with origin topic/partition@offset. With until: end it is bounded: it "
      "stops at the end "
      "offsets seen at start, a batch job over a topic.";
  spec.options = kafka::ClientOptions();
  OptionSpec topics{
      "topics", OptionType::kStringList,
      "Topics to read; a name starting with ^ is a regular expression matched against all topics."};
  topics.required = true;
  OptionSpec group{"group", OptionType::kString,
                   "The consumer group (group.id); sluice-<pipeline name> when left out."};
  OptionSpec until{
      "until", OptionType::kEnum,
      "none: read until stopped; end: stop at the end offsets seen at start (bounded).", "none"};
  until.choices = {"none", "end"};
  OptionSpec format{
      "format", OptionType::kEnum,
      "json: each message is one JSON object decoded with `schema`; csv: each message is one CSV "
      "record without header, its fields in `schema` order; arrow: each message is an Arrow IPC "
      "stream (any number of rows, e.g. one micro-batch of a kafka sink with format: arrow) "
      "conformed to `schema` by field name; avro: each message is one Avro binary-encoded record "
      "(no container header) of the schema in `avro_schema`; raw: each message is one text field `value`.",
      "json"};
  format.choices = {"json", "csv", "arrow", "avro", "raw"};
  OptionSpec avro_schema{
      "avro_schema", OptionType::kString,
      "format avro: path of the .avsc file with the record schema (the schema comes from the "
      "local file, not from a registry); it also gives the fields and types, so `schema` is not "
      "used."};
  OptionSpec schema{
      "schema", OptionType::kStringMap,
      "field → type (bool, int64, double, string, timestamp, ...; timestamp_ms and the other "
      "timestamp_<unit> types read epoch numbers in that unit); required for json, csv and "
      "arrow, where it also gives the csv field order; not used with avro."};
  OptionSpec metadata{
      "metadata", OptionType::kBool,
      "Add the fields _key (string), _topic (string), _partition (int32), _offset (int64) and "
      "_timestamp (the Kafka timestamp; use event_time: _timestamp for Kafka time).",
      "false"};
  OptionSpec connect_timeout{
      "connect_timeout", OptionType::kDuration,
      "until: end: how long to keep retrying unreachable brokers before the run fails. "
      "Unbounded runs retry for ever, logging each failure with backoff.",
      "30s"};
  connect_timeout.min = 1;
  OptionSpec isolation{
      "isolation", OptionType::kEnum,
      "read_committed: skip messages of aborted transactions and wait for open ones (what "
      "reading an exactly-once sink's topic needs); read_uncommitted: read every message.",
      "read_committed"};
  isolation.choices = {"read_committed", "read_uncommitted"};
  for (auto& option :
       {topics, group, until, format, avro_schema, schema, metadata, connect_timeout,
        isolation}) {
    spec.options.push_back(option);
    if (option.name == "group") {
      for (auto& start : kafka::StartOptions()) spec.options.push_back(std::move(start));
    }
  }
  spec.example =
      "sources:\n"
      "  orders:\n"
      "    connector: kafka\n"
      "    brokers: [127.0.0.1:9092]\n"
      "    topics: [orders]\n"
      "    group: order-stats\n"
      "    schema: {id: int64, amount: double, ts: timestamp}\n"
      "    event_time: ts\n";
  return spec;
}

}  // namespace

void RegisterKafkaSource(exec::Registry* registry) {
  registry->AddSource(KafkaSourceSpec(), MakeKafkaSource);
}

}  // namespace sluice::connectors

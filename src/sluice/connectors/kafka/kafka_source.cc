#include "sluice/connectors/kafka/kafka_source.h"

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/exec/until.h"
#include "sluice/config/location.h"
#include "sluice/connectors/common/payload_options.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/kafka/kafka_client.h"
#include "sluice/connectors/kafka/message_decoder.h"
#include "sluice/connectors/kafka/offset_tracker.h"
#include "sluice/connectors/kafka/start_position.h"

namespace sluice::connectors {
namespace {

using kafka::ClientEvents;

using PartitionKey = std::pair<std::string, int32_t>;
/// The next offset to read (the offset to commit) of each partition.
using OffsetMap = kafka::PartitionOffsets;


/// What the factory validated; the consumer itself is created by Run(), so that building a
/// pipeline (and `sluice validate`) never contacts a broker.
struct SourceSettings {
  std::string name;
  std::string brokers;
  std::vector<std::string> topics;
  /// How messages become rows: format, value schema, metadata fields.
  kafka::DecoderOptions decoding;
  /// until: end (or {offsets: end}).
  bool until_end = false;
  /// until: {count, idle, duration}.
  exec::UntilOptions until;
  kafka::StartPosition start;
  /// The consumer group (group.id), for messages.
  std::string group;
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(30)};
  exec::BatchingOptions batching;
  /// The pipeline takes checkpoints: a restart resumes from a checkpointed position, which must
  /// also place partitions that had delivered nothing yet where this run placed them.
  bool checkpoints = false;
};

/// Reads messages on the source thread with a librdkafka KafkaConsumer and cuts them into
/// micro-batches of at most `batch_size` rows, sent at the latest `linger` after their first row.
///
/// Offsets: automatic commits are off. Each pushed batch remembers the next offset of every
/// partition it (or a message rejected before it) advanced (kafka::OffsetTracker);
/// OnBatchesDone(), called on the pipeline thread once the pipeline wrote the batch, commits
/// those offsets (asynchronously, and synchronously at the end of a run). With an exactly-once
/// Kafka sink the sink takes them instead (TakePosition(), also on the pipeline thread) and
/// commits them in its transaction; the source then commits nothing itself. librdkafka handles
/// are thread-safe, and so is the tracker.
///
/// Checkpoints: PositionAfter() gives the next offset of every partition after the first N
/// batches, and a source restored from it (RestorePosition()) places each of those partitions
/// there when it is first assigned, whatever the group committed; partitions the checkpoint does
/// not know start as configured. The pipeline then calls OnBatchesDone() only for batches a
/// completed checkpoint covers, so the group's offsets (informational: positions come from the
/// checkpoint) never run ahead of the last checkpoint.
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
  bool bounded() const override { return settings_.until_end || settings_.until.any(); }

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
    SLUICE_ASSIGN_OR_RAISE(decoder_, kafka::MessageDecoder::Make(settings_.decoding));
    if (settings_.until_end) {
      SLUICE_ASSIGN_OR_RAISE(bool reached, ReadEndOffsets(out));
      if (!reached) return Status::OK();  // stopping
    }
    RdKafka::ErrorCode code = consumer_->subscribe(settings_.topics);
    if (code != RdKafka::ERR_NO_ERROR)
      return kafka::KafkaError(code, "cannot subscribe to the Kafka topics");

    until_.emplace(settings_.until);
    while (!out.stopping()) {
      if (rows_ == 0) {
        // Nothing of theirs is waiting to be pushed (their last messages were rejected).
        for (const auto& partition : ends_after_this_) MarkDone(partition);
        ends_after_this_.clear();
      }
      if (settings_.until_end && assigned_once_ && AllAssignedDone()) break;
      if (until_->Reached()) {
        logger_->info("ends {}", until_->reason());
        break;
      }
      auto wait = settings_.batching.Wait(rows_, batch_started_,
                                          until_->Wait(std::chrono::milliseconds(100)));
      int timeout_ms = static_cast<int>(wait.count());
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
      SLUICE_RETURN_NOT_OK(Handle(*message, out));
      if (settings_.batching.Due(rows_, batch_started_)) {
        SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
        if (!pushed) return Status::OK();
      }
    }
    if (rows_ > 0 && !out.stopping()) {
      SLUICE_ASSIGN_OR_RAISE(bool pushed, PushBatch(out));
      if (!pushed) return Status::OK();
    }
    if (settings_.until_end && !out.stopping()) WarnIfNothingRead();
    // Messages rejected after the last batch: committed once the whole run is done.
    offset_tracker_.RunEnded();
    return Status::OK();
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // An exactly-once sink commits the offsets in its transactions (TakePosition).
      if (!transactional_sink_.empty()) return;
    }
    OffsetMap commit = offset_tracker_.Take(batches, end_of_run);
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
    }
    position.offsets = offset_tracker_.Take(batches, end_of_run);
    if (position.offsets.empty()) return position;
    if (consumer_ == nullptr) return Status::Invalid("kafka source: offsets before the consumer");
    position.group.reset(consumer_->groupMetadata());
    if (position.group == nullptr) {
      return Status::IOError("cannot read the consumer group metadata of source '",
                             settings_.name, "'");
    }
    return position;
  }

  bool checkpointable() const override { return true; }

  Result<std::string> PositionAfter(int64_t batches) override {
    SLUICE_ASSIGN_OR_RAISE(OffsetMap position, offset_tracker_.PositionAfter(batches));
    return kafka::PositionToJson(position);
  }

  Status RestorePosition(const std::string& position) override {
    if (consumer_ != nullptr) return Status::Invalid("kafka source: RestorePosition() after Run()");
    SLUICE_ASSIGN_OR_RAISE(OffsetMap offsets, kafka::PositionFromJson(position));
    logger_->info("resuming {} partition(s) from the checkpoint", offsets.size());
    restored_ = offsets;
    offset_tracker_.Restore(std::move(offsets));
    return Status::OK();
  }

  /// Takes one result of consume(): a message, an end of partition, a timeout or an error.
  Status Handle(const RdKafka::Message& message, exec::SourceOutput& out) {
    switch (message.err()) {
      case RdKafka::ERR_NO_ERROR:
        until_->Took(1);
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
      PlaceRestored(partitions);
      if (!assigned_once_ && settings_.checkpoints) {
        // A restart must find every partition where this run started it, even one that
        // delivers nothing before the next checkpoint: "latest" will have moved on by then.
        for (const auto& [partition, offset] :
             kafka::ResolveStart(consumer, settings_.start, partitions, events_.get())) {
          offset_tracker_.Know(partition, offset);
        }
      }
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
  /// Places each partition of the restored checkpoint at its checkpointed offset the first time
  /// it is assigned, instead of the group's committed offset or the configured start. With
  /// until: end, one already at its end offset ends at once.
  void PlaceRestored(std::vector<RdKafka::TopicPartition*>& partitions) {
    if (restored_.empty()) return;
    for (auto* partition : partitions) {
      PartitionKey key{partition->topic(), partition->partition()};
      auto it = restored_.find(key);
      if (it == restored_.end()) continue;
      partition->set_offset(it->second);
      if (settings_.until_end && it->second >= EndOffset(key.first, key.second)) MarkDone(key);
      restored_.erase(it);
    }
  }

  /// A bounded run that read nothing says why, so that re-running a job whose group has read
  /// everything before is never silently empty.
  void WarnIfNothingRead() {
    // A run restored at the end of its input has nothing left, as it should.
    if (messages_read_ > 0 || !offset_tracker_.restored().empty()) return;
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
    offset_tracker_.Advance(partition, offset + 1);
    std::string origin = fmt::format("{}/{}@{}", partition.first, partition.second, offset);
    std::vector<exec::DeadLetter> rejected;
    std::string reason;
    SLUICE_ASSIGN_OR_RAISE(int64_t added, decoder_->Append(message, origin, &rejected, &reason));
    for (auto& letter : rejected) {
      letter.stage = "source";
      letter.source = settings_.name;
      out.Reject(std::move(letter));
    }
    if (!reason.empty()) {
      std::string_view value(static_cast<const char*>(message.payload()), message.len());
      out.Reject(exec::DeadLetter{std::move(reason), "source", settings_.name, origin,
                                  decoder_->DeadLetterRecord(value)});
      return Status::OK();
    }
    // An arrow message whose rows were all rejected: nothing to deliver; the offset still moves.
    if (added == 0) return Status::OK();
    for (int64_t row = 0; row < added; ++row) {
      SLUICE_RETURN_NOT_OK(row_partitions_.Append(PartitionId(partition)));
      SLUICE_RETURN_NOT_OK(row_offsets_.Append(offset));
    }
    if (rows_ == 0) batch_started_ = std::chrono::steady_clock::now();
    rows_ += added;
    return Status::OK();
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
    SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector columns, decoder_->Finish());
    int64_t rows = rows_;
    rows_ = 0;
    std::shared_ptr<arrow::Int32Array> partitions;
    SLUICE_RETURN_NOT_OK(row_partitions_.Finish(&partitions));
    std::shared_ptr<arrow::Int64Array> offsets;
    SLUICE_RETURN_NOT_OK(row_offsets_.Finish(&offsets));
    offset_tracker_.AddBatch();
    Status pushed =
        out.PushPartitionedAt(arrow::RecordBatch::Make(schema_, rows, std::move(columns)),
                              std::move(partitions), std::move(offsets));
    if (!pushed.ok()) offset_tracker_.DropLastBatch();
    if (pushed.IsCancelled()) return false;
    SLUICE_RETURN_NOT_OK(pushed);
    // Partitions whose last message was in this batch end after it (not before: their rows
    // must reach the pipeline while the partition still holds the watermark).
    for (const auto& partition : ends_after_this_) MarkDone(partition);
    ends_after_this_.clear();
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
  std::unique_ptr<kafka::MessageDecoder> decoder_;
  /// until: {count, idle, duration}, started when consuming starts.
  std::optional<exec::UntilClock> until_;
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
  /// How often the partitions were paused because the pipeline's queue was full.
  int64_t pauses_ = 0;
  /// The restored checkpoint's partitions not assigned yet in this run, with their offsets.
  OffsetMap restored_;

  // Shared with the pipeline thread (OnBatchesDone, PositionAfter).
  kafka::OffsetTracker offset_tracker_;
  std::mutex mutex_;
  /// The exactly-once sink that commits the offsets, once one asked for them.
  std::string transactional_sink_;
};

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
  SLUICE_ASSIGN_OR_RAISE(settings.decoding.value, PayloadDecodingFromConfig(options));
  settings.decoding.metadata = options.GetBool("metadata");
  settings.until = exec::UntilOptions::FromOptions(options);
  settings.until_end =
      options.Has("until") && options.GetSection("until").GetString("offsets") == "end";
  SLUICE_ASSIGN_OR_RAISE(settings.start, kafka::ParseStartPosition(options));
  settings.connect_timeout = options.GetDuration("connect_timeout");
  settings.batching = exec::BatchingOptions::FromOptions(options);
  settings.checkpoints = context.checkpoints;

  arrow::FieldVector fields = settings.decoding.value.schema->fields();
  if (settings.decoding.metadata) {
    for (const auto& field : kafka::MetadataFields()) {
      if (settings.decoding.value.schema->GetFieldByName(field->name()) != nullptr) {
        return config::ConfigError(
            options.LocationOf("schema"),
            fmt::format("field '{}' clashes with the metadata field of that name",
                        field->name()),
            "rename it, or set metadata: false");
      }
      fields.push_back(field);
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
      "offsets seen at start, a batch job over a topic. In a pipeline with checkpoint:, a "
      "restart resumes at the offsets the last checkpoint saved, whatever the group committed "
      "(offsets are committed to the group after each checkpoint, for monitoring).";
  spec.options = kafka::ClientOptions();
  OptionSpec topics{
      "topics", OptionType::kStringList,
      "Topics to read; a name starting with ^ is a regular expression matched against all topics."};
  topics.required = true;
  OptionSpec group{"group", OptionType::kString,
                   "The consumer group (group.id); sluice-<pipeline name> when left out."};
  OptionSpec offsets{"offsets", OptionType::kEnum,
                     "end: stop at the end offsets seen at start (bounded); `until: end` is short "
                     "for `until: {offsets: end}`."};
  offsets.choices = {"end", "none"};
  OptionSpec until = exec::UntilOptionSpec({offsets}, "offsets");
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
       {topics, group, until, metadata, connect_timeout, isolation}) {
    spec.options.push_back(option);
    if (option.name == "group") {
      for (auto& start : kafka::StartOptions()) spec.options.push_back(std::move(start));
    }
    if (option.name == "until") {
      for (auto& payload : PayloadSourceOptionSpecs()) spec.options.push_back(std::move(payload));
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

#include "sluice/connectors/kafka/transactional_producer.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <thread>
#include <vector>

namespace sluice::connectors::kafka {

TransactionalProducer::CallResult TransactionalProducer::Outcome(RdKafka::Error* error) {
  if (error == nullptr) return std::nullopt;
  std::unique_ptr<RdKafka::Error> owned(error);
  return CallError{owned->code(), owned->str(), owned->is_retriable(), owned->txn_requires_abort()};
}

Result<std::unique_ptr<TransactionalProducer>> TransactionalProducer::Make(
    RdKafka::Conf* conf, const std::string& transactional_id, std::chrono::milliseconds timeout) {
  std::string error;
  if (conf->set("transactional.id", transactional_id, error) != RdKafka::Conf::CONF_OK)
    return Status::Invalid("cannot set the Kafka transactional id: ", error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf, error));
  if (producer == nullptr) return Status::IOError("cannot create a Kafka producer: ", error);
  return std::unique_ptr<TransactionalProducer>(
      new TransactionalProducer(std::move(producer), transactional_id, timeout));
}

TransactionalProducer::~TransactionalProducer() = default;

Status TransactionalProducer::Initialize() {
  return Run("initialise the producer's transactions", [&]() -> CallResult {
    return Outcome(producer_->init_transactions(timeout_ms()));
  });
}

Status TransactionalProducer::Begin() {
  if (in_transaction_) return Status::OK();
  SLUICE_RETURN_NOT_OK(Run("begin a transaction", [&]() -> CallResult {
    return Outcome(producer_->begin_transaction());
  }));
  in_transaction_ = true;
  return Status::OK();
}

Status TransactionalProducer::SendOffsets(const PartitionOffsets& offsets,
                                          const RdKafka::ConsumerGroupMetadata* group) {
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto& [partition, offset] : offsets) {
    partitions.push_back(
        RdKafka::TopicPartition::create(partition.first, partition.second, offset));
  }
  Status sent = Run("send the input offsets to the transaction", [&]() -> CallResult {
    return Outcome(
        producer_->send_offsets_to_transaction(partitions, group, timeout_ms()));
  });
  RdKafka::TopicPartition::destroy(partitions);
  return sent;
}

Status TransactionalProducer::SendOffsets(const PartitionOffsets& offsets,
                                          const std::string& group) {
  // The C++ API has no way to name a group without a consumer in it; the C API has.
  rd_kafka_topic_partition_list_t* partitions =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, offset] : offsets) {
    rd_kafka_topic_partition_list_add(partitions, partition.first.c_str(), partition.second)
        ->offset = offset;
  }
  rd_kafka_consumer_group_metadata_t* metadata =
      rd_kafka_consumer_group_metadata_new(group.c_str());
  std::string what = fmt::format("send offsets of group '{}' to the transaction", group);
  Status sent = Run(what, [&]() -> CallResult {
    rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(producer_->c_ptr(), partitions,
                                                                   metadata, timeout_ms());
    if (error == nullptr) return std::nullopt;
    CallError failed{static_cast<RdKafka::ErrorCode>(rd_kafka_error_code(error)),
                     rd_kafka_error_string(error), rd_kafka_error_is_retriable(error) != 0,
                     rd_kafka_error_txn_requires_abort(error) != 0};
    rd_kafka_error_destroy(error);
    return failed;
  });
  rd_kafka_consumer_group_metadata_destroy(metadata);
  rd_kafka_topic_partition_list_destroy(partitions);
  return sent;
}

Status TransactionalProducer::Commit() {
  SLUICE_RETURN_NOT_OK(Run("commit the transaction", [&]() -> CallResult {
    return Outcome(producer_->commit_transaction(timeout_ms()));
  }));
  in_transaction_ = false;
  return Status::OK();
}

void TransactionalProducer::Abort(std::chrono::milliseconds timeout) {
  if (!in_transaction_) return;
  std::unique_ptr<RdKafka::Error> aborted(
      producer_->abort_transaction(static_cast<int>(timeout.count())));
  in_transaction_ = false;
}

template <typename Call>
Status TransactionalProducer::Run(std::string_view what, Call call) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    CallResult error = call();
    if (!error) return Status::OK();
    if (error->retriable && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (error->requires_abort) {
      std::unique_ptr<RdKafka::Error> aborted(producer_->abort_transaction(timeout_ms()));
      in_transaction_ = false;
      return Status::IOError(fmt::format(
          "cannot {} (transactional id '{}'): {}; the transaction was aborted, so its output "
          "stays invisible to read_committed readers, and a restart replays its input",
          what, transactional_id_, error->reason));
    }
    std::string hint;
    if (error->code == RdKafka::ERR__FENCED || error->code == RdKafka::ERR_PRODUCER_FENCED ||
        error->code == RdKafka::ERR_INVALID_PRODUCER_EPOCH) {
      hint = "; another process with the same transactional_id has taken over";
    }
    return Status::IOError(fmt::format("cannot {} (transactional id '{}'): {}{}", what,
                                       transactional_id_, error->reason, hint));
  }
}

}  // namespace sluice::connectors::kafka

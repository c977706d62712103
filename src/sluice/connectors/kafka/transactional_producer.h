#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/common/status.h"
#include "sluice/connectors/kafka/kafka_client.h"

namespace sluice::connectors::kafka {

/// A librdkafka producer with a transactional.id, and the calls of its transaction API as
/// Status: each is repeated while it fails in a retriable way (up to `timeout`); an abortable
/// error aborts the transaction, and it and a fatal error (fenced by a newer process with the
/// same transactional id) fail the call, so that a restart resumes from what was committed.
///
/// Owns the producer; the configuration's callbacks must outlive it. One thread at a time (the
/// pipeline thread).
class TransactionalProducer {
 public:
  /// Creates the producer from `conf` (which librdkafka copies) with transactional.id
  /// `transactional_id`. `timeout` bounds each transaction call and its retries.
  static Result<std::unique_ptr<TransactionalProducer>> Make(RdKafka::Conf* conf,
                                                            const std::string& transactional_id,
                                                            std::chrono::milliseconds timeout);

  ~TransactionalProducer();

  RdKafka::Producer* producer() const { return producer_.get(); }
  const std::string& transactional_id() const { return transactional_id_; }
  bool in_transaction() const { return in_transaction_; }

  /// init_transactions: fences every earlier producer with this transactional id, and completes
  /// or aborts the transaction it left (a commit already decided is completed, any other is
  /// aborted). Before anything else.
  Status Initialize();

  /// Begins a transaction unless one is open.
  Status Begin();

  /// Adds `offsets` of the consumer group `group` to the open transaction: they are committed
  /// with it (the offsets of a Kafka source, read by a consumer of that group).
  Status SendOffsets(const PartitionOffsets& offsets, const RdKafka::ConsumerGroupMetadata* group);

  /// Like the other SendOffsets(), for a group that no consumer is a member of, named `group`:
  /// a record of what the transaction holds that is readable once it is committed.
  Status SendOffsets(const PartitionOffsets& offsets, const std::string& group);

  /// Commits the open transaction.
  Status Commit();

  /// Aborts the open transaction, if any, waiting up to `timeout`: what it holds never becomes
  /// visible to read_committed readers.
  void Abort(std::chrono::milliseconds timeout);

 private:
  /// A failed call of the transaction API, from the C++ or the C API.
  struct CallError {
    RdKafka::ErrorCode code = RdKafka::ERR_NO_ERROR;
    std::string reason;
    bool retriable = false;
    bool requires_abort = false;
  };
  using CallResult = std::optional<CallError>;

  /// The outcome of a call of the C++ API, which returns null or an error it hands over.
  static CallResult Outcome(RdKafka::Error* error);

  TransactionalProducer(std::unique_ptr<RdKafka::Producer> producer, std::string transactional_id,
                        std::chrono::milliseconds timeout)
      : producer_(std::move(producer)),
        transactional_id_(std::move(transactional_id)),
        timeout_(timeout) {}

  /// Runs `call` (one call of the transaction API, returning a CallError when it failed) with
  /// the retries and aborts described above.
  template <typename Call>
  Status Run(std::string_view what, Call call);

  int timeout_ms() const { return static_cast<int>(timeout_.count()); }

  std::unique_ptr<RdKafka::Producer> producer_;
  std::string transactional_id_;
  std::chrono::milliseconds timeout_;
  bool in_transaction_ = false;
};

}  // namespace sluice::connectors::kafka

#pragma once

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

// What the Kafka source and sink share: client configuration, routing librdkafka's logs and
// errors into Sluice's logger, and error conversion. librdkafka does not throw, so no exception
// crosses this edge; its error codes become Status here.

namespace sluice::connectors::kafka {

/// A topic partition and an offset in it: the next offset to read, as Kafka commits it.
using PartitionOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;

/// What a transactional sink commits for a Kafka source: offsets and the consumer's group.
struct ConsumerPosition {
  PartitionOffsets offsets;
  /// The consumer's group metadata, for send_offsets_to_transaction; null when `offsets` is
  /// empty.
  std::unique_ptr<RdKafka::ConsumerGroupMetadata> group;
};

/// The Kafka source as an exactly-once Kafka sink sees it (exec::InputDone::source). The sink
/// commits the source's offsets inside its producer transaction, so that output and input
/// position become visible together; from the first TakePosition() on, the source no longer
/// commits offsets itself. Thread-safe (called on the pipeline thread while the source reads).
class TransactionalInput {
 public:
  virtual ~TransactionalInput() = default;

  /// The offsets advanced by the first `batches` pushed batches that an earlier call did not
  /// take, and with `end_of_run` also by records rejected after the last batch. Only one sink
  /// may take them: another `sink` gets an error, since its output would not be tied to them.
  virtual Result<ConsumerPosition> TakePosition(const std::string& sink, int64_t batches,
                                                bool end_of_run) = 0;
};

/// The options both the source and the sink accept: `brokers` and `properties`.
std::vector<config::OptionSpec> ClientOptions();

/// Receives librdkafka's log lines and error events (on librdkafka's threads) and writes them to
/// a component logger. Errors are rate-limited per error code, so an unreachable broker is
/// reported once, then at most every `kRepeatInterval`, not on every reconnect attempt.
/// Thread-safe; must outlive the client it is registered with.
class ClientEvents final : public RdKafka::EventCb {
 public:
  explicit ClientEvents(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

  void event_cb(RdKafka::Event& event) override;

  /// Logs an error (from an event or a consumed error message), rate-limited per code.
  void Report(RdKafka::ErrorCode code, const std::string& text, bool fatal = false);

  /// The last error librdkafka reported, empty when none; for error messages.
  std::string last_error() const;

 private:
  static constexpr std::chrono::seconds kRepeatInterval{10};
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mutex_;
  std::map<int, std::chrono::steady_clock::time_point> last_logged_;
  std::string last_error_;
};

/// A librdkafka configuration: `bootstrap.servers` from the `brokers` option, Sluice's defaults,
/// then the user's `properties` (which win). `events` receives logs and errors.
Result<std::unique_ptr<RdKafka::Conf>> MakeClientConf(
    const config::Options& options, ClientEvents* events,
    const std::map<std::string, std::string>& defaults);

/// Sets one librdkafka property, reporting a bad one as a configuration error at `where`.
Status SetProperty(RdKafka::Conf* conf, const std::string& name, const std::string& value,
                   const config::Location& where);

/// An error status for a librdkafka error code.
Status KafkaError(RdKafka::ErrorCode code, std::string_view context);

/// The brokers option as librdkafka's comma-separated list.
std::string BrokerList(const config::Options& options);

}  // namespace sluice::connectors::kafka

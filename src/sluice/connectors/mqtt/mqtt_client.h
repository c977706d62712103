#pragma once

#include <sluice_mqtt_client.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/common/tls_options.h"

// What the MQTT source and sink share: the broker's URL, credentials and TLS, the protocol
// version, and the client (native/mqtt_client: rumqttc behind a C ABI, chosen because it lets the
// source acknowledge a message only once the pipeline is done with it).

namespace sluice::connectors::mqtt {

/// `tls:` of an mqtts:// URL (the key in PKCS#8 form).
using TlsSettings = connectors::TlsSettings;

/// Where and how to connect.
struct ClientSettings {
  std::string host;
  uint16_t port = 1883;
  bool tls = false;
  TlsSettings tls_settings;
  /// 4 (MQTT 3.1.1) or 5.
  int protocol_version = 5;
  std::string client_id;
  std::optional<std::string> username;
  std::string password;
  /// False: the broker keeps the session (subscriptions and QoS 1/2 messages) while away.
  bool clean_start = true;
  /// MQTT 5: how long the broker keeps the session after a disconnect.
  std::chrono::seconds session_expiry{0};
  std::chrono::seconds keep_alive{30};
  /// MQTT 5: unacknowledged QoS 1/2 messages the broker may send (flow control).
  uint16_t receive_maximum = 1000;
  uint32_t max_packet_size = 0;
  /// How long a bounded run (or a sink's first connection) keeps retrying before it fails.
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(30)};
  /// Topic filters and their QoS, subscribed whenever the broker has no session for the client.
  std::vector<std::pair<std::string, int>> subscriptions;

  /// The URL, for messages: mqtt://127.0.0.1:1883.
  std::string Describe() const;
};

/// The options both the source and the sink accept: `url`, `version`, `client_id`, `username`,
/// `password`, `tls`, `keep_alive` and `connect_timeout`.
std::vector<config::OptionSpec> ClientOptionSpecs();

/// Reads ClientSettings; a URL that does not parse is a configuration error at `url`.
/// `default_client_id` is used when `client_id` is left out.
Result<ClientSettings> ClientSettingsFromConfig(const config::Options& options,
                                                std::string default_client_id);

struct EventFree {
  void operator()(SluiceMqttEvent* event) const { sluice_mqtt_event_free(event); }
};
/// An event of the client: a message, a connection change or a publish completion.
using Event = std::unique_ptr<SluiceMqttEvent, EventFree>;

inline std::string_view TopicOf(const SluiceMqttEvent& event) {
  return {event.topic, event.topic_len};
}
inline std::string_view PayloadOf(const SluiceMqttEvent& event) {
  return {reinterpret_cast<const char*>(event.payload), event.payload_len};
}

/// One connection to a broker, reconnecting with backoff in the background. Thread-safe: the
/// source polls on its thread and acknowledges on the pipeline thread.
class Client {
 public:
  /// Starts connecting; failures to connect arrive as events. An error only for settings that
  /// cannot be used (unreadable TLS files).
  static Result<std::unique_ptr<Client>> Start(const ClientSettings& settings,
                                               size_t event_queue_capacity);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The next event, waiting up to `timeout`; null when none came.
  Event Poll(std::chrono::milliseconds timeout);

  enum class Acked { kSent, kStale, kClosed };
  /// Acknowledges a QoS 1/2 message by its ack_handle (PUBACK / PUBREC).
  Acked Ack(uint64_t ack_handle);

  /// Queues a publish. Its token, which the completion event carries; nullopt when the request
  /// queue is full (poll for completions, then try again); an error for a topic that cannot be
  /// published to.
  Result<std::optional<uint64_t>> Publish(std::string_view topic, std::string_view payload,
                                          int qos, bool retain,
                                          std::chrono::seconds message_expiry);

 private:
  explicit Client(SluiceMqttClient* client) : client_(client) {}
  SluiceMqttClient* client_;
};

/// Logs connection failures with the same reason at most once per `interval` (a broker that
/// stays down would otherwise log at every backoff step).
class ConnectionLog {
 public:
  ConnectionLog(std::shared_ptr<spdlog::logger> logger, std::string broker)
      : logger_(std::move(logger)), broker_(std::move(broker)) {}

  /// Handles a CONNECTED or DISCONNECTED event; other kinds are ignored.
  void Report(const SluiceMqttEvent& event);

  bool connected() const { return connected_; }
  bool ever_connected() const { return ever_connected_; }
  /// The last reason a connection failed, for error messages.
  const std::string& last_failure() const { return last_failure_; }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::string broker_;
  bool connected_ = false;
  bool ever_connected_ = false;
  std::string last_failure_;
  std::chrono::steady_clock::time_point last_logged_{};
  std::string last_logged_reason_;
};

/// A failed connection attempt, as an error: with the broker's refusal (credentials) when it
/// refused, or the network's reason.
Status ConnectionError(const ClientSettings& settings, const ConnectionLog& log,
                       std::string_view waited);

}  // namespace sluice::connectors::mqtt

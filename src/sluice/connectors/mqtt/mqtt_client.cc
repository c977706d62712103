#include "sluice/connectors/mqtt/mqtt_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "sluice/common/duration.h"
#include "sluice/config/location.h"

namespace sluice::connectors::mqtt {

namespace {

using config::OptionSpec;
using config::OptionType;

/// Takes ownership of an error string of the client library.
std::string TakeError(char* error) {
  if (error == nullptr) return "unknown error";
  std::string text(error);
  sluice_mqtt_string_free(error);
  return text;
}

/// host:port of `url` (mqtt://host[:port] or mqtts://host[:port]), or an error message.
Result<ClientSettings> ParseUrl(std::string_view url) {
  ClientSettings settings;
  std::string_view rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    settings.tls = true;
    settings.port = 8883;
  } else {
    return Status::Invalid("the URL must start with mqtt:// or mqtts://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos) {
    return Status::Invalid(
        "the URL is mqtt://host:port (credentials go in username and password)");
  }
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:1883
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::Invalid("unclosed [ in the host");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Status::Invalid("expected :port after ]");
  } else {
    size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (!rest.empty()) {
    std::string_view digits = rest.substr(1);
    int port = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (error != std::errc() || end != digits.data() + digits.size() || port < 1 ||
        port > 65535) {
      return Status::Invalid(fmt::format("'{}' is not a port number", digits));
    }
    settings.port = static_cast<uint16_t>(port);
  }
  if (host.empty()) return Status::Invalid("no host in the URL");
  settings.host = std::string(host);
  return settings;
}

uint32_t Seconds(std::chrono::nanoseconds duration) {
  auto seconds = std::chrono::ceil<std::chrono::seconds>(duration).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(seconds, 0, UINT32_MAX));
}

}  // namespace

std::string ClientSettings::Describe() const {
  bool brackets = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", tls ? "mqtts" : "mqtt", brackets ? "[" : "", host,
                     brackets ? "]" : "", port);
}

std::vector<OptionSpec> ClientOptionSpecs() {
  OptionSpec url{"url", OptionType::kString,
                 "The broker: mqtt://host:port (1883 when left out) or mqtts://host:port (TLS, "
                 "8883 when left out)."};
  url.required = true;
  OptionSpec version{"version", OptionType::kEnum,
                     "The MQTT protocol version: 5 or 3.1.1. Version 5 gives flow control "
                     "(receive_maximum), session expiry, message expiry, user properties and "
                     "reason codes for refused messages.",
                     "5"};
  version.choices = {"5", "3.1.1"};
  OptionSpec client_id{"client_id", OptionType::kString,
                       "The client identifier; a persistent session belongs to it, so it must "
                       "stay the same across restarts and differ between processes. "
                       "sluice-<pipeline>-<name> when left out."};
  OptionSpec username{"username", OptionType::kString, "User name for the broker."};
  OptionSpec password{"password", OptionType::kString,
                      "Password for the broker; use ${VARIABLE} to keep it out of the file."};
  OptionSpec tls = TlsOptionSpec("mqtts");
  OptionSpec keep_alive{"keep_alive", OptionType::kDuration,
                        "Keep-alive interval: the broker drops the connection after 1.5 times "
                        "this without traffic, and the client pings while idle.",
                        "30s"};
  keep_alive.min = 5000;
  keep_alive.max = 65535000;
  OptionSpec connect_timeout{
      "connect_timeout", OptionType::kDuration,
      "How long a bounded run (until:) or a sink's first connection keeps retrying an "
      "unreachable broker or refused credentials before the run fails. Unbounded sources retry "
      "for ever, logging each failure, with backoff from 100ms to 5s.",
      "30s"};
  connect_timeout.min = 1000;
  OptionSpec max_message_size{
      "max_message_size", OptionType::kInteger,
      "Largest message in bytes. A source refuses larger ones (version 5 tells the broker, which "
      "then drops them for this client; with 3.1.1 a larger one breaks the connection); a sink "
      "dead-letters rows whose message would be larger.",
      "16777216"};
  max_message_size.min = 1024;
  max_message_size.max = 268435455;
  return {url,     version,    client_id,       username,        password,
          tls,     keep_alive, connect_timeout, max_message_size};
}

Result<ClientSettings> ClientSettingsFromConfig(const config::Options& options,
                                                std::string default_client_id) {
  auto parsed = ParseUrl(options.GetString("url"));
  if (!parsed.ok()) {
    return config::ConfigError(options.LocationOf("url"),
                               fmt::format("bad MQTT URL: {}", parsed.status().message()),
                               "e.g. url: mqtt://127.0.0.1:1883");
  }
  ClientSettings settings = std::move(parsed).ValueOrDie();
  settings.protocol_version = options.GetString("version") == "3.1.1" ? 4 : 5;
  settings.client_id =
      options.Has("client_id") ? options.GetString("client_id") : std::move(default_client_id);
  if (settings.client_id.empty() || settings.client_id.size() > 65535) {
    return config::ConfigError(options.LocationOf("client_id"),
                               "client_id must be 1 to 65535 bytes long");
  }
  if (options.Has("username")) settings.username = options.GetString("username");
  if (options.Has("password")) {
    if (!settings.username) {
      return config::ConfigError(options.LocationOf("password"), "password without username");
    }
    settings.password = options.GetString("password");
  }
  SLUICE_ASSIGN_OR_RAISE(settings.tls_settings,
                         TlsSettingsFromConfig(options, settings.tls, "mqtts://host:port"));
  settings.keep_alive = std::chrono::duration_cast<std::chrono::seconds>(
      options.GetDuration("keep_alive"));
  settings.connect_timeout = options.GetDuration("connect_timeout");
  settings.max_packet_size = static_cast<uint32_t>(options.GetInteger("max_message_size"));
  return settings;
}

Result<std::unique_ptr<Client>> Client::Start(const ClientSettings& settings,
                                              size_t event_queue_capacity) {
  std::vector<const char*> topics;
  std::vector<int32_t> qos;
  for (const auto& [filter, level] : settings.subscriptions) {
    topics.push_back(filter.c_str());
    qos.push_back(level);
  }
  SluiceMqttOptions options{};
  options.host = settings.host.c_str();
  options.port = settings.port;
  options.protocol_version = settings.protocol_version;
  options.client_id = settings.client_id.c_str();
  options.clean_start = settings.clean_start ? 1 : 0;
  options.session_expiry_seconds = Seconds(settings.session_expiry);
  options.username = settings.username ? settings.username->c_str() : nullptr;
  options.password = settings.username ? settings.password.c_str() : nullptr;
  options.tls = settings.tls ? 1 : 0;
  const TlsSettings& tls = settings.tls_settings;
  options.tls_ca_file = tls.ca.empty() ? nullptr : tls.ca.c_str();
  options.tls_cert_file = tls.cert.empty() ? nullptr : tls.cert.c_str();
  options.tls_key_file = tls.key.empty() ? nullptr : tls.key.c_str();
  options.tls_verify = tls.verify ? 1 : 0;
  options.keep_alive_seconds = static_cast<uint16_t>(std::clamp<int64_t>(
      settings.keep_alive.count(), 5, 65535));
  options.receive_maximum = settings.receive_maximum;
  options.max_packet_size = settings.max_packet_size;
  options.connect_timeout_seconds =
      std::clamp<uint32_t>(Seconds(settings.connect_timeout), 1, 30);
  options.backoff_min_ms = 100;
  options.backoff_max_ms = 5000;
  options.topics = topics.data();
  options.topic_qos = qos.data();
  options.topic_count = topics.size();
  options.event_queue_capacity = static_cast<uint32_t>(event_queue_capacity);
  char* error = nullptr;
  SluiceMqttClient* client = sluice_mqtt_client_new(&options, &error);
  if (client == nullptr) {
    return Status::Invalid(
        fmt::format("cannot set up the MQTT client for {}: {}", settings.Describe(),
                    TakeError(error)));
  }
  return std::unique_ptr<Client>(new Client(client));
}

Client::~Client() { sluice_mqtt_client_free(client_); }

Event Client::Poll(std::chrono::milliseconds timeout) {
  SluiceMqttEvent* event = nullptr;
  int32_t polled = sluice_mqtt_poll(
      client_, static_cast<int32_t>(std::clamp<int64_t>(timeout.count(), 0, INT32_MAX)), &event);
  return Event(polled == 1 ? event : nullptr);
}

Client::Acked Client::Ack(uint64_t ack_handle) {
  switch (sluice_mqtt_ack(client_, ack_handle)) {
    case 1:
      return Acked::kSent;
    case 0:
      return Acked::kStale;
    default:
      return Acked::kClosed;
  }
}

Result<std::optional<uint64_t>> Client::Publish(std::string_view topic, std::string_view payload,
                                                int qos, bool retain,
                                                std::chrono::seconds message_expiry) {
  uint64_t token = 0;
  char* error = nullptr;
  int32_t queued = sluice_mqtt_publish(
      client_, topic.data(), topic.size(), reinterpret_cast<const uint8_t*>(payload.data()),
      payload.size(), qos, retain ? 1 : 0, Seconds(message_expiry), nullptr, 0, &token, &error);
  if (queued == 0) return std::optional<uint64_t>(token);
  if (queued == 1) return std::optional<uint64_t>();
  return Status::Invalid(TakeError(error));
}

void ConnectionLog::Report(const SluiceMqttEvent& event) {
  if (event.kind == SLUICE_MQTT_CONNECTED) {
    if (!ever_connected_) {
      logger_->info("connected to {}{}", broker_,
                    event.session_present ? " (the broker kept the session)" : "");
    } else if (!connected_) {
      logger_->info("reconnected to {}{}", broker_,
                    event.session_present ? " (the broker kept the session)" : "");
    }
    connected_ = true;
    ever_connected_ = true;
    last_logged_reason_.clear();
    return;
  }
  if (event.kind != SLUICE_MQTT_DISCONNECTED) return;
  bool was_connected = connected_;
  connected_ = false;
  last_failure_ = event.reason;
  auto now = std::chrono::steady_clock::now();
  if (was_connected || last_failure_ != last_logged_reason_ ||
      now - last_logged_ >= std::chrono::seconds(30)) {
    logger_->warn("{} {}: {}{}; retrying with backoff", was_connected ? "lost" : "cannot reach",
                  broker_, last_failure_,
                  event.refused ? " (check username, password and client_id)" : "");
    last_logged_ = now;
    last_logged_reason_ = last_failure_;
  }
}

Status ConnectionError(const ClientSettings& settings, const ConnectionLog& log,
                       std::string_view waited) {
  std::string reason = log.last_failure().empty() ? "no answer" : log.last_failure();
  return Status::IOError(fmt::format("cannot connect to MQTT broker {} within {}: {}",
                                     settings.Describe(), waited, reason));
}

}  // namespace sluice::connectors::mqtt

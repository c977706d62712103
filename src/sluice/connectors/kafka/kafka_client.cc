#include "sluice/connectors/kafka/kafka_client.h"

#include <fmt/format.h>

#include "sluice/config/location.h"

namespace sluice::connectors::kafka {

std::vector<config::OptionSpec> ClientOptions() {
  config::OptionSpec brokers{
      "brokers", config::OptionType::kStringList,
      "Bootstrap brokers as host:port, one or several (librdkafka's bootstrap.servers)."};
  brokers.required = true;
  config::OptionSpec properties{
      "properties", config::OptionType::kStringMap,
      "Further librdkafka properties (e.g. security.protocol, sasl.*), applied last, so "
      "they override Sluice's settings; see librdkafka's CONFIGURATION.md."};
  return {brokers, properties};
}

void ClientEvents::Report(RdKafka::ErrorCode code, const std::string& text, bool fatal) {
  std::string message = fmt::format("{}: {}", RdKafka::err2str(code), text);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = message;
    auto [it, inserted] = last_logged_.emplace(static_cast<int>(code), now);
    if (!inserted && now - it->second < kRepeatInterval) return;
    it->second = now;
  }
  if (code == RdKafka::ERR__ALL_BROKERS_DOWN || code == RdKafka::ERR__TRANSPORT ||
      code == RdKafka::ERR__RESOLVE) {
    logger_->warn("cannot reach the Kafka brokers ({}); retrying with backoff", message);
  } else if (fatal) {
    logger_->error("Kafka client failed: {}", message);
  } else {
    logger_->warn("Kafka client: {}", message);
  }
}

void ClientEvents::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      Report(event.err(), event.str(), event.fatal());
      break;
    case RdKafka::Event::EVENT_LOG:
      // Connection errors also arrive as EVENT_ERROR, which is rate-limited; the log lines
      // repeat them on every attempt, so they stay at debug level.
      if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
        logger_->debug("librdkafka {}: {}", event.fac(), event.str());
      } else if (logger_->should_log(spdlog::level::trace)) {
        logger_->trace("librdkafka {}: {}", event.fac(), event.str());
      }
      break;
    default:
      break;
  }
}

std::string ClientEvents::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

Status SetProperty(RdKafka::Conf* conf, const std::string& name, const std::string& value,
                   const config::Location& where) {
  std::string error;
  if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
    return config::ConfigError(where,
                               fmt::format("librdkafka rejects {}={}: {}", name, value, error));
  }
  return Status::OK();
}

std::string BrokerList(const config::Options& options) {
  return fmt::format("{}", fmt::join(options.GetStringList("brokers"), ","));
}

Result<std::unique_ptr<RdKafka::Conf>> MakeClientConf(
    const config::Options& options, ClientEvents* events,
    const std::map<std::string, std::string>& defaults) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  config::Location where = options.LocationOf("brokers");
  SLUICE_RETURN_NOT_OK(SetProperty(conf.get(), "bootstrap.servers", BrokerList(options), where));
  for (const auto& [name, value] : defaults)
    SLUICE_RETURN_NOT_OK(SetProperty(conf.get(), name, value, where));
  if (options.Has("properties")) {
    for (const auto& [name, value] : options.GetMap("properties")) {
      SLUICE_RETURN_NOT_OK(SetProperty(conf.get(), name, value.text, value.where));
    }
  }
  std::string error;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events), error) !=
      RdKafka::Conf::CONF_OK) {
    return Status::Invalid("cannot register the Kafka event callback: ", error);
  }
  return conf;
}

Status KafkaError(RdKafka::ErrorCode code, std::string_view context) {
  return Status::IOError(context, ": ", RdKafka::err2str(code));
}

}  // namespace sluice::connectors::kafka

#include "sluice/exec/registry.h"

namespace sluice::exec {

void Registry::AddSource(config::PluginSpec spec, SourceFactory factory) {
  spec.kind = config::PluginKind::kSource;
  for (auto& option : CommonSourceOptions()) spec.options.push_back(std::move(option));
  std::string name = spec.name;
  sources_[name] = {std::move(spec), std::move(factory)};
}

void Registry::AddProcessor(config::PluginSpec spec, ProcessorFactory factory) {
  spec.kind = config::PluginKind::kProcessor;
  std::string name = spec.name;
  processors_[name] = {std::move(spec), std::move(factory)};
}

void Registry::AddSink(config::PluginSpec spec, SinkFactory factory) {
  spec.kind = config::PluginKind::kSink;
  std::string name = spec.name;
  sinks_[name] = {std::move(spec), std::move(factory)};
}

namespace {

template <typename Map>
const config::PluginSpec* FindIn(const Map& map, std::string_view name) {
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second.spec;
}

template <typename Map>
void AppendSpecs(const Map& map, std::vector<const config::PluginSpec*>* specs) {
  for (const auto& [name, entry] : map) specs->push_back(&entry.spec);
}

}  // namespace

const config::PluginSpec* Registry::FindSpec(config::PluginKind kind, std::string_view name) const {
  switch (kind) {
    case config::PluginKind::kSource:
      return FindIn(sources_, name);
    case config::PluginKind::kProcessor:
      return FindIn(processors_, name);
    case config::PluginKind::kSink:
      return FindIn(sinks_, name);
  }
  return nullptr;
}

std::vector<const config::PluginSpec*> Registry::Specs(config::PluginKind kind) const {
  std::vector<const config::PluginSpec*> specs;
  switch (kind) {
    case config::PluginKind::kSource:
      AppendSpecs(sources_, &specs);
      break;
    case config::PluginKind::kProcessor:
      AppendSpecs(processors_, &specs);
      break;
    case config::PluginKind::kSink:
      AppendSpecs(sinks_, &specs);
      break;
  }
  return specs;
}

std::vector<std::string> Registry::Names(config::PluginKind kind) const {
  std::vector<std::string> names;
  for (const auto* spec : Specs(kind)) names.push_back(spec->name);
  return names;
}

const SourceFactory* Registry::FindSource(std::string_view name) const {
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : &it->second.factory;
}

const ProcessorFactory* Registry::FindProcessor(std::string_view name) const {
  auto it = processors_.find(name);
  return it == processors_.end() ? nullptr : &it->second.factory;
}

const SinkFactory* Registry::FindSink(std::string_view name) const {
  auto it = sinks_.find(name);
  return it == sinks_.end() ? nullptr : &it->second.factory;
}

std::vector<config::OptionSpec> CommonSourceOptions() {
  using config::OptionType;
  config::OptionSpec batch_size{
      "batch_size", OptionType::kInteger,
      "Rows per micro-batch at most. Larger batches raise throughput; smaller ones lower latency.",
      "65536"};
  batch_size.min = 1;
  batch_size.max = 16 * 1024 * 1024;
  config::OptionSpec linger{
      "linger", OptionType::kDuration,
      "How long a live source may wait to fill a micro-batch before sending a smaller one.",
      "100ms"};
  linger.min = 0;
  config::OptionSpec event_time{
      "event_time", OptionType::kSection,
      "The field holding each row's event time; without it the source uses ingest time. "
      "Short form: event_time: ts."};
  event_time.short_field = "field";
  config::OptionSpec field{"field", OptionType::kString,
                           "The event-time field (a timestamp column).", "", true};
  config::OptionSpec delay{"watermark_delay", OptionType::kDuration,
                           "How far events may arrive out of order: the watermark trails the "
                           "latest event time by this much.",
                           "0s"};
  delay.min = 0;
  config::OptionSpec idle{
      "idle_timeout", OptionType::kDuration,
      "A source silent this long stops holding the watermark back; 0s never counts it idle.", "0s"};
  idle.min = 0;
  event_time.fields = {field, delay, idle};
  return {batch_size, linger, event_time};
}

BatchingOptions BatchingOptions::FromOptions(const config::Options& options) {
  BatchingOptions batching;
  batching.batch_size = options.GetInteger("batch_size");
  batching.linger = options.GetDuration("linger");
  return batching;
}

}  // namespace sluice::exec

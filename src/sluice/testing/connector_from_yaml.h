#pragma once

// Test-only: builds one source or sink connector from its options written as YAML
// (`{count: 100}`), through the builtin registry's declaration and factory, so that the options
// are validated as in a pipeline file and errors carry real positions.

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/sink.h"
#include "sluice/exec/source.h"

namespace sluice::testing {

/// The validated options of connector `connector` of `kind` from `yaml`, a map of its options (a
/// `connector` key in it is passed over, as in a pipeline file); errors name `file`.
inline Result<config::Options> ConnectorOptionsFromYaml(config::PluginKind kind,
                                                        const std::string& connector,
                                                        const std::string& yaml,
                                                        const std::string& file) {
  const config::PluginSpec* spec = exec::BuiltinRegistry().FindSpec(kind, connector);
  if (spec == nullptr) return Status::Invalid(connector, " is not registered");
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return Status::Invalid("test options are not YAML: ", error.what());
  }
  return config::ValidateOptions(*spec, node, file, {"connector"});
}

/// The source `connector` built from `yaml` in `context`.
inline Result<std::unique_ptr<exec::Source>> SourceFromYaml(const std::string& connector,
                                                            const std::string& yaml,
                                                            const exec::ConnectorContext& context,
                                                            const std::string& file = "test.yaml") {
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      ConnectorOptionsFromYaml(config::PluginKind::kSource, connector, yaml, file));
  return (*exec::BuiltinRegistry().FindSource(connector))(context, options);
}

/// The sink `connector` built from `yaml` in `context`.
inline Result<std::unique_ptr<exec::Sink>> SinkFromYaml(const std::string& connector,
                                                        const std::string& yaml,
                                                        const exec::ConnectorContext& context,
                                                        const std::string& file = "test.yaml") {
  SLUICE_ASSIGN_OR_RAISE(config::Options options,
                         ConnectorOptionsFromYaml(config::PluginKind::kSink, connector, yaml, file));
  return (*exec::BuiltinRegistry().FindSink(connector))(context, options);
}

}  // namespace sluice::testing

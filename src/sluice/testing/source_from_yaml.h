#pragma once

// Test-only: builds one source connector from its options written as YAML (`{count: 100}`),
// through the builtin registry's declaration and factory, so that the options are validated as
// in a pipeline file and errors carry real positions ("test.yaml").

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/source.h"

namespace sluice::testing {

/// The source `connector` built from `yaml`, a map of its options (a `connector` key in it is
/// passed over, as in a pipeline file), in `context`.
inline Result<std::unique_ptr<exec::Source>> SourceFromYaml(const std::string& connector,
                                                            const std::string& yaml,
                                                            const exec::ConnectorContext& context) {
  const exec::Registry& registry = exec::BuiltinRegistry();
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, connector);
  if (spec == nullptr) return Status::Invalid(connector, " is not registered");
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return Status::Invalid("test options are not YAML: ", error.what());
  }
  SLUICE_ASSIGN_OR_RAISE(config::Options options,
                         config::ValidateOptions(*spec, node, "test.yaml", {"connector"}));
  return (*registry.FindSource(connector))(context, options);
}

}  // namespace sluice::testing

#pragma once

// Test-only: builds one processor from a pipeline step written as YAML (`filter: "..."`,
// `window: {...}`), through the builtin registry's declaration and factory, so that the step is
// validated as in a pipeline file and configuration errors carry real positions ("test.yaml").

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "sluice/config/options.h"
#include "sluice/exec/processor.h"
#include "sluice/exec/registry.h"

namespace sluice::testing {

/// The processor `name` built from `step` (a one-key YAML map) for batches of `input`.
inline Result<std::unique_ptr<exec::Processor>> ProcessorFromYaml(
    const std::string& name, const std::string& step, const std::shared_ptr<arrow::Schema>& input,
    exec::ProcessorContext context = {"test", nullptr, ""}) {
  const exec::Registry& registry = exec::BuiltinRegistry();
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kProcessor, name);
  if (spec == nullptr) return Status::Invalid(name, " is not registered");
  YAML::Node node;
  try {
    node = YAML::Load(step);
  } catch (const YAML::Exception& error) {
    return Status::Invalid("test step is not YAML: ", error.what());
  }
  SLUICE_ASSIGN_OR_RAISE(config::Options options,
                         config::ValidateOptions(*spec, node[name], "test.yaml"));
  return (*registry.FindProcessor(name))(context, options, input);
}

}  // namespace sluice::testing

// libFuzzer target: the pipeline loader (YAML parsing, --set overrides, environment
// interpolation, validation against every plugin declaration) must answer any input with a
// pipeline or a located error, never a crash. Pipelines whose sources are all generators are
// also built, which binds their expressions, SQL and emit section against real schemas.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  std::string text(reinterpret_cast<const char*>(data), size);
  const auto& registry = exec::BuiltinRegistry();
  auto config = config::LoadPipelineText(text, "fuzz.yaml", {{"name", "fuzzed"}}, registry);
  if (!config.ok()) {
    // Every configuration error names the file.
    if (config.status().message().rfind("fuzz.yaml", 0) != 0 &&
        config.status().message().rfind("--set", 0) != 0) {
      __builtin_trap();
    }
    return 0;
  }
  for (const auto& source : config->sources) {
    if (source.plugin != "generator") return 0;
  }
  for (const auto& sink : config->sinks) {
    if (sink.plugin == "file") return 0;
  }
  if (config->dead_letters) return 0;
  auto pipeline = exec::Pipeline::Make(*config, registry);
  (void)pipeline;
  return 0;
}

#pragma once

#include <string>

#include "sluice/exec/registry.h"

namespace sluice::cli {

/// The plugin reference as plain text: every plugin, or the one called `name`.
std::string PluginReferenceText(const exec::Registry& registry, const std::string& name);

/// The whole plugin reference as Markdown (docs/pipeline-reference.md is generated from it).
std::string PluginReferenceMarkdown(const exec::Registry& registry);

}  // namespace sluice::cli

#pragma once

#include <string>
#include <vector>

#include "sluice/exec/registry.h"

namespace sluice::cli {

/// The plugin reference as plain text: every plugin, or the one called `name`.
std::string PluginReferenceText(const exec::Registry& registry, const std::string& name);

/// One line per plugin: its kind, its name and the first sentence of its doc.
std::string PluginList(const exec::Registry& registry);

/// The names `sluice plugins NAME` accepts.
std::vector<std::string> PluginNames(const exec::Registry& registry);

/// The whole plugin reference as Markdown (docs/pipeline-reference.md is generated from it).
std::string PluginReferenceMarkdown(const exec::Registry& registry);

}  // namespace sluice::cli

// The declarations of the pipeline file's top-level blocks that are not steps or connectors
// (checkpoint, storage, http, emit): validated like a plugin's options and documented in the
// pipeline reference from the same declaration.

#include "sluice/config/pipeline_config.h"

namespace sluice::config {

const PluginSpec& CheckpointSpec() {
  static const PluginSpec spec = [] {
    PluginSpec checkpoint;
    checkpoint.kind = PluginKind::kProcessor;
    checkpoint.name = "checkpoint";
    checkpoint.doc =
        "Consistent checkpoints of the state of every stage, the sources' positions and the "
        "sinks' pending commits, from which `sluice run` resumes after a crash or a stop.";
    OptionSpec dir = MakeOption(
        "dir", OptionType::kString,
        "Where checkpoints are kept: a folder, or a URI such as s3://bucket/prefix. "
        "--checkpoint-dir on the command line sets it too.");
    dir.required = true;
    OptionSpec interval = MakeOption("interval", OptionType::kDuration,
                                     "How often a checkpoint is taken.", "10s");
    interval.min = 10;
    OptionSpec retain = MakeOption("retain", OptionType::kInteger,
                                   "How many complete checkpoints are kept; older ones are "
                                   "removed.",
                                   "3");
    retain.min = 1;
    retain.max = 1000;
    checkpoint.options = {dir, interval, retain};
    checkpoint.example = "checkpoint:\n  dir: state/\n  interval: 10s";
    return checkpoint;
  }();
  return spec;
}

const PluginSpec& StorageSpec() {
  static const PluginSpec spec = [] {
    PluginSpec storage;
    storage.kind = PluginKind::kProcessor;
    storage.name = "storage";
    storage.doc =
        "How paths that are URIs reach their storage: s3:// paths of file sources and sinks. "
        "What is left out comes from the standard AWS environment (AWS_ENDPOINT_URL, AWS_REGION, "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Secrets never appear in logs or errors.";
    OptionSpec s3 = MakeOption("s3", OptionType::kSection, "An S3-compatible object store.");
    s3.fields = {
        MakeOption("endpoint", OptionType::kString,
                   "The server, e.g. http://127.0.0.1:9000 for MinIO; AWS itself when left out."),
        MakeOption("region", OptionType::kString, "The region; us-east-1 when none is set."),
        MakeOption("access_key_id", OptionType::kString, "The access key id."),
        MakeOption("secret_access_key", OptionType::kString,
                   "The secret key; prefer the AWS_SECRET_ACCESS_KEY environment variable to "
                   "keeping it in the pipeline file."),
        MakeOption("path_style", OptionType::kBool,
                   "Buckets are addressed as endpoint/bucket with an endpoint (MinIO and most "
                   "local servers) and as bucket.endpoint without one; the other way round is "
                   "not supported yet."),
    };
    storage.options = {s3};
    storage.example =
        "storage:\n"
        "  s3: {endpoint: http://127.0.0.1:9000, region: us-east-1}\n";
    return storage;
  }();
  return spec;
}

const PluginSpec& HttpSpec() {
  static const PluginSpec spec = [] {
    PluginSpec http;
    http.kind = PluginKind::kProcessor;
    http.name = "http";
    http.doc =
        "The embedded HTTP server of the running pipeline: Prometheus metrics at /metrics, "
        "/health (200 while the process runs) and /ready (200 while the pipeline runs). "
        "--http on the command line sets it too.";
    OptionSpec address = MakeOption("address", OptionType::kString,
                                    "host:port to listen on, e.g. 127.0.0.1:9464.");
    address.required = true;
    OptionSpec linger =
        MakeOption("linger", OptionType::kDuration,
                   "How long to go on serving after the run ended, so that a last scrape sees "
                   "the final counts of a bounded run (/ready answers 503 meanwhile). "
                   "--http-linger sets it too.",
                   "0s");
    http.options = {address, linger};
    http.example = "http:\n  address: 127.0.0.1:9464";
    return http;
  }();
  return spec;
}

const PluginSpec& EmitSpec() {
  static const PluginSpec spec = [] {
    PluginSpec emit;
    emit.kind = PluginKind::kProcessor;
    emit.name = "emit";
    emit.doc =
        "The final projection of the pipeline's output: which columns reach the sinks, and a "
        "filter on them.";
    emit.options = {
        {"select", OptionType::kString,
         "A SQL-style select list: 'a, b, a - b AS gap'. Default: every column.", "", false},
        {"having", OptionType::kExpression,
         "A condition on the selected columns; rows for which it is not true are dropped.", "",
         false},
    };
    emit.example = "emit:\n  select: \"symbol, ask - bid AS spread\"\n  having: \"spread > 0.05\"";
    return emit;
  }();
  return spec;
}

}  // namespace sluice::config

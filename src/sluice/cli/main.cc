// The `sluice` command: run, validate and describe pipelines.
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "sluice/cli/metrics_server.h"
#include "sluice/cli/query_command.h"
#include "sluice/cli/reference.h"
#include "sluice/common/blocking_write.h"
#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/config/pipeline_config.h"
#include "sluice/connectors/file/output_target.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/time.h"

namespace sluice::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeFailure = 1;
constexpr int kExitInvalidConfig = 2;
/// The shell's status of a process killed by SIGPIPE: a reader of the output went away.
constexpr int kExitReaderGone = 128 + SIGPIPE;

/// How long an interrupted run may wait in a write that does not move (a full pipe) before it
/// stops without finishing it.
constexpr auto kBlockedWriteGrace = std::chrono::seconds(1);

std::atomic<int> g_signals{0};
/// The first signal received: the exit status of an interrupted run is 128 + it.
std::atomic<int> g_first_signal{0};

void OnSignal(int signal) {
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signal);
  g_signals.fetch_add(1);
}

const char* SignalName(int signal) { return signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

/// Opens /dev/null on each of descriptors 0-2 that is closed, so that no file the run opens
/// takes its number and receives what is meant for standard output.
void ReserveStandardDescriptors() {
  for (int descriptor = 0; descriptor <= 2; ++descriptor) {
    if (fcntl(descriptor, F_GETFD) != -1 || errno != EBADF) continue;
    int opened = open("/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY);
    if (opened >= 0 && opened != descriptor) {
      dup2(opened, descriptor);
      close(opened);
    }
  }
}

/// While a pipeline runs, signals end it through the pipeline: the handler only counts them.
void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

/// Ends the process at once: a second signal, or a run stuck in a blocked write after the
/// first. Nothing is published; temporary files are removed.
[[noreturn]] void ExitInterrupted(const std::string& pipeline, std::string_view why) {
  connectors::RemoveTemporaryFiles();
  const int signal = g_first_signal.load();
  std::string text =
      fmt::format("sluice: pipeline '{}' interrupted ({}); {}; no output published\n", pipeline,
                  SignalName(signal), why);
  (void)!write(STDERR_FILENO, text.data(), text.size());
  _exit(128 + signal);
}

std::string HumanCount(double value) {
  if (value >= 1e9) return fmt::format("{:.2f} G", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f} M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f} k", value / 1e3);
  return fmt::format("{:.0f} ", value);
}

/// "1 row", "2 rows": `count` with the noun in the number it needs.
std::string Counted(int64_t count, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", count, count == 1 ? singular : plural);
}

/// The subcommands, for the "did you mean" of a mistyped one.
const std::vector<std::string> kCommands = {"run", "validate", "plugins", "query"};

/// The first argument that is not an option (nor an option's value): the subcommand the user
/// meant, or empty.
std::string CommandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view argument = argv[i];
    if (argument == "--log-level") {
      ++i;  // its value
      continue;
    }
    if (!argument.empty() && argument.front() == '-') continue;
    return std::string(argument);
  }
  return {};
}

/// Loads the pipeline with its --set overrides and prints the warnings about it.
Result<config::PipelineConfig> Load(const std::string& path, const std::vector<std::string>& sets) {
  std::vector<config::Override> overrides;
  for (const auto& set : sets) {
    SLUICE_ASSIGN_OR_RAISE(auto parsed, config::ParseOverride(set));
    overrides.push_back(std::move(parsed));
  }
  SLUICE_ASSIGN_OR_RAISE(auto config,
                         config::LoadPipelineFile(path, overrides, exec::BuiltinRegistry()));
  for (const auto& warning : config::PipelineWarnings(config)) std::cerr << warning << "\n";
  return config;
}

int Validate(const std::string& path, const std::vector<std::string>& sets) {
  auto config = Load(path, sets);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitInvalidConfig;
  }
  // Building the pipeline binds every expression against the real schemas.
  auto pipeline = exec::Pipeline::Make(*config, exec::BuiltinRegistry());
  if (!pipeline.ok()) {
    std::cerr << pipeline.status().message() << "\n";
    return kExitInvalidConfig;
  }
  std::cerr << fmt::format("{}: ok (pipeline '{}': {} source(s), {} processor(s), {} sink(s))\n",
                           path, config->name, config->sources.size(), config->processors.size(),
                           config->sinks.size());
  return kExitOk;
}

/// The text of the progress line.
std::string ProgressText(const exec::RunProgress& progress, double seconds) {
  std::string text =
      fmt::format("{}rows in ({}rows/s)", HumanCount(static_cast<double>(progress.rows_in)),
                  HumanCount(static_cast<double>(progress.rows_in) / std::max(seconds, 1e-9)));
  if (progress.bytes_total && *progress.bytes_total > 0) {
    text += fmt::format(", {}B of {}B read ({:.1f}%)",
                        HumanCount(static_cast<double>(progress.bytes_read)),
                        HumanCount(static_cast<double>(*progress.bytes_total)),
                        100.0 * static_cast<double>(progress.bytes_read) /
                            static_cast<double>(*progress.bytes_total));
  }
  text += fmt::format(", {}rows out, {}", HumanCount(static_cast<double>(progress.rows_out)),
                      Counted(progress.dead_letters, "dead letter", "dead letters"));
  if (progress.watermark) text += ", watermark " + exec::FormatTimestamp(*progress.watermark);
  return text;
}

/// Prints rows in and their rate, how much of the input is read (when its size is known), rows
/// out, dead letters and the watermark (with event time) on one refreshed stderr line while a
/// bounded run goes.
class ProgressLine {
 public:
  explicit ProgressLine(const exec::Pipeline& pipeline) : pipeline_(pipeline) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressLine() {
    done_.store(true);
    thread_.join();
    std::fprintf(stderr, "\r\033[K");
  }

 private:
  void Loop() {
    auto started = std::chrono::steady_clock::now();
    while (!done_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (done_.load()) break;
      exec::RunProgress progress = pipeline_.progress();
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "\r\033[K%s", ProgressText(progress, seconds).c_str());
      std::fflush(stderr);
    }
  }

  const exec::Pipeline& pipeline_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

/// What `run` says about checkpoints before its summary: what it resumed from, and what it
/// saved.
void PrintCheckpoints(const std::string& pipeline, const std::string& location,
                      const exec::RunSummary& summary) {
  if (!summary.archived_to.empty()) {
    std::cerr << fmt::format("sluice: --fresh: earlier checkpoints moved to {}/{}\n", location,
                             summary.archived_to);
  }
  if (summary.restored_checkpoint >= 0) {
    std::cerr << fmt::format(
        "sluice: pipeline '{}' resumed from checkpoint {} in '{}' (taken {}, {}B of state){}\n",
        pipeline, summary.restored_checkpoint, location, summary.restored_created,
        HumanCount(static_cast<double>(summary.restored_state_bytes)),
        summary.restored_finished
            ? "; that run had read all of its input, so only new input is read (--fresh starts "
              "over)"
            : "");
  }
  if (summary.last_checkpoint >= 0) {
    std::cerr << fmt::format(
        "sluice: {} taken, the last is checkpoint {} ({}B of state); pause per checkpoint "
        "{:.1f} ms on average, {:.1f} ms at most; writing took {:.1f} ms at most\n",
        Counted(summary.checkpoints, "checkpoint", "checkpoints"), summary.last_checkpoint,
        HumanCount(static_cast<double>(summary.checkpoint_state_bytes)),
        summary.mean_checkpoint_pause_seconds * 1e3, summary.max_checkpoint_pause_seconds * 1e3,
        summary.max_checkpoint_write_seconds * 1e3);
  }
}

/// The metrics server of a run; when it goes out of scope (after the summary) it goes on
/// serving for `linger` (or until a signal), so that a last scrape sees the final counts.
struct MetricsServing {
  std::unique_ptr<http::HttpServer> server;
  std::chrono::nanoseconds linger{0};
  ~MetricsServing() {
    if (server == nullptr || linger.count() <= 0) return;
    const int signals = g_signals.load();
    const auto until = std::chrono::steady_clock::now() + linger;
    while (std::chrono::steady_clock::now() < until && g_signals.load() == signals)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
};

int Run(const std::string& path, const std::vector<std::string>& sets, bool progress_wanted,
        bool fresh) {
  // From here a signal is counted, and acted on once the pipeline runs.
  InstallSignalHandlers();
  auto config = Load(path, sets);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitInvalidConfig;
  }
  auto made = exec::Pipeline::Make(*config, exec::BuiltinRegistry());
  if (!made.ok()) {
    std::cerr << made.status().message() << "\n";
    return kExitInvalidConfig;
  }
  std::unique_ptr<exec::Pipeline> pipeline = std::move(*made);
  if (fresh) pipeline->StartFresh();
  MetricsServing serving;
  if (config->http) {
    auto server = StartMetricsServer(config->http->address, pipeline->metrics());
    if (!server.ok()) {
      std::cerr << fmt::format("sluice: pipeline '{}': {}\n", config->name,
                               server.status().message());
      return kExitRuntimeFailure;
    }
    serving.server = std::move(*server);
    serving.linger = config->http->linger;
    std::cerr << fmt::format("sluice: pipeline '{}': metrics at http://{}/metrics\n", config->name,
                             serving.server->address());
  }

  std::atomic<bool> finished{false};
  std::thread signal_watcher([&] {
    bool stop_requested = false;
    while (!finished.load()) {
      const int signals = g_signals.load();
      if (signals > 0 && !stop_requested) {
        pipeline->RequestStop();
        stop_requested = true;
      }
      if (signals > 1) ExitInterrupted(config->name, "stopped at once by a second signal");
      if (stop_requested) {
        auto blocked = BlockedWriteAge();
        if (blocked && *blocked > kBlockedWriteGrace)
          ExitInterrupted(config->name, "an output is blocked (a full pipe)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  Result<exec::RunSummary> summary;
  {
    std::unique_ptr<ProgressLine> progress;
    if (progress_wanted && pipeline->bounded() && isatty(STDERR_FILENO))
      progress = std::make_unique<ProgressLine>(*pipeline);
    summary = pipeline->Run();
  }
  finished.store(true);
  signal_watcher.join();

  if (!summary.ok()) {
    std::cerr << fmt::format("sluice: pipeline '{}' failed: {}\n", config->name,
                             summary.status().message());
    if (pipeline->bounded()) std::cerr << "sluice: no output published; previous outputs kept\n";
    return kExitRuntimeFailure;
  }
  PrintCheckpoints(config->name, pipeline->checkpoint_location(), *summary);
  if (summary->interrupted && summary->last_checkpoint >= 0) {
    const int signal = g_first_signal.load();
    std::cerr << fmt::format(
        "sluice: pipeline '{}' interrupted ({}) after {} in; what was processed is committed "
        "and saved in checkpoint {}: run it again to continue from there\n",
        config->name, SignalName(signal), Counted(summary->rows_in, "row", "rows"),
        summary->last_checkpoint);
    return 128 + (signal == 0 ? SIGINT : signal);
  }
  if (summary->interrupted) {
    const int signal = g_first_signal.load();
    std::cerr << fmt::format(
        "sluice: pipeline '{}' interrupted ({}) after {} in; no output published, previous "
        "outputs kept\n",
        config->name, SignalName(signal), Counted(summary->rows_in, "row", "rows"));
    return 128 + (signal == 0 ? SIGINT : signal);
  }
  std::string late = summary->late > 0 ? fmt::format(" ({} late)", summary->late) : "";
  if (summary->skipped_rows > 0 || summary->skipped_bytes > 0) {
    late += fmt::format(", {} skipped ({}) as unreadable",
                        Counted(summary->skipped_rows, "row", "rows"),
                        Counted(summary->skipped_bytes, "byte", "bytes"));
  }
  std::string state =
      summary->peak_state_bytes > 0
          ? fmt::format(", peak state {}B, final state {}B", HumanCount(summary->peak_state_bytes),
                        HumanCount(summary->final_state_bytes))
          : "";
  // With several sinks, what each wrote: they may read different streams.
  std::string per_sink;
  if (summary->sink_rows.size() > 1) {
    for (const auto& [name, rows] : summary->sink_rows)
      per_sink += fmt::format("{}{}: {}", per_sink.empty() ? " (" : ", ", name, rows);
    per_sink += ")";
  }
  std::cerr << fmt::format(
      "sluice: pipeline '{}' {}: {} in, {} out{}, {}{}{}, {:.3f} s ({}rows/s)\n", config->name,
      summary->stopped ? "stopped" : "finished", Counted(summary->rows_in, "row", "rows"),
      Counted(summary->rows_out, "row", "rows"), per_sink,
      Counted(summary->dead_letters, "dead letter", "dead letters"), late, state, summary->seconds,
      HumanCount(static_cast<double>(summary->rows_in) / std::max(summary->seconds, 1e-9)));
  for (const auto& [stage, bytes] : summary->discarded_state) {
    std::cerr << fmt::format(
        "sluice: step '{}': {}B of state in windows that had not closed discarded, not emitted "
        "as final\n",
        stage, HumanCount(static_cast<double>(bytes)));
  }
  if (!summary->readers_gone.empty()) {
    std::cerr << fmt::format(
        "sluice: the reader of sink {} closed its pipe before the end; the other sinks finished\n",
        fmt::join(summary->readers_gone, ", "));
    return kExitReaderGone;
  }
  return kExitOk;
}

}  // namespace
}  // namespace sluice::cli

int main(int argc, char** argv) {
  using namespace sluice::cli;
  // Arrow's allocator (mimalloc) hands freed memory back to the system 10 ms after it was last
  // used; between two micro-batches that is usually too soon, and every batch then pays for
  // fresh pages again (the kernel zeroing them). Keeping it a second costs nothing in a steady
  // pipeline and is much faster when state or wide batches churn. A user's own setting wins.
  setenv("MIMALLOC_PURGE_DELAY", "1000", /*overwrite=*/0);
  ReserveStandardDescriptors();
  // A closed pipe is an error of the write (EPIPE) that the sink reports, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Sluice: one engine for batch and stream processing"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  // Options of the whole command (--log-level) may also follow the subcommand.
  app.fallthrough();

  std::string pipeline_path;
  std::vector<std::string> sets;
  bool no_progress = false;
  CLI::App* run =
      app.add_subcommand("run", "Run a pipeline until its sources end, or until SIGINT/SIGTERM");
  run->add_option("pipeline", pipeline_path, "The pipeline file (YAML)")->required();
  run->add_option("--set", sets, "Override a key: --set sources.quotes.path=data.csv")
      ->type_name("KEY=VALUE");
  run->add_flag("--no-progress", no_progress, "Do not show the progress line");
  std::string checkpoint_dir;
  run->add_option("--checkpoint-dir", checkpoint_dir,
                  "Take checkpoints in this folder or URI (sets checkpoint.dir), and resume from "
                  "the latest one there")
      ->type_name("DIR");
  std::string http_address;
  run->add_option("--http", http_address,
                  "Serve /metrics (Prometheus), /health and /ready on this address (sets "
                  "http.address)")
      ->type_name("HOST:PORT");
  std::string http_linger;
  run->add_option("--http-linger", http_linger,
                  "Go on serving /metrics this long after the run ended (sets http.linger)")
      ->type_name("DURATION");
  bool fresh = false;
  run->add_flag("--fresh", fresh,
                "Start from the beginning: ignore the checkpoints of earlier runs (they are "
                "moved into an archive- folder beside them)");

  CLI::App* validate = app.add_subcommand("validate", "Check a pipeline file without running it");
  validate->add_option("pipeline", pipeline_path, "The pipeline file (YAML)")->required();
  validate->add_option("--set", sets, "Override a key")->type_name("KEY=VALUE");

  std::string plugin_name;
  bool markdown = false;
  CLI::App* plugins =
      app.add_subcommand("plugins", "List the processors and connectors with their options");
  plugins->add_option("name", plugin_name, "Show only this plugin");
  plugins->add_flag("--markdown", markdown, "Print the reference as Markdown");
  bool list = false;
  plugins->add_flag("--list", list, "Print one line per plugin: kind, name and what it does");

  QueryArguments query_arguments;
  CLI::App* query = app.add_subcommand(
      "query", "Run a SQL query over a DuckDB database file (read only) and print the result");
  query->add_option("database", query_arguments.database, "The DuckDB database file")->required();
  query->add_option("sql", query_arguments.sql, "The query, e.g. \"SELECT * FROM t LIMIT 10\"")
      ->required();
  query->add_option("--format", query_arguments.format, "table, jsonl or csv")
      ->capture_default_str();

  // CLI11 would say only "The following arguments were not expected".
  if (std::string word = CommandWord(argc, argv);
      !word.empty() && std::find(kCommands.begin(), kCommands.end(), word) == kCommands.end()) {
    std::cerr << fmt::format("sluice: unknown command '{}'\n  hint: {}\n", word,
                             sluice::SpellingHint(word, kCommands));
    return kExitInvalidConfig;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : kExitInvalidConfig;
  }
  sluice::SetLogLevel(log_level);

  if (*run) {
    if (!checkpoint_dir.empty()) sets.push_back("checkpoint.dir=" + checkpoint_dir);
    // Quoted, so that the value is the address as typed even where YAML would read a map
    // ("127.0.0.1:") or a number.
    auto quoted = [](const std::string& text) {
      std::string out = "'";
      for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
      return out + "'";
    };
    if (!http_address.empty()) sets.push_back("http.address=" + quoted(http_address));
    if (!http_linger.empty()) sets.push_back("http.linger=" + http_linger);
    return Run(pipeline_path, sets, !no_progress, fresh);
  }
  if (*validate) return Validate(pipeline_path, sets);
  if (*query) return RunQuery(query_arguments, std::cout, std::cerr);
  if (*plugins) {
    const auto& registry = sluice::exec::BuiltinRegistry();
    std::string text = markdown ? PluginReferenceMarkdown(registry)
                       : list   ? PluginList(registry)
                                : PluginReferenceText(registry, plugin_name);
    if (text.empty()) {
      std::cerr << fmt::format("sluice: no plugin called '{}'\n  hint: {}\n", plugin_name,
                               sluice::SpellingHint(plugin_name, PluginNames(registry)));
      return kExitInvalidConfig;
    }
    std::cout << text;
    return kExitOk;
  }
  return kExitInvalidConfig;
}

#include "sluice/connectors/influxdb/influxdb_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/logging.h"
#include "sluice/connectors/common/batching_sink.h"
#include "sluice/connectors/influxdb/influxdb_options.h"
#include "sluice/connectors/influxdb/line_protocol.h"
#include "sluice/connectors/influxdb/point_writer.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::connectors {
namespace {

using influxdb::LineRenderer;
using influxdb::PointWriter;
using influxdb::SinkSettings;

/// Longest excerpt of a refused line quoted in its dead letter's reason.
constexpr size_t kLineExcerpt = 300;

/// Lines rendered and not yet written, with the rows they came from.
struct PendingLines {
  std::string text;
  /// Line i is text[ends[i-1], ends[i]).
  std::vector<int64_t> ends;
  /// The batch (index into `batches`) and row of each line, for dead letters.
  std::vector<std::pair<uint32_t, int64_t>> origins;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::chrono::steady_clock::time_point first;

  size_t num_lines() const { return ends.size(); }
  int64_t Begin(size_t line) const { return line == 0 ? 0 : ends[line - 1]; }
};

/// Writes each row as a point in line protocol to InfluxDB 1.x (/write) or 2.x (/api/v2/write).
/// Rows are rendered column by column (LineRenderer) and posted in requests of at most
/// batch_rows lines and batch_bytes bytes. Without checkpoints each batch is sent in Write(),
/// since the input is acknowledged after each batch; with checkpoints lines wait up to `linger`
/// for a request to fill, and PrepareCheckpoint() sends what waits. A line counts as written only
/// once the server answered 2xx; failed requests are retried (PointWriter), and lines the server
/// refuses become dead letters with its message while the rest is written. At-least-once:
/// points are idempotent, so what a restart writes again overwrites itself. Pipeline thread
/// only.
class InfluxDbSink final : public BatchingSink {
 public:
  InfluxDbSink(SinkSettings settings, std::string name, bool checkpoints,
               exec::DeadLetterQueue* dead_letters)
      : settings_(std::move(settings)),
        name_(std::move(name)),
        checkpoints_(checkpoints),
        dead_letters_(dead_letters),
        logger_(ComponentLogger(fmt::format("sink {}", name_))) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    auto renderer = LineRenderer::Make(settings_.layout, *schema);
    if (!renderer.ok()) return influxdb::PlaceLayoutError(settings_, renderer.status());
    renderer_ = std::move(*renderer);
    SLUICE_ASSIGN_OR_RAISE(auto client, HttpClient::Make(settings_.http));
    writer_ = std::make_unique<PointWriter>(settings_.endpoint, std::move(client), logger_);
    // An unreachable server fails the run before any input is read.
    SLUICE_RETURN_NOT_OK(writer_->Ping());
    logger_->info("writing to {} with fields {}", settings_.endpoint.Describe(),
                  fmt::join(renderer_->field_names(), ", "));
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (writer_ == nullptr) return Status::Invalid("influxdb sink: Write() before Open()");
    SLUICE_ASSIGN_OR_RAISE(influxdb::RenderedLines lines, renderer_->Render(*batch));
    for (auto& [row, reason] : lines.rejected) Reject(*batch, row, std::move(reason), {});
    if (lines.num_lines() > 0) {
      if (pending_.num_lines() == 0) pending_.first = std::chrono::steady_clock::now();
      auto batch_index = static_cast<uint32_t>(pending_.batches.size());
      pending_.batches.push_back(batch);
      int64_t offset = static_cast<int64_t>(pending_.text.size());
      pending_.text.append(lines.text);
      for (size_t i = 0; i < lines.num_lines(); ++i) {
        pending_.ends.push_back(offset + lines.ends[i]);
        pending_.origins.emplace_back(batch_index, lines.rows[i]);
      }
    }
    bool lingered = pending_.num_lines() > 0 &&
                    std::chrono::steady_clock::now() - pending_.first >= settings_.linger;
    return Send(/*all=*/!checkpoints_ || lingered);
  }

  Status Close() override {
    if (writer_ == nullptr) return Status::OK();
    SLUICE_RETURN_NOT_OK(Send(true));
    logger_->info("wrote {} point(s) in {} request(s); {} refused", points_written_,
                  writer_->requests(), points_refused_);
    return Status::OK();
  }

 protected:
  Status SendPending() override { return Send(true); }

 private:
  /// Sends the pending lines in requests of at most batch_rows lines and batch_bytes bytes:
  /// all of them, or (`all` false) only full requests, keeping the rest waiting.
  Status Send(bool all) {
    const size_t total = pending_.num_lines();
    size_t begin = 0;
    std::vector<std::string_view> views;
    while (begin < total) {
      const int64_t begin_offset = pending_.Begin(begin);
      size_t end = begin + 1;  // a line larger than batch_bytes goes alone
      while (end < total && static_cast<int64_t>(end - begin) < settings_.batch_rows &&
             pending_.ends[end] - begin_offset <= settings_.batch_bytes) {
        ++end;
      }
      bool full = static_cast<int64_t>(end - begin) >= settings_.batch_rows || end < total;
      if (!all && !full) break;
      const std::string_view text(pending_.text);
      views.clear();
      for (size_t line = begin; line < end; ++line) {
        int64_t start = pending_.Begin(line);
        views.push_back(text.substr(start, pending_.ends[line] - start));
      }
      std::string_view body = text.substr(begin_offset, pending_.ends[end - 1] - begin_offset);
      SLUICE_ASSIGN_OR_RAISE(auto refusals, writer_->Write(views, body));
      for (auto& refusal : refusals) {
        auto [batch_index, row] = pending_.origins[begin + refusal.line];
        Reject(*pending_.batches[batch_index], row, std::move(refusal.reason),
               views[refusal.line]);
      }
      points_written_ += static_cast<int64_t>(views.size() - refusals.size());
      points_refused_ += static_cast<int64_t>(refusals.size());
      begin = end;
    }
    Discard(begin);
    return Status::OK();
  }

  /// Drops the first `count` pending lines (sent).
  void Discard(size_t count) {
    if (count == 0) return;
    if (count == pending_.num_lines()) {
      pending_ = PendingLines();
      return;
    }
    int64_t offset = pending_.ends[count - 1];
    pending_.text.erase(0, static_cast<size_t>(offset));
    pending_.ends.erase(pending_.ends.begin(), pending_.ends.begin() + count);
    for (auto& end : pending_.ends) end -= offset;
    pending_.origins.erase(pending_.origins.begin(), pending_.origins.begin() + count);
    uint32_t first_batch = pending_.origins.front().first;
    pending_.batches.erase(pending_.batches.begin(), pending_.batches.begin() + first_batch);
    for (auto& origin : pending_.origins) origin.first -= first_batch;
    pending_.first = std::chrono::steady_clock::now();
  }

  void Reject(const arrow::RecordBatch& batch, int64_t row, std::string reason,
              std::string_view line) {
    if (dead_letters_ == nullptr) return;
    exec::DeadLetter letter;
    letter.reason = std::move(reason);
    if (!line.empty() && letter.reason.find("unable to parse") == std::string::npos) {
      if (line.back() == '\n') line.remove_suffix(1);
      letter.reason += fmt::format(" (line: {}{})", line.substr(0, kLineExcerpt),
                                   line.size() > kLineExcerpt ? "..." : "");
    }
    letter.stage = "sink:" + name_;
    letter.origin = fmt::format("row {}", row);
    letter.record = exec::RowToJson(batch, row);
    dead_letters_->Add(std::move(letter));
  }

  SinkSettings settings_;
  std::string name_;
  bool checkpoints_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<LineRenderer> renderer_;
  std::unique_ptr<PointWriter> writer_;
  PendingLines pending_;
  int64_t points_written_ = 0;
  int64_t points_refused_ = 0;
};

Result<std::unique_ptr<exec::Sink>> MakeInfluxDbSink(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  SLUICE_ASSIGN_OR_RAISE(SinkSettings settings, influxdb::SinkSettingsFromConfig(options));
  if (context.input_schema != nullptr) {
    // Checks the tags, fields and time against the stream now, so that `sluice validate`
    // reports them.
    auto renderer = LineRenderer::Make(settings.layout, *context.input_schema);
    if (!renderer.ok()) return influxdb::PlaceLayoutError(settings, renderer.status());
  }
  return std::make_unique<InfluxDbSink>(std::move(settings), context.name, context.checkpoints,
                                        context.dead_letters);
}

config::PluginSpec InfluxDbSinkSpec() {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "influxdb";
  spec.doc =
      "Writes each row as a point in line protocol to InfluxDB 1.x (/write: database, "
      "username/password) or 2.x (/api/v2/write: org, bucket, token): a measurement, tags, "
      "fields and a time. A request counts as written once the server answered 2xx; failed "
      "requests are retried with backoff (5xx, 429 with Retry-After, timeouts). Points the server "
      "refuses (a partial write: a type conflict, an unparseable line) are dead letters with its "
      "message, and the rest of the request is written; so are rows that make no point (null "
      "time, no field value). At-least-once: points are idempotent, so replays overwrite.";
  spec.options = influxdb::SinkOptionSpecs();
  spec.example =
      "sinks:\n"
      "  metrics:\n"
      "    connector: influxdb\n"
      "    url: http://127.0.0.1:8086\n"
      "    database: telemetry\n"
      "    measurement: cpu\n"
      "    tags: [host, region]\n"
      "    time: ts\n"
      "    precision: ms\n";
  return spec;
}

}  // namespace

void RegisterInfluxDbSink(exec::Registry* registry) {
  registry->AddSink(InfluxDbSinkSpec(), MakeInfluxDbSink);
}

}  // namespace sluice::connectors

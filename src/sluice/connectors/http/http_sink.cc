#include "sluice/connectors/http/http_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/connectors/common/batching_sink.h"
#include "sluice/connectors/http/http_sink_options.h"
#include "sluice/connectors/http/request_body.h"
#include "sluice/connectors/http/request_sender.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::connectors {
namespace {

using http::PendingRows;
using http::RequestSender;
using http::SinkSettings;

/// Sends rows to a URL in requests of at most batch.rows rows and batch.bytes bytes. Without
/// checkpoints, full requests are sent as rows come and the rest of each input batch once the
/// batch is done (Commit), since the input is acknowledged then; with checkpoints rows wait up
/// to `linger` for a request to fill, and PrepareCheckpoint() sends what waits. A row counts as
/// delivered once the server answered 2xx; a request answered with another 4xx makes each of
/// its rows a dead letter; one that keeps failing otherwise fails the run. At-least-once: a
/// request may arrive twice (an answer lost to a timeout), with the same Idempotency-Key.
/// Pipeline thread only.
class HttpSink final : public BatchingSink {
 public:
  HttpSink(SinkSettings settings, const exec::ConnectorContext& context)
      : settings_(std::move(settings)),
        name_(context.name),
        pipeline_name_(context.pipeline_name),
        checkpoints_(context.checkpoints),
        dead_letters_(context.dead_letters),
        logger_(ComponentLogger(fmt::format("sink {}", name_))) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    SLUICE_ASSIGN_OR_RAISE(pending_, PendingRows::Make(settings_.format, schema));
    SLUICE_ASSIGN_OR_RAISE(auto client, HttpClient::Make(settings_.http));
    sender_ = std::make_unique<RequestSender>(settings_, std::move(client), logger_);
    // Keys of different runs differ: a receiver must not take a new run's request for a
    // repeated one.
    auto now = std::chrono::system_clock::now().time_since_epoch();
    run_id_ = fmt::format("{:x}",
                          std::chrono::duration_cast<std::chrono::microseconds>(now).count());
    logger_->info("sending rows to {} ({} {})", UrlForMessages(settings_.url),
                  settings_.method, http::ContentType(settings_.format));
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (pending_ == nullptr) return Status::Invalid("http sink: Write() before Open()");
    if (pending_->num_rows() == 0) first_pending_ = std::chrono::steady_clock::now();
    SLUICE_RETURN_NOT_OK(pending_->Add(batch));
    bool lingered = checkpoints_ && pending_->num_rows() > 0 &&
                    std::chrono::steady_clock::now() - first_pending_ >= settings_.linger;
    return Send(/*all=*/lingered);
  }

  Status Close() override {
    if (sender_ == nullptr) return Status::OK();
    SLUICE_RETURN_NOT_OK(Send(true));
    logger_->info("delivered {} row(s) in {} request(s) ({} retried); {} refused", rows_delivered_,
                  sender_->requests() - sender_->retries(), sender_->retries(), rows_refused_);
    return Status::OK();
  }

 protected:
  Status SendPending() override { return Send(true); }

 private:
  /// Sends the pending rows: all of them, or (`all` false) only full requests.
  Status Send(bool all) {
    while (pending_ != nullptr && pending_->num_rows() > 0) {
      SLUICE_ASSIGN_OR_RAISE(http::RequestBody request,
                             pending_->Next(settings_.batch_rows, settings_.batch_bytes));
      if (!all && !request.full) break;
      std::string key = fmt::format("{}-{}-{}-{}", pipeline_name_, name_, run_id_, sequence_++);
      SLUICE_ASSIGN_OR_RAISE(http::Outcome outcome,
                             sender_->Send(request.body, key, request.num_rows));
      if (outcome.delivered) {
        rows_delivered_ += static_cast<int64_t>(request.num_rows);
      } else {
        Reject(request.num_rows, outcome);
      }
      pending_->Drop(request.num_rows);
    }
    return Status::OK();
  }

  /// The first `num_rows` pending rows become dead letters of a refused request.
  void Reject(size_t num_rows, const http::Outcome& outcome) {
    rows_refused_ += static_cast<int64_t>(num_rows);
    logger_->warn("{} refused a request of {} row(s): HTTP {}: {}",
                  UrlForMessages(settings_.url), num_rows, outcome.status, outcome.excerpt);
    if (dead_letters_ == nullptr) return;
    std::string reason = fmt::format("{} {} answered HTTP {}: {}", settings_.method,
                                     UrlForMessages(settings_.url), outcome.status,
                                     outcome.excerpt);
    for (size_t row = 0; row < num_rows; ++row) {
      exec::DeadLetter letter;
      letter.reason = reason;
      letter.stage = "sink:" + name_;
      letter.origin = fmt::format("request {}, row {}", sequence_ - 1, row);
      letter.record = pending_->RowRecord(row);
      dead_letters_->Add(std::move(letter));
    }
  }

  SinkSettings settings_;
  std::string name_;
  std::string pipeline_name_;
  bool checkpoints_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<PendingRows> pending_;
  std::unique_ptr<RequestSender> sender_;
  std::chrono::steady_clock::time_point first_pending_;
  std::string run_id_;
  int64_t sequence_ = 0;
  int64_t rows_delivered_ = 0;
  int64_t rows_refused_ = 0;
};

Result<std::unique_ptr<exec::Sink>> MakeHttpSink(const exec::ConnectorContext& context,
                                                 const config::Options& options) {
  SLUICE_ASSIGN_OR_RAISE(SinkSettings settings, http::SinkSettingsFromConfig(options));
  return std::make_unique<HttpSink>(std::move(settings), context);
}

config::PluginSpec HttpSinkSpec() {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "http";
  spec.doc =
      "Sends rows to a URL (webhooks, REST APIs) in requests of at most batch.rows rows and "
      "batch.bytes bytes, as a JSON array, JSON lines, CSV or an Arrow IPC stream. A request "
      "counts as delivered once answered 2xx; no answer, a timeout, 408, 429 and 5xx are retried "
      "with exponential backoff (Retry-After honoured) and fail the run after max_attempts; any "
      "other answer makes each row of the request a dead letter with the status and the start "
      "of the answer. At-least-once: a request may arrive twice; each carries an "
      "Idempotency-Key header, the same for its retries.";
  spec.options = http::SinkOptionSpecs();
  spec.example =
      "sinks:\n"
      "  hook:\n"
      "    connector: http\n"
      "    url: https://api.example.com/v1/events\n"
      "    format: jsonl\n"
      "    headers: {X-Source: sluice}\n"
      "    auth: {bearer_token: \"${API_TOKEN}\"}\n"
      "    batch: {rows: 500, bytes: 1MB}\n"
      "    retry: {max_attempts: 5, initial_backoff: 200ms, max_backoff: 30s}\n";
  return spec;
}

}  // namespace

void RegisterHttpSink(exec::Registry* registry) {
  registry->AddSink(HttpSinkSpec(), MakeHttpSink);
}

}  // namespace sluice::connectors

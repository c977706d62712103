#include "sluice/connectors/http/http_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

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
/// to `linger` for a request to fill, and PrepareCheckpoint() sends what waits. Up to
/// max_in_flight requests are sent at once, each from its own thread over its own connection,
/// and the pipeline thread waits for all of them. A row counts as
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
    for (int64_t i = 0; i < settings_.max_in_flight; ++i) {
      SLUICE_ASSIGN_OR_RAISE(auto client, HttpClient::Make(settings_.http));
      senders_.push_back(std::make_unique<RequestSender>(settings_, std::move(client), logger_));
    }
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
    if (senders_.empty()) return Status::OK();
    SLUICE_RETURN_NOT_OK(Send(true));
    int64_t requests = 0;
    int64_t retries = 0;
    for (const auto& sender : senders_) {
      requests += sender->requests();
      retries += sender->retries();
    }
    logger_->info("delivered {} row(s) in {} request(s) ({} retried); {} refused", rows_delivered_,
                  requests - retries, retries, rows_refused_);
    return Status::OK();
  }

 protected:
  Status SendPending() override { return Send(true); }

 private:
  /// Sends the pending rows: all of them, or (`all` false) only full requests. Up to
  /// max_in_flight requests go at once, one per connection; the next ones wait for all of them.
  Status Send(bool all) {
    while (pending_ != nullptr && pending_->num_rows() > 0) {
      std::vector<http::RequestBody> wave;
      size_t end = 0;
      while (end < pending_->num_rows() && wave.size() < senders_.size()) {
        SLUICE_ASSIGN_OR_RAISE(http::RequestBody request,
                               pending_->Next(end, settings_.batch_rows, settings_.batch_bytes));
        if (!all && !request.full) break;
        end += request.num_rows;
        wave.push_back(std::move(request));
      }
      if (wave.empty()) break;
      const int64_t first_sequence = sequence_;
      sequence_ += static_cast<int64_t>(wave.size());
      std::vector<http::Outcome> outcomes(wave.size());
      std::vector<Status> errors(wave.size());
      auto send = [&](size_t i) {
        std::string key = fmt::format("{}-{}-{}-{}", pipeline_name_, name_, run_id_,
                                      first_sequence + static_cast<int64_t>(i));
        auto outcome = senders_[i]->Send(wave[i].body, key, wave[i].num_rows);
        if (outcome.ok()) {
          outcomes[i] = std::move(*outcome);
        } else {
          errors[i] = outcome.status();
        }
      };
      std::vector<std::thread> threads;
      for (size_t i = 1; i < wave.size(); ++i) {
        try {
          threads.emplace_back(send, i);
        } catch (const std::system_error&) {
          send(i);  // no thread to be had: this request goes on its own
        }
      }
      send(0);
      for (auto& thread : threads) thread.join();
      for (const Status& error : errors) SLUICE_RETURN_NOT_OK(error);
      for (size_t i = 0; i < wave.size(); ++i) {
        if (outcomes[i].delivered) {
          rows_delivered_ += static_cast<int64_t>(wave[i].num_rows);
        } else {
          Reject(wave[i], first_sequence + static_cast<int64_t>(i), outcomes[i]);
        }
      }
      pending_->Drop(end);
    }
    return Status::OK();
  }

  /// The rows of a refused request (number `sequence`) become dead letters.
  void Reject(const http::RequestBody& request, int64_t sequence, const http::Outcome& outcome) {
    rows_refused_ += static_cast<int64_t>(request.num_rows);
    logger_->warn("{} refused a request of {} row(s): HTTP {}: {}",
                  UrlForMessages(settings_.url), request.num_rows, outcome.status,
                  outcome.excerpt);
    if (dead_letters_ == nullptr) return;
    std::string reason = fmt::format("{} {} answered HTTP {}: {}", settings_.method,
                                     UrlForMessages(settings_.url), outcome.status,
                                     outcome.excerpt);
    for (size_t row = 0; row < request.num_rows; ++row) {
      exec::DeadLetter letter;
      letter.reason = reason;
      letter.stage = "sink:" + name_;
      letter.origin = fmt::format("request {}, row {}", sequence, row);
      letter.record = pending_->RowRecord(request.begin + row);
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
  /// One per request in flight, each with its own connection.
  std::vector<std::unique_ptr<RequestSender>> senders_;
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

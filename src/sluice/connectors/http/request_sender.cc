#include "sluice/connectors/http/request_sender.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "sluice/common/duration.h"

namespace sluice::connectors::http {

Verdict Judge(int status) {
  if (status >= 200 && status < 300) return Verdict::kDelivered;
  if (status == 408 || status == 429 || status >= 500) return Verdict::kRetry;
  return Verdict::kReject;
}

std::chrono::milliseconds RetryWait(const RetryPolicy& policy, int64_t attempt,
                                    std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after.has_value()) return std::min(*retry_after, policy.max_backoff);
  std::chrono::milliseconds wait = policy.initial_backoff;
  for (int64_t i = 1; i < attempt && wait < policy.max_backoff; ++i) wait *= 2;
  return std::min(wait, policy.max_backoff);
}

std::string Excerpt(std::string_view body, size_t limit) {
  bool cut = body.size() > limit;
  if (cut) {
    // Not in the middle of a UTF-8 sequence: back to the start of the character cut in two.
    size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) --end;
    body = body.substr(0, end);
  }
  std::string text(body);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  if (cut) text += "...";
  return text;
}

RequestSender::RequestSender(const SinkSettings& settings, std::unique_ptr<HttpClient> client,
                             std::shared_ptr<spdlog::logger> logger)
    : settings_(settings),
      client_(std::move(client)),
      logger_(std::move(logger)),
      secrets_(settings.Secrets()) {}

Result<Outcome> RequestSender::Send(std::string_view body, std::string_view key,
                                    size_t num_rows) {
  HttpRequest request;
  request.url = settings_.url;
  request.timeout = settings_.timeout;
  request.body = body;
  request.headers.emplace_back("Content-Type", ContentType(settings_.format));
  for (const auto& header : settings_.headers) request.headers.push_back(header);
  if (!settings_.bearer_token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + settings_.bearer_token);
  }
  request.headers.emplace_back("Idempotency-Key", std::string(key));
  request.username = settings_.username;
  request.password = settings_.password;
  const std::string where = UrlForMessages(settings_.url);
  for (int64_t attempt = 1;; ++attempt) {
    ++requests_;
    auto response = client_->Send(settings_.method, request);
    std::string reason;
    std::optional<std::chrono::milliseconds> retry_after;
    if (!response.ok()) {
      // The client's message starts with the method and URL, which the error gives once.
      reason = response.status().message();
      std::string prefix = fmt::format("{} {}: ", settings_.method, where);
      if (reason.rfind(prefix, 0) == 0) reason.erase(0, prefix.size());
    } else {
      Verdict verdict = Judge(response->status);
      if (verdict != Verdict::kRetry) {
        Outcome outcome;
        outcome.delivered = verdict == Verdict::kDelivered;
        outcome.status = response->status;
        if (!outcome.delivered) outcome.excerpt = Redact(Excerpt(response->body, 300), secrets_);
        return outcome;
      }
      reason = fmt::format("HTTP {}: {}", response->status, Excerpt(response->body, 300));
      retry_after = response->RetryAfter();
    }
    reason = Redact(std::move(reason), secrets_);
    if (attempt >= settings_.retry.max_attempts) {
      return Status::IOError(fmt::format("{} {}: cannot deliver {} row(s) after {} attempt(s): {}",
                                         settings_.method, where, num_rows, attempt, reason));
    }
    std::chrono::milliseconds wait = RetryWait(settings_.retry, attempt, retry_after);
    logger_->warn("{} {} failed ({}); attempt {} of {} in {}", settings_.method, where, reason,
                  attempt + 1, settings_.retry.max_attempts, FormatDuration(wait));
    ++retries_;
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace sluice::connectors::http

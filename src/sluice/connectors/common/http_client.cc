#include "sluice/connectors/common/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <mutex>

namespace sluice::connectors {
namespace {

/// curl_global_init is not thread-safe; every client calls it through here, once.
Status InitializeCurl() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return Status::IOError("cannot initialise libcurl: ", curl_easy_strerror(code));
  }
  return Status::OK();
}

struct BodySink {
  std::string* body;
  size_t limit;
};

size_t KeepBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t bytes = size * count;
  if (sink->body->size() < sink->limit) {
    sink->body->append(data, std::min(bytes, sink->limit - sink->body->size()));
  }
  return bytes;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

/// Frees a header list when it goes out of scope.
struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  bool Add(const std::string& line) {
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (grown == nullptr) return false;
    list = grown;
    return true;
  }
};

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::chrono::milliseconds> HttpResponse::RetryAfter() const {
  std::string_view value = Header("retry-after");
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::milliseconds(std::min<int64_t>(seconds, 86400) * 1000);
  }
  time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  time_t now = std::time(nullptr);
  return std::chrono::milliseconds(std::max<int64_t>(0, when - now) * 1000);
}

std::string UrlForMessages(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  size_t scheme = url.find("://");
  size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', start);
  size_t at = url.rfind('@', slash == std::string_view::npos ? url.size() : slash);
  if (at != std::string_view::npos && at >= start) {
    return std::string(url.substr(0, start)) + std::string(url.substr(at + 1));
  }
  return std::string(url);
}

std::string UrlEncode(std::string_view text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) return std::string(text);
  std::string result(escaped);
  curl_free(escaped);
  return result;
}

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

HttpClient::HttpClient(HttpClientSettings settings) : settings_(std::move(settings)) {}

HttpClient::~HttpClient() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

Result<std::unique_ptr<HttpClient>> HttpClient::Make(HttpClientSettings settings) {
  SLUICE_RETURN_NOT_OK(InitializeCurl());
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(settings)));
  client->handle_ = curl_easy_init();
  if (client->handle_ == nullptr) return Status::IOError("cannot create a libcurl handle");
  return client;
}

Result<HttpResponse> HttpClient::Post(const HttpRequest& request) { return Send("POST", request); }

Result<HttpResponse> HttpClient::Get(const HttpRequest& request) { return Send("GET", request); }

Result<HttpResponse> HttpClient::Send(std::string_view method, const HttpRequest& request) {
  const bool with_body = method == "POST" || method == "PUT";
  const std::string method_text(method);
  CURL* curl = static_cast<CURL*>(handle_);
  curl_easy_reset(curl);  // keeps the connection cache
  HttpResponse response;
  BodySink body{&response.body, settings_.body_excerpt};
  char error[CURL_ERROR_SIZE] = {0};
  HeaderList headers;
  for (const auto& [name, value] : request.headers) {
    if (!headers.Add(name + ": " + value)) return Status::OutOfMemory("HTTP header list");
  }
  // Without this, libcurl waits for "100 Continue" before sending a large body.
  if (with_body && !headers.Add("Expect:")) return Status::OutOfMemory("HTTP header list");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice");
  if (with_body) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    // Never null: libcurl would then read the body from a read callback.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  if (method != "POST" && method != "GET" && method != "HEAD") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.password.c_str());
  } else if (!request.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.password.c_str());
  }
  const TlsSettings& tls = settings_.tls;
  if (!tls.ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca.c_str());
  if (!tls.cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.cert.c_str());
  if (!tls.key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    return Status::IOError(fmt::format("{} {}: {}", method, UrlForMessages(request.url),
                                       error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  curl_header* previous = nullptr;
  while (curl_header* header = curl_easy_nextheader(curl, CURLH_HEADER, -1, previous)) {
    response.headers[Lower(header->name)] = header->value;
    previous = header;
  }
  return response;
}

}  // namespace sluice::connectors

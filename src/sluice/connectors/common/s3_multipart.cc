#include "sluice/connectors/common/s3_multipart.h"

#include <expat.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

namespace sluice::connectors {
namespace {

constexpr std::chrono::milliseconds kFirstPause{100};

/// One element of an XML answer: its path from the root ("Error/Code") and its text.
struct XmlElement {
  std::string path;
  std::string text;
};

struct XmlState {
  std::string path;
  std::string text;
  std::vector<XmlElement> elements;
};

void XMLCALL StartElement(void* user, const XML_Char* name, const XML_Char**) {
  auto* state = static_cast<XmlState*>(user);
  if (!state->path.empty()) state->path += '/';
  state->path += name;
  state->text.clear();
}

void XMLCALL EndElement(void* user, const XML_Char*) {
  auto* state = static_cast<XmlState*>(user);
  state->elements.push_back(XmlElement{state->path, std::move(state->text)});
  state->text.clear();
  const size_t slash = state->path.rfind('/');
  state->path.erase(slash == std::string::npos ? 0 : slash);
}

void XMLCALL Characters(void* user, const XML_Char* text, int length) {
  static_cast<XmlState*>(user)->text.append(text, static_cast<size_t>(length));
}

/// Every element of `xml` in document order (each with the text directly inside it), with
/// libexpat; an error for text that is not well-formed XML.
Result<std::vector<XmlElement>> ParseXml(std::string_view xml) {
  XML_Parser parser = XML_ParserCreate("UTF-8");
  if (parser == nullptr) return Status::OutOfMemory("XML parser");
  XmlState state;
  XML_SetUserData(parser, &state);
  XML_SetElementHandler(parser, StartElement, EndElement);
  XML_SetCharacterDataHandler(parser, Characters);
  const bool parsed = XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1) != 0;
  std::string error = parsed ? std::string() : XML_ErrorString(XML_GetErrorCode(parser));
  XML_ParserFree(parser);
  if (!parsed) return Status::IOError("the answer is not XML (", error, ")");
  return std::move(state.elements);
}

/// The text of the first element at `path`, or empty.
std::string TextAt(const std::vector<XmlElement>& elements, std::string_view path) {
  for (const auto& element : elements) {
    if (element.path == path) return element.text;
  }
  return {};
}

/// `text` as a URI path or query value: unreserved characters kept, and '/' too when
/// `keep_slash`, everything else %XX (as Signature Version 4 encodes).
std::string UriEncoded(std::string_view text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Hex(const unsigned char* bytes, unsigned int length) {
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", bytes[i]);
  return hex;
}

/// The SHA-256 of `bytes` in hex, which Signature Version 4 signs as the payload's hash.
Result<std::string> PayloadHash(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return Status::IOError("cannot compute the SHA-256 of a request");
  }
  return Hex(digest, length);
}

/// The ETag S3 gives an object completed from `parts` whose ETags are the MD5 of their bytes:
/// the MD5 of those digests one after the other, a dash and the number of parts (quoted, as
/// the store quotes it); nullopt when a part's ETag is not an MD5 (encrypted with a key of the
/// store's, or another store's scheme).
std::optional<std::string> MultipartETag(const std::vector<UploadedPart>& parts) {
  std::string digests;
  for (const auto& part : parts) {
    std::string_view hex = part.etag;
    if (hex.size() == 34 && hex.front() == '"' && hex.back() == '"') hex = hex.substr(1, 32);
    if (hex.size() != 32) return std::nullopt;
    for (size_t i = 0; i < hex.size(); i += 2) {
      unsigned value = 0;
      auto [end, error] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
      if (error != std::errc() || end != hex.data() + i + 2) return std::nullopt;
      digests += static_cast<char>(value);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(digests.data(), digests.size(), digest, &length, EVP_md5(), nullptr) != 1) {
    return std::nullopt;
  }
  return fmt::format("\"{}-{}\"", Hex(digest, length), parts.size());
}

bool WorthRetrying(int status) { return status == 500 || status == 503 || status == 429; }

std::string XmlEscaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, std::string>> SplitS3Uri(std::string_view uri) {
  constexpr std::string_view kScheme = "s3://";
  if (!uri.starts_with(kScheme)) return Status::Invalid("'", uri, "' is not an s3:// URI");
  std::string_view rest = uri.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size()) {
    return Status::Invalid("'", uri, "' names no object (s3://bucket/key)");
  }
  return std::make_pair(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)));
}

S3MultipartClient::S3MultipartClient(std::string bucket, S3Settings settings,
                                     std::unique_ptr<HttpClient> http)
    : bucket_(std::move(bucket)), settings_(std::move(settings)), http_(std::move(http)) {}

Result<std::unique_ptr<S3MultipartClient>> S3MultipartClient::Make(const std::string& bucket) {
  S3Settings settings = EffectiveS3Settings();
  if (settings.access_key_id.empty() || settings.secret_access_key.empty()) {
    return Status::Invalid(
        "writing part files to S3 needs an access key: set storage.s3.access_key_id and "
        "secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (profile files and "
        "instance roles are not read for part files)");
  }
  while (!settings.endpoint.empty() && settings.endpoint.back() == '/') {
    settings.endpoint.pop_back();
  }
  if (!settings.endpoint.empty() && settings.endpoint.find("://") == std::string::npos) {
    settings.endpoint = "https://" + settings.endpoint;
  }
  if (!settings.path_style.has_value()) settings.path_style = !settings.endpoint.empty();
  HttpClientSettings http_settings;
  http_settings.body_excerpt = 8 << 20;  // a page of 1000 uploads is well below this
  SLUICE_ASSIGN_OR_RAISE(auto http, HttpClient::Make(std::move(http_settings)));
  return std::unique_ptr<S3MultipartClient>(
      new S3MultipartClient(bucket, std::move(settings), std::move(http)));
}

std::string S3MultipartClient::Url(const std::string& key, const std::string& query) const {
  std::string url;
  const std::string path = key.empty() ? std::string() : UriEncoded(key, /*keep_slash=*/true);
  if (settings_.endpoint.empty()) {
    url = *settings_.path_style
              ? fmt::format("https://s3.{}.amazonaws.com/{}/{}", settings_.region, bucket_, path)
              : fmt::format("https://{}.s3.{}.amazonaws.com/{}", bucket_, settings_.region, path);
  } else if (*settings_.path_style) {
    url = fmt::format("{}/{}/{}", settings_.endpoint, bucket_, path);
  } else {
    const size_t host = settings_.endpoint.find("://") + 3;
    url = fmt::format("{}{}.{}/{}", settings_.endpoint.substr(0, host), bucket_,
                      settings_.endpoint.substr(host), path);
  }
  if (!query.empty()) url += "?" + query;
  return url;
}

Result<HttpResponse> S3MultipartClient::Send(
    std::string_view method, const std::string& key, const std::string& query,
    std::string_view body, std::vector<std::pair<std::string, std::string>> headers,
    int attempts) {
  HttpRequest request;
  request.url = Url(key, query);
  request.body = body;
  request.timeout = std::chrono::minutes(2);
  request.username = settings_.access_key_id;
  request.password = settings_.secret_access_key;
  request.aws_sigv4 = fmt::format("aws:amz:{}:s3", settings_.region);
  SLUICE_ASSIGN_OR_RAISE(std::string hash, PayloadHash(body));
  headers.emplace_back("x-amz-content-sha256", std::move(hash));
  request.headers = std::move(headers);
  const std::vector<std::string> secrets = {settings_.secret_access_key};
  std::lock_guard lock(mutex_);
  auto pause = kFirstPause;
  for (int attempt = 1;; ++attempt) {
    auto response = http_->Send(method, request);
    const bool last = attempt >= attempts;
    if (response.ok() && (!WorthRetrying(response->status) || last)) return response;
    if (!response.ok() && last) {
      return Status::IOError(Redact(fmt::format("cannot reach S3 for s3://{}/{}: {}", bucket_,
                                                key, response.status().message()),
                                    secrets));
    }
    std::this_thread::sleep_for(pause);
    pause *= 4;
  }
}

Status S3MultipartClient::Failed(std::string_view method, const std::string& key,
                                 const HttpResponse& response) const {
  std::string what = fmt::format("HTTP {}", response.status);
  if (auto elements = ParseXml(response.body); elements.ok()) {
    const std::string code = TextAt(*elements, "Error/Code");
    const std::string message = TextAt(*elements, "Error/Message");
    if (!code.empty()) what = message.empty() ? code : fmt::format("{}: {}", code, message);
  }
  return Status::IOError(Redact(
      fmt::format("S3 {} s3://{}/{}: {}", method, bucket_, key, what),
      {settings_.secret_access_key}));
}

Result<std::string> S3MultipartClient::Create(const std::string& key) {
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response,
                         Send("POST", key, "uploads=", {},
                              {{"Content-Type", "application/octet-stream"}}));
  if (!response.ok()) return Failed("CreateMultipartUpload", key, response);
  SLUICE_ASSIGN_OR_RAISE(auto elements, ParseXml(response.body));
  std::string upload_id = TextAt(elements, "InitiateMultipartUploadResult/UploadId");
  if (upload_id.empty()) {
    return Status::IOError(
        fmt::format("S3 CreateMultipartUpload s3://{}/{}: the answer holds no upload id",
                    bucket_, key));
  }
  return upload_id;
}

Result<UploadedPart> S3MultipartClient::UploadPart(const std::string& key,
                                                   const std::string& upload_id, int number,
                                                   std::string_view bytes) {
  const std::string query = fmt::format("partNumber={}&uploadId={}", number,
                                        UriEncoded(upload_id, /*keep_slash=*/false));
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response, Send("PUT", key, query, bytes));
  if (!response.ok()) return Failed(fmt::format("UploadPart {}", number), key, response);
  std::string etag(response.Header("etag"));
  if (etag.empty()) {
    return Status::IOError(fmt::format(
        "S3 UploadPart {} s3://{}/{}: the answer holds no ETag", number, bucket_, key));
  }
  return UploadedPart{number, std::move(etag)};
}

Result<std::pair<int64_t, std::string>> S3MultipartClient::ObjectSizeAndETag(
    const std::string& key) {
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response, Send("HEAD", key, {}, {}));
  if (response.status == 404) return std::make_pair(int64_t{-1}, std::string());
  if (!response.ok()) return Failed("HeadObject", key, response);
  std::string_view length = response.Header("content-length");
  int64_t size = -1;
  auto [end, error] = std::from_chars(length.data(), length.data() + length.size(), size);
  if (error != std::errc() || end != length.data() + length.size()) {
    return Status::IOError(
        fmt::format("S3 HeadObject s3://{}/{}: no Content-Length in the answer", bucket_, key));
  }
  return std::make_pair(size, std::string(response.Header("etag")));
}

Status S3MultipartClient::CheckCompleted(const std::string& key, int64_t expected_size,
                                         const std::string& expected_etag,
                                         std::string_view why) {
  SLUICE_ASSIGN_OR_RAISE(auto size_and_etag, ObjectSizeAndETag(key));
  const auto& [size, etag] = size_and_etag;
  std::string differs;
  if (size < 0) {
    differs = "is not there";
  } else if (size != expected_size) {
    differs = fmt::format("has {} bytes, not {}", size, expected_size);
  } else if (!expected_etag.empty() && !etag.empty() && etag != expected_etag) {
    differs = fmt::format("has the ETag {}, not {}", etag, expected_etag);
  } else {
    return Status::OK();
  }
  return Status::IOError(fmt::format("S3 CompleteMultipartUpload s3://{}/{}: {} and the object {}",
                                     bucket_, key, why, differs));
}

Status S3MultipartClient::Complete(const std::string& key, const std::string& upload_id,
                                   const std::vector<UploadedPart>& parts,
                                   int64_t expected_size) {
  std::string body = "<CompleteMultipartUpload>";
  for (const auto& part : parts) {
    body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part.number,
                        XmlEscaped(part.etag));
  }
  body += "</CompleteMultipartUpload>";
  const std::string query = "uploadId=" + UriEncoded(upload_id, /*keep_slash=*/false);
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response,
                         Send("POST", key, query, body, {{"Content-Type", "application/xml"}}));
  std::string code;
  if (response.ok()) {
    // S3 may answer 200 and still fail, with an Error document in the body.
    SLUICE_ASSIGN_OR_RAISE(auto elements, ParseXml(response.body));
    code = TextAt(elements, "Error/Code");
    if (code.empty()) {
      // The object must now be there as the store says it made it. (Some stores answer 200
      // even to an upload id they do not know, versitygw among them.)
      return CheckCompleted(key, expected_size,
                            TextAt(elements, "CompleteMultipartUploadResult/ETag"),
                            "the upload was completed");
    }
  } else if (auto elements = ParseXml(response.body); elements.ok()) {
    code = TextAt(*elements, "Error/Code");
  }
  // Completed by an earlier commit of the same checkpoint (recovery repeats it), when the
  // object is there as the parts make it.
  if (code == "NoSuchUpload") {
    return CheckCompleted(key, expected_size, MultipartETag(parts).value_or(""),
                          "the upload is gone (its parts lost, or completed before)");
  }
  return Failed("CompleteMultipartUpload", key, response);
}

Status S3MultipartClient::Abort(const std::string& key, const std::string& upload_id,
                                bool retry) {
  const std::string query = "uploadId=" + UriEncoded(upload_id, /*keep_slash=*/false);
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response,
                         Send("DELETE", key, query, {}, {}, retry ? kAttempts : 1));
  if (response.ok() || response.status == 404) return Status::OK();
  return Failed("AbortMultipartUpload", key, response);
}

Result<std::vector<InProgressUpload>> S3MultipartClient::ListUploads(const std::string& prefix) {
  std::vector<InProgressUpload> uploads;
  std::string key_marker;
  std::string upload_id_marker;
  for (;;) {
    // Parameters in sorted order, as the signature's canonical query wants them.
    std::string query;
    if (!key_marker.empty()) query += "key-marker=" + UriEncoded(key_marker, false) + "&";
    query += "prefix=" + UriEncoded(prefix, false) + "&";
    if (!upload_id_marker.empty()) {
      query += "upload-id-marker=" + UriEncoded(upload_id_marker, false) + "&";
    }
    query += "uploads=";
    SLUICE_ASSIGN_OR_RAISE(HttpResponse response, Send("GET", {}, query, {}));
    if (!response.ok()) return Failed("ListMultipartUploads", prefix, response);
    SLUICE_ASSIGN_OR_RAISE(auto elements, ParseXml(response.body));
    InProgressUpload upload;
    for (const auto& element : elements) {
      if (element.path == "ListMultipartUploadsResult/Upload/Key") {
        upload.key = element.text;
      } else if (element.path == "ListMultipartUploadsResult/Upload/UploadId") {
        upload.upload_id = element.text;
      } else if (element.path == "ListMultipartUploadsResult/Upload") {
        if (!upload.key.empty() && !upload.upload_id.empty()) uploads.push_back(upload);
        upload = InProgressUpload{};
      }
    }
    if (TextAt(elements, "ListMultipartUploadsResult/IsTruncated") != "true") return uploads;
    key_marker = TextAt(elements, "ListMultipartUploadsResult/NextKeyMarker");
    upload_id_marker = TextAt(elements, "ListMultipartUploadsResult/NextUploadIdMarker");
    if (key_marker.empty() && upload_id_marker.empty()) return uploads;
  }
}

}  // namespace sluice::connectors

#include "sluice/common/file_system.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/filesystem/localfs.h>
#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

namespace sluice {
namespace {

struct S3State {
  std::mutex mutex;
  S3Settings settings;
  bool initialized = false;
  /// The filesystem made with `made_with`, reused while the settings stay the same.
  std::shared_ptr<arrow::fs::FileSystem> filesystem;
  S3Settings made_with;
};

S3State& State() {
  static auto* state = new S3State();  // never destroyed: used from the exit handler
  return *state;
}

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

/// The settings with the AWS environment filling what the pipeline left out.
S3Settings WithEnvironment(S3Settings settings) {
  if (settings.endpoint.empty()) settings.endpoint = Environment("AWS_ENDPOINT_URL_S3");
  if (settings.endpoint.empty()) settings.endpoint = Environment("AWS_ENDPOINT_URL");
  if (settings.region.empty()) settings.region = Environment("AWS_REGION");
  if (settings.region.empty()) settings.region = Environment("AWS_DEFAULT_REGION");
  if (settings.region.empty()) settings.region = "us-east-1";
  if (settings.access_key_id.empty() && settings.secret_access_key.empty()) {
    settings.access_key_id = Environment("AWS_ACCESS_KEY_ID");
    settings.secret_access_key = Environment("AWS_SECRET_ACCESS_KEY");
  }
  return settings;
}

/// `text` with the characters a URI component may not hold as %XX.
std::string PercentEncoded(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

/// `message` with every form of `secret` replaced, for errors that might quote it.
std::string Redacted(std::string message, const std::string& secret) {
  for (const std::string& form : {secret, PercentEncoded(secret)}) {
    if (form.empty()) continue;
    for (size_t at = message.find(form); at != std::string::npos; at = message.find(form, at))
      message.replace(at, form.size(), "***");
  }
  return message;
}

/// The S3 client lives in a module of its own beside libarrow, loaded once; its filesystems
/// are made through Arrow's URI factory, so that Sluice links nothing of it.
Status LoadS3Module() {
  static const arrow::Status loaded = arrow::fs::LoadFileSystemFactories("libarrow_s3.so.2600");
  if (!loaded.ok()) {
    return Status::IOError(
        fmt::format("the S3 client (libarrow_s3) cannot be loaded: {}", loaded.message()));
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::fs::FileSystem>> S3FileSystem(const std::string& bucket) {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  const S3Settings settings = WithEnvironment(state.settings);
  if (state.filesystem != nullptr && state.made_with == settings) return state.filesystem;
  std::string endpoint = settings.endpoint;
  std::string scheme = "https";
  for (const char* candidate : {"http", "https"}) {
    const std::string prefix = std::string(candidate) + "://";
    if (endpoint.rfind(prefix, 0) == 0) {
      scheme = candidate;
      endpoint.erase(0, prefix.size());
    }
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  // Arrow addresses buckets by path with an endpoint and by virtual host without one.
  if (settings.path_style.has_value() && *settings.path_style == endpoint.empty()) {
    return Status::Invalid(fmt::format(
        "storage.s3.path_style: {} is not supported {} an endpoint; leave path_style out",
        *settings.path_style, endpoint.empty() ? "without" : "with"));
  }
  SLUICE_RETURN_NOT_OK(LoadS3Module());
  // Any bucket will do: the filesystem serves them all.
  std::string uri = "s3://";
  if (!settings.access_key_id.empty() || !settings.secret_access_key.empty()) {
    uri += PercentEncoded(settings.access_key_id) + ":" +
           PercentEncoded(settings.secret_access_key) + "@";
  }
  uri += PercentEncoded(bucket) + "?region=" + PercentEncoded(settings.region);
  if (!endpoint.empty()) {
    uri += "&scheme=" + scheme + "&endpoint_override=" + PercentEncoded(endpoint);
  }
  std::string ignored;
  auto made = arrow::fs::FileSystemFromUri(uri, &ignored);
  if (!made.ok()) {
    return Status::IOError(Redacted(
        fmt::format("cannot reach S3{}: {}",
                    endpoint.empty() ? "" : " at " + settings.endpoint, made.status().message()),
        settings.secret_access_key));
  }
  state.filesystem = *std::move(made);
  state.made_with = settings;
  if (!state.initialized) {
    // Registered after the S3 client's own statics (made by the first filesystem), so that it
    // runs before they are destroyed.
    state.initialized = true;
    std::atexit(FinalizeFileSystems);
  }
  return state.filesystem;
}

}  // namespace

S3Settings EffectiveS3Settings() {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  return WithEnvironment(state.settings);
}

void SetS3Settings(const S3Settings& settings) {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  state.settings = settings;
}

bool IsUri(std::string_view path) {
  const size_t colon = path.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  return std::all_of(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

Result<FileLocation> ResolveUri(const std::string& uri) {
  if (!IsUri(uri)) return Status::Invalid(fmt::format("'{}' is not a URI", uri));
  FileLocation location;
  location.scheme = uri.substr(0, uri.find("://"));
  std::transform(location.scheme.begin(), location.scheme.end(), location.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string rest = uri.substr(location.scheme.size() + 3);
  if (location.scheme == "s3") {
    // A ? is a wildcard of a glob here, not a query; user:secret@ is not taken from a path.
    if (rest.substr(0, rest.find('/')).find('@') != std::string::npos) {
      return Status::Invalid(fmt::format(
          "'{}': an s3:// URI is s3://bucket/key; give the endpoint, region and credentials in "
          "storage: {{s3: ...}} or the AWS environment",
          uri));
    }
    if (rest.empty() || rest.front() == '/') {
      return Status::Invalid(fmt::format("'{}' names no bucket (s3://bucket/key)", uri));
    }
    SLUICE_ASSIGN_OR_RAISE(location.filesystem, S3FileSystem(rest.substr(0, rest.find('/'))));
    location.path = rest;
    return location;
  }
  if (location.scheme == "file") {
    if (rest.empty() || rest.front() != '/') {
      return Status::Invalid(
          fmt::format("'{}': a file:// URI needs an absolute path (file:///data/x.csv)", uri));
    }
    location.filesystem = std::make_shared<arrow::fs::LocalFileSystem>();
    location.path = rest;
    return location;
  }
  std::string path;
  auto filesystem = arrow::fs::FileSystemFromUri(uri, &path);
  if (!filesystem.ok()) {
    return Status::Invalid(fmt::format("'{}': unsupported URI ({}); use s3://, file:// or a path",
                                       uri, filesystem.status().message()));
  }
  location.filesystem = *std::move(filesystem);
  location.path = std::move(path);
  return location;
}

Result<std::vector<std::string>> ExpandUriPattern(const std::string& pattern,
                                                  FileLocation* location,
                                                  std::vector<arrow::fs::FileInfo>* infos) {
  SLUICE_ASSIGN_OR_RAISE(*location, ResolveUri(pattern));
  const std::string& path = location->path;
  auto& filesystem = *location->filesystem;
  const std::string prefix = location->scheme + "://";
  auto failed = [&](const arrow::Status& error) {
    return Status::IOError(fmt::format("cannot list '{}': {}", pattern, error.message()));
  };
  infos->clear();
  const size_t wildcard = path.find_first_of("*?[");
  if (wildcard == std::string::npos) {
    auto info = filesystem.GetFileInfo(path);
    if (!info.ok()) return failed(info.status());
    if (info->type() == arrow::fs::FileType::File) infos->push_back(*std::move(info));
  } else {
    const size_t slash = path.rfind('/', wildcard);
    arrow::fs::FileSelector selector;
    selector.base_dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
    selector.recursive = path.find('/', wildcard) != std::string::npos;
    selector.allow_not_found = true;
    auto listed = filesystem.GetFileInfo(selector);
    if (!listed.ok()) return failed(listed.status());
    for (auto& info : *listed) {
      if (info.type() != arrow::fs::FileType::File) continue;
      if (fnmatch(path.c_str(), info.path().c_str(), FNM_PATHNAME) != 0) continue;
      infos->push_back(std::move(info));
    }
  }
  if (infos->empty() && location->scheme == "s3") {
    // Nothing matched: say so when it is because the bucket itself is missing.
    const std::string bucket = path.substr(0, path.find('/'));
    auto info = filesystem.GetFileInfo(bucket);
    if (!info.ok()) return failed(info.status());
    if (info->type() == arrow::fs::FileType::NotFound) {
      return Status::IOError(
          fmt::format("cannot list '{}': there is no bucket '{}' (or these credentials cannot "
                      "see it)",
                      pattern, bucket));
    }
  }
  std::sort(infos->begin(), infos->end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  std::vector<std::string> uris;
  uris.reserve(infos->size());
  for (const auto& info : *infos) uris.push_back(prefix + info.path());
  return uris;
}

void FinalizeFileSystems() {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  if (!state.initialized) return;
  state.filesystem.reset();
  arrow::fs::EnsureFinalized();
  state.initialized = false;
}

}  // namespace sluice

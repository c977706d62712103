#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::http {

/// A request as a handler sees it: the whole body has been read (it is bounded by
/// ServerOptions::max_request_bytes).
struct Request {
  std::string method;
  /// The request target as sent (path and query).
  std::string target;
  /// The target without its query string.
  std::string path;
  std::string body;
};

/// What a handler answers.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// More header fields (name, value).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Answers one request. Runs on the server's I/O thread: it must be quick and must not block
/// (take a snapshot under a mutex, render it, return).
using Handler = std::function<Response(const Request&)>;

/// The server's limits: each one is what stops a hostile or broken client from growing memory
/// or holding resources the other clients need.
struct ServerOptions {
  /// Headers and body together; a larger request gets 413 and the connection is closed.
  uint64_t max_request_bytes = 64 * 1024;
  /// A connection that sends nothing for this long (idle keep-alive, or a request that never
  /// finishes) is closed.
  std::chrono::milliseconds idle_timeout{30000};
  /// Connections beyond this many are closed as soon as they are accepted.
  size_t max_connections = 1024;
};

/// A host and port, from "host:port" ("127.0.0.1:9464", "[::1]:9464", ":9464" for every
/// interface). Invalid when the text has no port, a port outside 1..65535, or garbage.
struct Address {
  std::string host;
  uint16_t port = 0;
};
Result<Address> ParseAddress(const std::string& text);

/// A small embedded HTTP/1.1 server: routes by method and exact path to handlers, keeps
/// connections alive, bounds request size, idle time and connections, and answers 404/405 for
/// unknown routes and 400 for requests that do not parse.
///
/// Threading: one I/O thread, started by Start() and joined by Stop() (or the destructor);
/// handlers run on it. Route() must be called before Start(). port() is safe from any thread.
/// Owns its sockets; the handlers' captures must outlive Stop().
class HttpServer {
 public:
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and listens on `address` (see ParseAddress) right away, so that a port in use or a
  /// bad address is an error here, before anything else starts.
  static Result<std::unique_ptr<HttpServer>> Make(const std::string& address,
                                                  ServerOptions options = {});

  /// Answers `method` (e.g. "GET") on `path` with `handler`. A GET route also answers HEAD.
  void Route(std::string method, std::string path, Handler handler);

  /// Starts accepting connections on the I/O thread.
  void Start();
  /// Closes the listener and every connection and joins the I/O thread. Idempotent.
  void Stop();

  /// The port it listens on (the one the system chose when the address said 0).
  uint16_t port() const;
  /// "host:port" as it listens.
  std::string address() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http

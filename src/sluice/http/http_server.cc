#include "sluice/http/http_server.h"

#include <atomic>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

Result<Address> ParseAddress(const std::string& text) {
  auto invalid = [&](const char* why) {
    return Status::Invalid("invalid HTTP address '", text, "': ", why,
                           " (expected host:port, e.g. 127.0.0.1:9464)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return invalid("no port");
  Address address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  else if (address.host.find(':') != std::string::npos)
    return invalid("an IPv6 host must be in brackets");
  if (address.host.empty()) address.host = "0.0.0.0";
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535)
    return invalid("the port is not a number from 0 to 65535");
  address.port = static_cast<uint16_t>(value);
  return address;
}

namespace {

struct RouteKey {
  std::string method;
  std::string path;
  bool operator<(const RouteKey& other) const {
    return std::tie(path, method) < std::tie(other.path, other.method);
  }
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(options), acceptor_(io_) {}
  ~Impl() { Stop(); }

  Status Listen(const Address& address, const std::string& text) {
    boost::system::error_code error;
    auto ip = asio::ip::make_address(address.host, error);
    if (error) {
      // A host name: resolve it (localhost).
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(address.host, std::to_string(address.port), error);
      if (error || results.empty())
        return Status::Invalid("invalid HTTP address '", text, "': cannot resolve '",
                               address.host, "': ", error.message());
      ip = results.begin()->endpoint().address();
    }
    tcp::endpoint endpoint(ip, address.port);
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      if (error == asio::error::address_in_use)
        return Status::IOError("cannot serve HTTP on ", text, ": the address is already in use");
      return Status::IOError("cannot serve HTTP on ", text, ": ", error.message());
    }
    bound_ = acceptor_.local_endpoint();
    return Status::OK();
  }

  void Route(std::string method, std::string path, Handler handler) {
    routes_[RouteKey{std::move(method), std::move(path)}] = std::move(handler);
  }

  void Start() {
    if (thread_.joinable()) return;
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    // Closing on the I/O thread aborts every pending operation; the sessions still held by
    // aborted handlers are destroyed with io_.
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto* socket : connections_) socket->close(ignored);
      io_.stop();
    });
    thread_.join();
  }

  uint16_t port() const { return bound_.port(); }
  std::string address() const {
    const auto ip = bound_.address();
    return ip.is_v6() ? fmt::format("[{}]:{}", ip.to_string(), bound_.port())
                      : fmt::format("{}:{}", ip.to_string(), bound_.port());
  }

  Response Dispatch(const Request& request) const {
    auto found = routes_.find(RouteKey{request.method, request.path});
    if (found == routes_.end() && request.method == "HEAD")
      found = routes_.find(RouteKey{"GET", request.path});
    if (found != routes_.end()) {
      try {
        return found->second(request);
      } catch (const std::exception& error) {
        return Response{500, "text/plain; charset=utf-8",
                        std::string("internal error: ") + error.what() + "\n", {}};
      }
    }
    for (const auto& [key, handler] : routes_) {
      if (key.path == request.path)
        return Response{405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", key.method}}};
    }
    return Response{404, "text/plain; charset=utf-8", "not found\n", {}};
  }

  const ServerOptions& options() const { return options_; }
  void Register(tcp::socket* socket) { connections_.insert(socket); }
  void Unregister(tcp::socket* socket) { connections_.erase(socket); }

 private:
  void Accept();

  class Session;

  ServerOptions options_;
  std::map<RouteKey, Handler> routes_;
  /// Open connections (I/O thread only), closed by Stop(). Declared before io_: sessions that
  /// pending handlers still hold unregister when io_ is destroyed.
  std::set<tcp::socket*> connections_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
  std::thread thread_;
};

/// One connection: reads a request, answers it, and goes on while the client keeps it alive.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server)
      : stream_(std::move(socket)), server_(server) {
    server_->Register(&stream_.socket());
  }
  ~Session() { server_->Unregister(&stream_.socket()); }

  void Read() {
    parser_.emplace();
    const uint64_t limit = server_->options().max_request_bytes;
    parser_->header_limit(static_cast<std::uint32_t>(std::min<uint64_t>(limit, 1u << 30)));
    parser_->body_limit(limit);
    // buffer_ keeps what was read past the previous request: a pipelined next one.
    stream_.expires_after(server_->options().idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code error, size_t) {
                        self->OnRead(error);
                      });
  }

 private:
  void OnRead(beast::error_code error) {
    if (error == bhttp::error::end_of_stream || error == beast::error::timeout ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset ||
        error == asio::error::eof) {
      Close();
      return;
    }
    if (error == bhttp::error::body_limit || error == bhttp::error::header_limit ||
        error == bhttp::error::buffer_overflow) {
      Answer(Response{413, "text/plain; charset=utf-8", "request too large\n", {}}, false, 11);
      return;
    }
    if (error) {
      Answer(Response{400, "text/plain; charset=utf-8", "bad request: " + error.message() + "\n", {}},
             false, 11);
      return;
    }
    auto& message = parser_->get();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.path = request.target.substr(0, request.target.find('?'));
    request.body = std::move(message.body());
    Response response = server_->Dispatch(request);
    if (request.method == "HEAD") response.body.clear();
    Answer(std::move(response), message.keep_alive(), message.version());
  }

  void Answer(Response response, bool keep_alive, unsigned version) {
    auto reply = std::make_shared<bhttp::response<bhttp::string_body>>();
    reply->version(version);
    reply->result(static_cast<unsigned>(response.status));
    reply->set(bhttp::field::server, "sluice");
    reply->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) reply->set(name, value);
    reply->body() = std::move(response.body);
    reply->keep_alive(keep_alive);
    reply->prepare_payload();
    stream_.expires_after(server_->options().idle_timeout);
    bhttp::async_write(stream_, *reply,
                       [self = shared_from_this(), reply, keep_alive](beast::error_code error,
                                                                      size_t) {
                         if (error || !keep_alive) {
                           self->Close();
                           return;
                         }
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
};

void HttpServer::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) {
      if (connections_.size() >= options_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), this)->Read();
      }
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Make(const std::string& address,
                                                     ServerOptions options) {
  SLUICE_ASSIGN_OR_RAISE(Address parsed, ParseAddress(address));
  auto impl = std::make_unique<Impl>(options);
  SLUICE_RETURN_NOT_OK(impl->Listen(parsed, address));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Route(std::string method, std::string path, Handler handler) {
  impl_->Route(std::move(method), std::move(path), std::move(handler));
}

void HttpServer::Start() { impl_->Start(); }

void HttpServer::Stop() {
  if (impl_ != nullptr) impl_->Stop();
}

uint16_t HttpServer::port() const { return impl_->port(); }

std::string HttpServer::address() const { return impl_->address(); }

}  // namespace sluice::http

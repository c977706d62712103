#include "sluice/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace sluice::http {
namespace {

/// Sends `request` on a fresh connection and returns everything the server sends back until
/// it closes the connection (or 2 s pass).
std::string Exchange(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, static_cast<size_t>(n));
  close(fd);
  return answer;
}

TEST(HttpServerTest, ParsesAddresses) {
  auto v4 = ParseAddress("127.0.0.1:9464");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto v6 = ParseAddress("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  auto any = ParseAddress(":9000");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  for (const char* bad : {"", "9464", "host:", "host:x", "host:70000", "::1:80", "h:12ab"}) {
    auto parsed = ParseAddress(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find("invalid HTTP address"), std::string::npos);
    }
  }
}

TEST(HttpServerTest, RoutesKeepsAliveAndBoundsRequests) {
  ServerOptions options;
  options.max_request_bytes = 1024;
  auto made = HttpServer::Make("127.0.0.1:0", options);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::unique_ptr<HttpServer> server = std::move(*made);
  server->Route("GET", "/hello", [](const Request& request) {
    return Response{200, "text/plain", "hello " + request.target + "\n", {{"X-Test", "1"}}};
  });
  server->Route("POST", "/echo", [](const Request& request) {
    return Response{201, "text/plain", request.body, {}};
  });
  server->Start();
  const uint16_t port = server->port();
  ASSERT_NE(port, 0);

  // Two requests on one connection: keep-alive; the second closes it.
  std::string answer = Exchange(port,
                                "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
                                "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 200 OK"), std::string::npos) << answer;
  EXPECT_NE(answer.find("hello /hello?x=1\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("hello /hello\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("X-Test: 1"), std::string::npos);

  answer = Exchange(port,
                    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n"
                    "\r\nbody");
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\n\r\nbody"), std::string::npos);

  answer = Exchange(port, "GET /nothing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 404", 0), 0u) << answer;
  answer = Exchange(port, "DELETE /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
  answer = Exchange(port, "HEAD /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(answer.find("hello /hello"), std::string::npos) << answer;

  answer = Exchange(port, "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  answer = Exchange(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" +
                              std::string(5000, 'x'));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;

  // A second server on the same port is refused with a clear error.
  auto again = HttpServer::Make("127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already in use"), std::string::npos);

  server->Stop();
  server->Stop();  // idempotent
  EXPECT_EQ(Exchange(port, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"), "");
}

TEST(HttpServerTest, StopsWithConnectionsOpen) {
  auto made = HttpServer::Make("127.0.0.1:0");
  ASSERT_TRUE(made.ok());
  std::unique_ptr<HttpServer> server = std::move(*made);
  server->Start();
  std::vector<int> sockets;
  for (int i = 0; i < 20; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    if (i % 2 == 0) send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL);  // unfinished
    sockets.push_back(fd);
  }
  usleep(100000);
  server.reset();  // must not hang or leak the sessions
  for (int fd : sockets) close(fd);
}

}  // namespace
}  // namespace sluice::http

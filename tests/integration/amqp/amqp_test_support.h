#pragma once

// What the AMQP integration tests share: the broker's URL, and a plain rabbitmq-c client that
// declares queues, publishes and reads messages directly (not through Sluice), so that what a
// test checks never depends on the code under test. Test-only.

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

/// The URL run_tests.sh passes in SLUICE_AMQP_URL; empty when it is not set.
inline std::string AmqpUrl() {
  const char* url = std::getenv("SLUICE_AMQP_URL");
  return url == nullptr ? std::string() : std::string(url);
}

/// One message read back: its body, routing key and properties that the tests look at.
struct ReadMessage {
  std::string body;
  std::string routing_key;
  std::string content_type;
  std::optional<std::string> message_id;
  uint8_t delivery_mode = 0;
  /// Text, integer and boolean headers, as text.
  std::map<std::string, std::string> headers;
};

/// A blocking client on channel 1 of its own connection. Failures are test failures.
class TestClient {
 public:
  TestClient() {
    std::string url = AmqpUrl();
    std::vector<char> buffer(url.begin(), url.end());
    buffer.push_back('\0');
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    EXPECT_EQ(amqp_parse_url(buffer.data(), &info), AMQP_STATUS_OK) << url;
    state_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    EXPECT_EQ(amqp_socket_open(socket, info.host, info.port), AMQP_STATUS_OK);
    Expect(amqp_login(state_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                      info.user, info.password),
           "login");
    amqp_channel_open(state_, 1);
    Expect(amqp_get_rpc_reply(state_), "channel.open");
  }

  ~TestClient() {
    amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }

  /// Declares a durable queue with `arguments` (integers as such, the rest as text).
  void DeclareQueue(const std::string& queue,
                    const std::map<std::string, std::string>& arguments = {}) {
    std::vector<amqp_table_entry_t> entries;
    for (const auto& [key, value] : arguments) {
      amqp_table_entry_t entry;
      entry.key = amqp_cstring_bytes(key.c_str());
      char* end = nullptr;
      long long number = std::strtoll(value.c_str(), &end, 10);
      if (!value.empty() && *end == '\0') {
        entry.value.kind = AMQP_FIELD_KIND_I64;
        entry.value.value.i64 = number;
      } else {
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = amqp_cstring_bytes(value.c_str());
      }
      entries.push_back(entry);
    }
    amqp_table_t table = {static_cast<int>(entries.size()), entries.data()};
    amqp_queue_declare(state_, 1, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0, table);
    Expect(amqp_get_rpc_reply(state_), "queue.declare " + queue);
  }

  void DeleteQueue(const std::string& queue) {
    amqp_queue_delete(state_, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
    Expect(amqp_get_rpc_reply(state_), "queue.delete " + queue);
  }

  /// Publishes `body` to the default exchange, routed to `queue`.
  void Publish(const std::string& queue, const std::string& body) {
    amqp_bytes_t bytes = {body.size(), const_cast<char*>(body.data())};
    EXPECT_EQ(amqp_basic_publish(state_, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()),
                                 0, 0, nullptr, bytes),
              AMQP_STATUS_OK);
  }

  /// The number of ready messages in `queue`.
  int64_t Count(const std::string& queue) {
    amqp_queue_declare_ok_t* ok =
        amqp_queue_declare(state_, 1, amqp_cstring_bytes(queue.c_str()), 1, 0, 0, 0,
                           amqp_empty_table);
    Expect(amqp_get_rpc_reply(state_), "passive queue.declare " + queue);
    return ok == nullptr ? -1 : ok->message_count;
  }

  /// Takes every ready message of `queue` (basic.get with automatic acknowledgement).
  std::vector<ReadMessage> Drain(const std::string& queue) {
    std::vector<ReadMessage> messages;
    while (true) {
      amqp_maybe_release_buffers(state_);
      amqp_rpc_reply_t reply = amqp_basic_get(state_, 1, amqp_cstring_bytes(queue.c_str()), 1);
      Expect(reply, "basic.get " + queue);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL ||
          reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
        return messages;
      }
      auto* get = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded);
      ReadMessage read;
      read.routing_key.assign(static_cast<char*>(get->routing_key.bytes), get->routing_key.len);
      amqp_message_t message;
      Expect(amqp_read_message(state_, 1, &message, 0), "reading a message");
      read.body.assign(static_cast<char*>(message.body.bytes), message.body.len);
      const amqp_basic_properties_t& properties = message.properties;
      if (properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
        read.content_type.assign(static_cast<char*>(properties.content_type.bytes),
                                 properties.content_type.len);
      if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        read.message_id = std::string(static_cast<char*>(properties.message_id.bytes),
                                      properties.message_id.len);
      if (properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
        read.delivery_mode = properties.delivery_mode;
      if (properties._flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < properties.headers.num_entries; ++i) {
          const amqp_table_entry_t& entry = properties.headers.entries[i];
          std::string key(static_cast<char*>(entry.key.bytes), entry.key.len);
          const amqp_field_value_t& value = entry.value;
          if (value.kind == AMQP_FIELD_KIND_UTF8) {
            read.headers[key].assign(static_cast<char*>(value.value.bytes.bytes),
                                     value.value.bytes.len);
          } else if (value.kind == AMQP_FIELD_KIND_I64) {
            read.headers[key] = std::to_string(value.value.i64);
          } else if (value.kind == AMQP_FIELD_KIND_BOOLEAN) {
            read.headers[key] = value.value.boolean ? "true" : "false";
          } else {
            read.headers[key] = "?";
          }
        }
      }
      amqp_destroy_message(&message);
      messages.push_back(std::move(read));
    }
  }

 private:
  void Expect(const amqp_rpc_reply_t& reply, const std::string& what) {
    EXPECT_EQ(reply.reply_type, AMQP_RESPONSE_NORMAL)
        << what << ": " << (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                                ? amqp_error_string2(reply.library_error)
                                : "server exception");
  }

  amqp_connection_state_t state_;
};

}  // namespace sluice::testing

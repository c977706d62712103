/* The MQTT client of Sluice's mqtt connector: rumqttc (Rust; MQTT 3.1.1 and 5) behind a small
 * C ABI, built as a static library from native/mqtt_client.
 *
 * Why: a source acknowledges a QoS 1/2 message (PUBACK / PUBREC) only once the pipeline is done
 * with it (sluice_mqtt_ack). Clients that acknowledge before the application sees a message
 * lose it when the process dies right after.
 *
 * Threading and ownership: a client runs its event loop on a thread of its own. All functions
 * but sluice_mqtt_client_free may be called from any thread; the connector calls poll, publish
 * and ack from its own thread(s) and free once, after every other call returned. Strings passed
 * in are copied. An event returned by sluice_mqtt_poll belongs to the caller until
 * sluice_mqtt_event_free; everything it points to lives exactly as long. Error strings belong to
 * the caller until sluice_mqtt_string_free. */
#ifndef SLUICE_MQTT_CLIENT_H
#define SLUICE_MQTT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SluiceMqttClient SluiceMqttClient;

typedef struct SluiceMqttOptions {
  const char* host;
  uint16_t port;
  int32_t protocol_version;   /* 4 (MQTT 3.1.1) or 5 */
  const char* client_id;
  int32_t clean_start;        /* 0: keep the session (and its queued messages) across connections */
  uint32_t session_expiry_seconds; /* MQTT 5, with clean_start 0 */
  const char* username;       /* NULL: no credentials */
  const char* password;
  int32_t tls;                /* 1: TLS (OpenSSL through native-tls) */
  const char* tls_ca_file;    /* PEM; NULL: the system's roots */
  const char* tls_cert_file;  /* PEM client certificate, with tls_key_file (PKCS#8 PEM) */
  const char* tls_key_file;
  int32_t tls_verify;         /* 0: accept any certificate and host name (testing only) */
  uint16_t keep_alive_seconds;
  uint16_t receive_maximum;   /* MQTT 5: unacknowledged QoS 1/2 messages the broker may send;
                                 3.1.1: this client's outgoing in-flight window */
  uint32_t max_packet_size;   /* 0: the library's default */
  uint32_t connect_timeout_seconds; /* one connection attempt */
  uint32_t backoff_min_ms;    /* reconnect delay, doubling up to backoff_max_ms */
  uint32_t backoff_max_ms;
  const char* const* topics;  /* filters subscribed whenever the broker has no session for us */
  const int32_t* topic_qos;
  size_t topic_count;
  uint32_t event_queue_capacity; /* events buffered for sluice_mqtt_poll; reading the socket
                                    stops while it is full */
} SluiceMqttOptions;

typedef struct SluiceMqttProperty {
  const char* name;
  size_t name_len;
  const char* value;
  size_t value_len;
} SluiceMqttProperty;

enum {
  SLUICE_MQTT_MESSAGE = 1,          /* topic, payload, qos, retain, dup, ack_handle, properties */
  SLUICE_MQTT_CONNECTED = 2,        /* session_present */
  SLUICE_MQTT_DISCONNECTED = 3,     /* reason, refused; the client reconnects with backoff */
  SLUICE_MQTT_PUBLISHED = 4,        /* token: written (QoS 0) or confirmed (PUBACK / PUBCOMP) */
  SLUICE_MQTT_PUBLISH_FAILED = 5,   /* token, reason, refused: 1 the broker refused it (MQTT 5
                                       reason code), 0 the connection was lost first */
  SLUICE_MQTT_SUBSCRIBE_FAILED = 6, /* reason */
  SLUICE_MQTT_SUBSCRIBED = 7        /* the broker accepted the subscriptions */
};

typedef struct SluiceMqttEvent {
  int32_t kind;
  const char* topic; /* not NUL-terminated */
  size_t topic_len;
  const uint8_t* payload;
  size_t payload_len;
  int32_t qos;
  int32_t retain;
  int32_t dup;
  uint64_t ack_handle; /* for sluice_mqtt_ack; 0 for QoS 0 */
  const SluiceMqttProperty* properties; /* MQTT 5 user properties */
  size_t property_count;
  int32_t session_present;
  int32_t refused;     /* DISCONNECTED: the broker refused the connection (credentials,
                          client id, ...); PUBLISH_FAILED: the broker refused the message */
  const char* reason;  /* NUL-terminated, never NULL (empty when there is none) */
  uint64_t token;
} SluiceMqttEvent;

/* Starts a client that connects (and reconnects) in the background. NULL with *error set when
 * the options cannot be used (TLS files, ...); connection failures arrive as events. */
SluiceMqttClient* sluice_mqtt_client_new(const SluiceMqttOptions* options, char** error);

/* Sends DISCONNECT (waiting up to a second), stops the event loop and frees the client. */
void sluice_mqtt_client_free(SluiceMqttClient* client);

/* Waits up to timeout_ms for the next event: 1 with *event set, 0 on timeout, -1 on error. */
int32_t sluice_mqtt_poll(SluiceMqttClient* client, int32_t timeout_ms, SluiceMqttEvent** event);

void sluice_mqtt_event_free(SluiceMqttEvent* event);

/* Acknowledges a message (PUBACK for QoS 1, PUBREC for QoS 2), in the order received. 1 sent;
 * 0 stale: the message came over an earlier connection, and the broker delivers it again;
 * -1 the client stopped. */
int32_t sluice_mqtt_ack(SluiceMqttClient* client, uint64_t ack_handle);

/* Queues a publish; its completion arrives as SLUICE_MQTT_PUBLISHED or _PUBLISH_FAILED with
 * *token. 0 queued; 1 the request queue is full (poll, then try again); -1 with *error set (a
 * topic name with wildcards, the client stopped). message_expiry_seconds (0: none) and
 * properties are MQTT 5 only. */
int32_t sluice_mqtt_publish(SluiceMqttClient* client, const char* topic, size_t topic_len,
                            const uint8_t* payload, size_t payload_len, int32_t qos,
                            int32_t retain, uint32_t message_expiry_seconds,
                            const SluiceMqttProperty* properties, size_t property_count,
                            uint64_t* token, char** error);

void sluice_mqtt_string_free(char* text);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_MQTT_CLIENT_H */

//! The MQTT client of Sluice's `mqtt` connector: rumqttc (MQTT 3.1.1 and 5) behind the small C
//! ABI declared in `include/sluice_mqtt_client.h`.
//!
//! Why this exists: a source may acknowledge a QoS 1/2 message (PUBACK / PUBREC) only once the
//! pipeline is done with it. rumqttc's manual acknowledgement gives that; libmosquitto and Paho
//! acknowledge before the application sees the message.
//!
//! Threading: each client runs rumqttc's event loop on a thread of its own (a single-threaded
//! tokio runtime). The application talks to it from any one thread through the C functions:
//! events (messages, connection changes, publish completions) arrive through a bounded queue
//! that `sluice_mqtt_poll` reads; acknowledgements and publishes go to rumqttc's request channel.
//! When the event queue is full the event loop stops reading from the socket, so the broker's
//! flow control (receive maximum, TCP) holds back the rest.

mod connection;
mod events;
mod ffi;
mod steps;

pub use ffi::*;

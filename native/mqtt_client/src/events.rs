//! What the event loop hands to the application, and its C form.

use std::ffi::CString;
use std::os::raw::c_char;

use bytes::Bytes;

/// An event of the event loop, as queued for `sluice_mqtt_poll`.
pub enum Event {
    Message {
        topic: Bytes,
        payload: Bytes,
        qos: u8,
        retain: bool,
        dup: bool,
        /// What `sluice_mqtt_ack` takes; 0 for QoS 0.
        ack_handle: u64,
        /// MQTT 5 user properties, in order.
        properties: Vec<(String, String)>,
    },
    Connected {
        session_present: bool,
    },
    Disconnected {
        reason: String,
        /// The broker refused the connection (credentials, client id, ...).
        refused: bool,
    },
    Published {
        token: u64,
    },
    PublishFailed {
        token: u64,
        reason: String,
        /// The broker refused the message (MQTT 5 reason code), rather than the connection
        /// failing before it confirmed it.
        refused: bool,
    },
    SubscribeFailed {
        reason: String,
    },
    Subscribed,
}

pub const KIND_MESSAGE: i32 = 1;
pub const KIND_CONNECTED: i32 = 2;
pub const KIND_DISCONNECTED: i32 = 3;
pub const KIND_PUBLISHED: i32 = 4;
pub const KIND_PUBLISH_FAILED: i32 = 5;
pub const KIND_SUBSCRIBE_FAILED: i32 = 6;
pub const KIND_SUBSCRIBED: i32 = 7;

/// One MQTT 5 user property; both strings point into the event that holds it.
#[repr(C)]
pub struct SluiceMqttProperty {
    pub name: *const c_char,
    pub name_len: usize,
    pub value: *const c_char,
    pub value_len: usize,
}

/// The C view of an event (see the header for the fields).
#[repr(C)]
pub struct SluiceMqttEvent {
    pub kind: i32,
    pub topic: *const c_char,
    pub topic_len: usize,
    pub payload: *const u8,
    pub payload_len: usize,
    pub qos: i32,
    pub retain: i32,
    pub dup: i32,
    pub ack_handle: u64,
    pub properties: *const SluiceMqttProperty,
    pub property_count: usize,
    pub session_present: i32,
    pub refused: i32,
    pub reason: *const c_char,
    pub token: u64,
}

/// An event handed to C: the view first (so that a pointer to it is a pointer to this), then the
/// storage it points into. Freed as a whole by `sluice_mqtt_event_free`.
#[repr(C)]
pub struct OwnedEvent {
    pub view: SluiceMqttEvent,
    topic: Bytes,
    payload: Bytes,
    properties: Vec<(String, String)>,
    property_views: Vec<SluiceMqttProperty>,
    reason: CString,
}

fn text(reason: String) -> CString {
    CString::new(reason.replace('\0', " ")).unwrap_or_default()
}

impl OwnedEvent {
    pub fn new(event: Event) -> Box<OwnedEvent> {
        let mut owned = Box::new(OwnedEvent {
            view: SluiceMqttEvent {
                kind: 0,
                topic: std::ptr::null(),
                topic_len: 0,
                payload: std::ptr::null(),
                payload_len: 0,
                qos: 0,
                retain: 0,
                dup: 0,
                ack_handle: 0,
                properties: std::ptr::null(),
                property_count: 0,
                session_present: 0,
                refused: 0,
                reason: std::ptr::null(),
                token: 0,
            },
            topic: Bytes::new(),
            payload: Bytes::new(),
            properties: Vec::new(),
            property_views: Vec::new(),
            reason: CString::default(),
        });
        match event {
            Event::Message { topic, payload, qos, retain, dup, ack_handle, properties } => {
                owned.view.kind = KIND_MESSAGE;
                owned.topic = topic;
                owned.payload = payload;
                owned.properties = properties;
                owned.view.qos = i32::from(qos);
                owned.view.retain = i32::from(retain);
                owned.view.dup = i32::from(dup);
                owned.view.ack_handle = ack_handle;
            }
            Event::Connected { session_present } => {
                owned.view.kind = KIND_CONNECTED;
                owned.view.session_present = i32::from(session_present);
            }
            Event::Disconnected { reason, refused } => {
                owned.view.kind = KIND_DISCONNECTED;
                owned.view.refused = i32::from(refused);
                owned.reason = text(reason);
            }
            Event::Published { token } => {
                owned.view.kind = KIND_PUBLISHED;
                owned.view.token = token;
            }
            Event::PublishFailed { token, reason, refused } => {
                owned.view.kind = KIND_PUBLISH_FAILED;
                owned.view.token = token;
                owned.view.refused = i32::from(refused);
                owned.reason = text(reason);
            }
            Event::SubscribeFailed { reason } => {
                owned.view.kind = KIND_SUBSCRIBE_FAILED;
                owned.reason = text(reason);
            }
            Event::Subscribed => owned.view.kind = KIND_SUBSCRIBED,
        }
        // The views point into the boxed storage, which does not move from here on.
        owned.view.topic = owned.topic.as_ptr() as *const c_char;
        owned.view.topic_len = owned.topic.len();
        owned.view.payload = owned.payload.as_ptr();
        owned.view.payload_len = owned.payload.len();
        owned.view.reason = owned.reason.as_ptr();
        let views: Vec<SluiceMqttProperty> = owned
            .properties
            .iter()
            .map(|(name, value)| SluiceMqttProperty {
                name: name.as_ptr() as *const c_char,
                name_len: name.len(),
                value: value.as_ptr() as *const c_char,
                value_len: value.len(),
            })
            .collect();
        owned.property_views = views;
        owned.view.properties = owned.property_views.as_ptr();
        owned.view.property_count = owned.property_views.len();
        owned
    }
}

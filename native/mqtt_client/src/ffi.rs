//! The C functions of `include/sluice_mqtt_client.h`. No panic crosses them: each body runs
//! under catch_unwind and a panic becomes an error return.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::connection::{Acked, Connection, Queued, Settings, TlsFiles};
use crate::events::{OwnedEvent, SluiceMqttEvent, SluiceMqttProperty};

#[repr(C)]
pub struct SluiceMqttOptions {
    pub host: *const c_char,
    pub port: u16,
    pub protocol_version: i32,
    pub client_id: *const c_char,
    pub clean_start: i32,
    pub session_expiry_seconds: u32,
    pub username: *const c_char,
    pub password: *const c_char,
    pub tls: i32,
    pub tls_ca_file: *const c_char,
    pub tls_cert_file: *const c_char,
    pub tls_key_file: *const c_char,
    pub tls_verify: i32,
    pub keep_alive_seconds: u16,
    pub receive_maximum: u16,
    pub max_packet_size: u32,
    pub connect_timeout_seconds: u32,
    pub backoff_min_ms: u32,
    pub backoff_max_ms: u32,
    pub topics: *const *const c_char,
    pub topic_qos: *const i32,
    pub topic_count: usize,
    pub event_queue_capacity: u32,
}

/// The opaque client handle.
pub struct SluiceMqttClient {
    connection: Connection,
}

unsafe fn text(pointer: *const c_char) -> Option<String> {
    if pointer.is_null() {
        None
    } else {
        Some(CStr::from_ptr(pointer).to_string_lossy().into_owned())
    }
}

fn set_error(error: *mut *mut c_char, message: String) {
    if !error.is_null() {
        let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
        unsafe { *error = message.into_raw() };
    }
}

unsafe fn settings_from(options: &SluiceMqttOptions) -> Result<Settings, String> {
    let host = text(options.host).ok_or("no host given")?;
    let mut subscriptions = Vec::with_capacity(options.topic_count);
    for index in 0..options.topic_count {
        let filter = text(*options.topics.add(index)).ok_or("a topic filter is null")?;
        let qos = if options.topic_qos.is_null() { 1 } else { *options.topic_qos.add(index) };
        subscriptions.push((filter, qos.clamp(0, 2) as u8));
    }
    let credentials = match text(options.username) {
        Some(user) => Some((user, text(options.password).unwrap_or_default())),
        None => None,
    };
    let tls = (options.tls != 0).then(|| TlsFiles {
        ca: text(options.tls_ca_file),
        cert: text(options.tls_cert_file),
        key: text(options.tls_key_file),
        verify: options.tls_verify != 0,
    });
    Ok(Settings {
        host,
        port: options.port,
        version5: options.protocol_version == 5,
        client_id: text(options.client_id).unwrap_or_default(),
        clean_start: options.clean_start != 0,
        session_expiry_seconds: options.session_expiry_seconds,
        credentials,
        tls,
        keep_alive_seconds: options.keep_alive_seconds,
        receive_maximum: options.receive_maximum,
        max_packet_size: options.max_packet_size,
        connect_timeout_seconds: options.connect_timeout_seconds,
        backoff_min: Duration::from_millis(u64::from(options.backoff_min_ms.max(10))),
        backoff_max: Duration::from_millis(u64::from(options.backoff_max_ms.max(options.backoff_min_ms).max(10))),
        subscriptions,
        event_queue_capacity: options.event_queue_capacity as usize,
    })
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_client_new(
    options: *const SluiceMqttOptions,
    error: *mut *mut c_char,
) -> *mut SluiceMqttClient {
    if options.is_null() {
        set_error(error, "no options given".to_string());
        return std::ptr::null_mut();
    }
    let started = catch_unwind(AssertUnwindSafe(|| settings_from(&*options).and_then(Connection::start)));
    match started {
        Ok(Ok(connection)) => Box::into_raw(Box::new(SluiceMqttClient { connection })),
        Ok(Err(message)) => {
            set_error(error, message);
            std::ptr::null_mut()
        }
        Err(_) => {
            set_error(error, "the MQTT client failed to start (internal error)".to_string());
            std::ptr::null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_client_free(client: *mut SluiceMqttClient) {
    if client.is_null() {
        return;
    }
    let client = Box::from_raw(client);
    let _ = catch_unwind(AssertUnwindSafe(move || client.connection.close()));
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_poll(
    client: *mut SluiceMqttClient,
    timeout_ms: i32,
    event: *mut *mut SluiceMqttEvent,
) -> i32 {
    if client.is_null() || event.is_null() {
        return -1;
    }
    *event = std::ptr::null_mut();
    let client = &*client;
    let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
    match catch_unwind(AssertUnwindSafe(|| client.connection.poll(timeout))) {
        Ok(Some(next)) => {
            let owned = OwnedEvent::new(next);
            *event = Box::into_raw(owned) as *mut SluiceMqttEvent;
            1
        }
        Ok(None) => 0,
        Err(_) => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_event_free(event: *mut SluiceMqttEvent) {
    if !event.is_null() {
        // The view is the first field of OwnedEvent (repr(C)).
        drop(Box::from_raw(event as *mut OwnedEvent));
    }
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_ack(client: *mut SluiceMqttClient, ack_handle: u64) -> i32 {
    if client.is_null() {
        return -1;
    }
    if ack_handle == 0 {
        return 1;
    }
    let client = &*client;
    match catch_unwind(AssertUnwindSafe(|| client.connection.ack(ack_handle))) {
        Ok(Acked::Sent) => 1,
        Ok(Acked::Stale) => 0,
        Ok(Acked::Closed) | Err(_) => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_publish(
    client: *mut SluiceMqttClient,
    topic: *const c_char,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: i32,
    message_expiry_seconds: u32,
    properties: *const SluiceMqttProperty,
    property_count: usize,
    token: *mut u64,
    error: *mut *mut c_char,
) -> i32 {
    if client.is_null() || topic.is_null() || token.is_null() || (payload.is_null() && payload_len > 0) {
        set_error(error, "null argument".to_string());
        return -1;
    }
    let client = &*client;
    let topic_bytes = std::slice::from_raw_parts(topic as *const u8, topic_len);
    let topic = match std::str::from_utf8(topic_bytes) {
        Ok(topic) => topic,
        Err(_) => {
            set_error(error, "the topic name is not UTF-8".to_string());
            return -1;
        }
    };
    let payload = if payload_len == 0 { &[][..] } else { std::slice::from_raw_parts(payload, payload_len) };
    let mut user_properties = Vec::with_capacity(property_count);
    for index in 0..property_count {
        let property = &*properties.add(index);
        let name = std::slice::from_raw_parts(property.name as *const u8, property.name_len);
        let value = std::slice::from_raw_parts(property.value as *const u8, property.value_len);
        user_properties.push((String::from_utf8_lossy(name).into_owned(), String::from_utf8_lossy(value).into_owned()));
    }
    let queued = catch_unwind(AssertUnwindSafe(|| {
        client.connection.publish(topic, payload, qos.clamp(0, 2) as u8, retain != 0, message_expiry_seconds, user_properties)
    }));
    match queued {
        Ok(Ok(Queued::Token(queued_token))) => {
            *token = queued_token;
            0
        }
        Ok(Ok(Queued::Full)) => 1,
        Ok(Err(message)) => {
            set_error(error, message);
            -1
        }
        Err(_) => {
            set_error(error, "publishing failed (internal error)".to_string());
            -1
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn sluice_mqtt_string_free(text: *mut c_char) {
    if !text.is_null() {
        drop(CString::from_raw(text));
    }
}

//! One connection: rumqttc's client and event loop (MQTT 3.1.1 or 5), the thread that drives the
//! loop, and the bookkeeping that ties publishes to their completions and acknowledgements to the
//! connection that delivered their message.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::PublishProperties;
use rumqttc::{QoS, TlsConfiguration, Transport};

use crate::events::Event;
use crate::steps::{refused_connection, v4_step, v5_step, Failure, Step};

/// What `sluice_mqtt_client_new` was given, as Rust values.
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub version5: bool,
    pub client_id: String,
    pub clean_start: bool,
    pub session_expiry_seconds: u32,
    pub credentials: Option<(String, String)>,
    pub tls: Option<TlsFiles>,
    pub keep_alive_seconds: u16,
    pub receive_maximum: u16,
    pub max_packet_size: u32,
    pub connect_timeout_seconds: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub subscriptions: Vec<(String, u8)>,
    pub event_queue_capacity: usize,
}

pub struct TlsFiles {
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    /// Check the broker's certificate and host name.
    pub verify: bool,
}

fn qos_of(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn qos5_of(level: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS as QoS5;
    match level {
        0 => QoS5::AtMostOnce,
        1 => QoS5::AtLeastOnce,
        _ => QoS5::ExactlyOnce,
    }
}

fn tls_transport(files: &TlsFiles) -> Result<Transport, String> {
    let read = |path: &str| std::fs::read(path).map_err(|error| format!("cannot read {}: {}", path, error));
    let mut builder = native_tls::TlsConnector::builder();
    builder.danger_accept_invalid_certs(!files.verify);
    builder.danger_accept_invalid_hostnames(!files.verify);
    if let Some(ca) = &files.ca {
        let certificate = native_tls::Certificate::from_pem(&read(ca)?)
            .map_err(|error| format!("{} is not a PEM certificate: {}", ca, error))?;
        builder.add_root_certificate(certificate);
    }
    match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let identity = native_tls::Identity::from_pkcs8(&read(cert)?, &read(key)?).map_err(|error| {
                format!("cannot use client certificate {} with key {} (PEM, PKCS#8 key): {}", cert, key, error)
            })?;
            builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err("a client certificate needs both cert and key".to_string()),
    }
    let connector = builder.build().map_err(|error| format!("TLS setup failed: {}", error))?;
    Ok(Transport::tls_with_config(TlsConfiguration::NativeConnector(connector)))
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

enum Loop {
    V4(rumqttc::EventLoop),
    V5(rumqttc::v5::EventLoop),
}

impl Loop {
    /// The next event, or why the connection failed (and whether the broker refused it).
    async fn poll(&mut self) -> Result<Step, Failure> {
        let failure = |reason: String| Failure { reason, refused: false, unsolicited: None };
        match self {
            Loop::V4(event_loop) => match event_loop.poll().await {
                Ok(event) => Ok(v4_step(event)),
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => Err(refused_connection(format!("{:?}", code))),
                Err(rumqttc::ConnectionError::MqttState(rumqttc::StateError::Unsolicited(pkid))) => {
                    Err(Failure { unsolicited: Some(pkid), ..failure(format!("unexpected acknowledgement for packet {}", pkid)) })
                }
                Err(error) => Err(failure(error.to_string())),
            },
            Loop::V5(event_loop) => match event_loop.poll().await {
                Ok(event) => Ok(v5_step(event)),
                Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => Err(refused_connection(format!("{:?}", code))),
                Err(rumqttc::v5::ConnectionError::MqttState(rumqttc::v5::StateError::Unsolicited(pkid))) => {
                    Err(Failure { unsolicited: Some(pkid), ..failure(format!("unexpected acknowledgement for packet {}", pkid)) })
                }
                Err(error) => Err(failure(error.to_string())),
            },
        }
    }

    /// Makes rumqttc expect a PUBREL for each of `pkids`: QoS 2 messages this client sent PUBREC
    /// for on an earlier connection (or process), whose PUBREL the broker sends again when the
    /// session resumes. rumqttc forgets them when a connection ends and would take the PUBREL for
    /// a protocol error, dropping the connection again and again. Marked by handing its state a
    /// stand-in QoS 2 PUBLISH with that packet id (manual acknowledgement: nothing is sent) and
    /// dropping the event it queues.
    fn expect_pubrel(&mut self, pkids: &HashSet<u16>) {
        for &pkid in pkids {
            match self {
                Loop::V4(event_loop) => {
                    let mut publish = rumqttc::Publish::new("", QoS::ExactlyOnce, Vec::new());
                    publish.pkid = pkid;
                    if event_loop.state.handle_incoming_packet(rumqttc::Incoming::Publish(publish)).is_ok() {
                        event_loop.state.events.pop_back();
                    }
                }
                Loop::V5(event_loop) => {
                    let mut publish = rumqttc::v5::mqttbytes::v5::Publish::new("", qos5_of(2), Vec::new(), None);
                    publish.pkid = pkid;
                    if event_loop.state.handle_incoming_packet(rumqttc::v5::Incoming::Publish(publish)).is_ok() {
                        event_loop.state.events.pop_back();
                    }
                }
            }
        }
    }

    /// Drops everything rumqttc would send again on the next connection: unacknowledged
    /// publishes are reported failed (and published again by the application), and queued
    /// acknowledgements belong to the old connection's packet ids.
    fn forget_pending(&mut self) {
        match self {
            Loop::V4(event_loop) => {
                event_loop.clean();
                event_loop.pending.clear();
            }
            Loop::V5(event_loop) => {
                event_loop.clean();
                event_loop.pending.clear();
            }
        }
    }
}

/// Ties publishes to their completions. Guarded by Shared::tracker.
#[derive(Default)]
struct Tracker {
    /// Counts connections lost; part of every acknowledgement handle, so that an acknowledgement
    /// for a message of an earlier connection is dropped (its packet id may name another message
    /// now; the broker sends the message again instead).
    epoch: u32,
    connected: bool,
    next_token: u64,
    /// Tokens of publishes handed to rumqttc, in order, not written yet: rumqttc writes requests in
    /// order and reports each with its packet id (Step::Sent).
    unsent: VecDeque<u64>,
    /// Tokens of QoS 1/2 publishes written, by packet id, until the broker completes them.
    inflight: HashMap<u16, u64>,
    /// Acknowledgements waiting for room in rumqttc's request queue, in order.
    deferred_acks: VecDeque<u64>,
    /// Packet ids of QoS 2 messages acknowledged (PUBREC) whose PUBREL has not come yet.
    awaiting_pubrel: HashSet<u16>,
}

impl Tracker {
    /// Whether an acknowledgement handle belongs to an earlier connection (or none).
    fn stale(&self, handle: u64) -> bool {
        (handle >> 32) as u32 != self.epoch || !self.connected
    }
}

/// Queues the acknowledgement (PUBACK / PUBREC) of a handle; false when the queue is full.
fn try_ack(client: &Client, handle: u64) -> bool {
    let qos = ((handle >> 16) & 0xff) as u8;
    let pkid = (handle & 0xffff) as u16;
    match client {
        Client::V4(client) => {
            let mut publish = rumqttc::Publish::new("", qos_of(qos), Vec::new());
            publish.pkid = pkid;
            client.try_ack(&publish).is_ok()
        }
        Client::V5(client) => {
            let mut publish = rumqttc::v5::mqttbytes::v5::Publish::new("", qos5_of(qos), Vec::new(), None);
            publish.pkid = pkid;
            client.try_ack(&publish).is_ok()
        }
    }
}

struct Shared {
    tracker: Mutex<Tracker>,
    closing: AtomicBool,
    /// The event loop thread has ended (the request channel is closed).
    ended: AtomicBool,
    shutdown: tokio::sync::Notify,
}

/// What `sluice_mqtt_ack` did.
pub enum Acked {
    Sent,
    /// The message came over a connection that has since been lost: the broker delivers it again.
    Stale,
    Closed,
}

/// What `sluice_mqtt_publish` did.
pub enum Queued {
    Token(u64),
    /// rumqttc's request queue is full: poll for completions, then try again.
    Full,
}

pub struct Connection {
    client: Client,
    shared: Arc<Shared>,
    events: Receiver<Event>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Connection {
    pub fn start(settings: Settings) -> Result<Connection, String> {
        let transport = match &settings.tls {
            Some(files) => Some(tls_transport(files)?),
            None => None,
        };
        let keep_alive = Duration::from_secs(u64::from(settings.keep_alive_seconds.max(5)));
        let request_capacity = 1024;
        let (client, event_loop) = if settings.version5 {
            let mut options = rumqttc::v5::MqttOptions::new(settings.client_id.clone(), settings.host.clone(), settings.port);
            options.set_keep_alive(keep_alive);
            options.set_clean_start(settings.clean_start);
            if !settings.clean_start {
                options.set_session_expiry_interval(Some(settings.session_expiry_seconds));
            }
            options.set_receive_maximum(Some(settings.receive_maximum.max(1)));
            if settings.max_packet_size > 0 {
                options.set_max_packet_size(Some(settings.max_packet_size));
            }
            options.set_manual_acks(true);
            options.set_connection_timeout(u64::from(settings.connect_timeout_seconds.max(1)));
            if let Some((user, password)) = &settings.credentials {
                options.set_credentials(user.clone(), password.clone());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, event_loop) = rumqttc::v5::AsyncClient::new(options, request_capacity);
            (Client::V5(client), Loop::V5(event_loop))
        } else {
            let mut options = rumqttc::MqttOptions::new(settings.client_id.clone(), settings.host.clone(), settings.port);
            options.set_keep_alive(keep_alive);
            options.set_clean_session(settings.clean_start);
            options.set_inflight(settings.receive_maximum.max(1));
            if settings.max_packet_size > 0 {
                let size = settings.max_packet_size as usize;
                options.set_max_packet_size(size, size);
            }
            options.set_manual_acks(true);
            if let Some((user, password)) = &settings.credentials {
                options.set_credentials(user.clone(), password.clone());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, mut event_loop) = rumqttc::AsyncClient::new(options, request_capacity);
            event_loop.network_options.set_connection_timeout(u64::from(settings.connect_timeout_seconds.max(1)));
            (Client::V4(client), Loop::V4(event_loop))
        };
        let shared = Arc::new(Shared {
            tracker: Mutex::new(Tracker { next_token: 1, ..Tracker::default() }),
            closing: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            shutdown: tokio::sync::Notify::new(),
        });
        let (sender, events) = sync_channel(settings.event_queue_capacity.max(16));
        let (done_sender, done) = sync_channel(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the MQTT client's runtime: {}", error))?;
        let driver = Driver {
            client: match &client {
                Client::V4(c) => Client::V4(c.clone()),
                Client::V5(c) => Client::V5(c.clone()),
            },
            shared: Arc::clone(&shared),
            events: sender,
            subscriptions: settings.subscriptions,
            backoff_min: settings.backoff_min,
            backoff_max: settings.backoff_max,
        };
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("mqtt-client".to_string())
            .spawn(move || {
                // A panic ends the loop like a stop; the application then sees the client as
                // stopped (poll reports it, publish and ack fail) instead of waiting for ever.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(driver.run(event_loop));
                }));
                thread_shared.ended.store(true, Ordering::SeqCst);
                let _ = done_sender.send(());
            })
            .map_err(|error| format!("cannot start the MQTT client's thread: {}", error))?;
        Ok(Connection { client, shared, events, done, thread: Some(thread) })
    }

    /// The next event, waiting up to `timeout`; None on timeout.
    pub fn poll(&self, timeout: Duration) -> Option<Event> {
        match self.events.recv_timeout(timeout) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // The event loop ended without being closed (an internal error).
                std::thread::sleep(timeout.min(Duration::from_millis(100)));
                Some(Event::Disconnected { reason: "the MQTT client stopped (internal error)".to_string(), refused: false })
            }
        }
    }

    /// Never blocks: when rumqttc's request queue is full the acknowledgement waits in order in
    /// the tracker, and the event loop thread sends it (the loop may itself be waiting for the
    /// application to take events, so the application must not wait for it here).
    pub fn ack(&self, handle: u64) -> Acked {
        if self.shared.ended.load(Ordering::SeqCst) {
            return Acked::Closed;
        }
        let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if tracker.stale(handle) {
            return Acked::Stale;
        }
        if (handle >> 16) & 0xff == 2 {
            tracker.awaiting_pubrel.insert((handle & 0xffff) as u16);
        }
        if tracker.deferred_acks.is_empty() && try_ack(&self.client, handle) {
            return Acked::Sent;
        }
        tracker.deferred_acks.push_back(handle);
        Acked::Sent
    }

    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        message_expiry_seconds: u32,
        properties: Vec<(String, String)>,
    ) -> Result<Queued, String> {
        if topic.is_empty() || topic.contains('+') || topic.contains('#') || topic.contains('\0') {
            return Err(format!("'{}' is not a topic name to publish to (empty, or with + # or NUL)", topic));
        }
        if topic.len() > 65535 {
            return Err("the topic name is longer than 65535 bytes".to_string());
        }
        if self.shared.ended.load(Ordering::SeqCst) {
            return Err("the MQTT client has stopped".to_string());
        }
        let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let token = tracker.next_token;
        let queued = match &self.client {
            Client::V4(client) => client.try_publish(topic, qos_of(qos), retain, payload.to_vec()).is_ok(),
            Client::V5(client) => {
                let publish_properties = PublishProperties {
                    message_expiry_interval: (message_expiry_seconds > 0).then_some(message_expiry_seconds),
                    user_properties: properties,
                    ..PublishProperties::default()
                };
                client
                    .try_publish_with_properties(topic, qos5_of(qos), retain, payload.to_vec(), publish_properties)
                    .is_ok()
            }
        };
        if !queued {
            return Ok(Queued::Full);
        }
        tracker.next_token += 1;
        tracker.unsent.push_back(token);
        Ok(Queued::Token(token))
    }

    /// Waits up to a second for open QoS 2 exchanges, sends DISCONNECT (the broker keeps a
    /// persistent session), waits up to a second for it to go out, and ends the event loop
    /// thread.
    pub fn close(mut self) {
        // Let QoS 2 exchanges this client acknowledged finish (PUBREL, PUBCOMP) first, so that
        // the session holds none half done.
        for _ in 0..100 {
            let waiting = self
                .shared
                .tracker
                .lock()
                .map(|tracker| tracker.connected && !tracker.awaiting_pubrel.is_empty())
                .unwrap_or(false);
            if !waiting || self.shared.ended.load(Ordering::SeqCst) {
                break;
            }
            // Messages still queued are not acknowledged: the broker keeps them for the session.
            while self.events.try_recv().is_ok() {}
            std::thread::sleep(Duration::from_millis(10));
        }
        let disconnect = match &self.client {
            Client::V4(client) => client.try_disconnect().is_ok(),
            Client::V5(client) => client.try_disconnect().is_ok(),
        };
        let connected = self.shared.tracker.lock().map(|tracker| tracker.connected).unwrap_or(false);
        if !(disconnect && connected) || self.done.recv_timeout(Duration::from_secs(1)).is_err() {
            self.shared.closing.store(true, Ordering::SeqCst);
            self.shared.shutdown.notify_one();
        }
        // Unblock a loop waiting for room in a full event queue.
        while self.events.try_recv().is_ok() {}
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs on the event loop thread.
struct Driver {
    client: Client,
    shared: Arc<Shared>,
    events: SyncSender<Event>,
    subscriptions: Vec<(String, u8)>,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl Driver {
    /// Queues `event`, waiting while the queue is full (the loop then reads nothing more, so the
    /// broker's flow control holds the rest). False when the client is closing.
    async fn send(&self, mut event: Event) -> bool {
        loop {
            match self.events.try_send(event) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(again)) => {
                    if self.shared.closing.load(Ordering::SeqCst) {
                        return false;
                    }
                    event = again;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    }

    fn subscribe(&self) -> Result<(), String> {
        if self.subscriptions.is_empty() {
            return Ok(());
        }
        let sent = match &self.client {
            Client::V4(client) => client
                .try_subscribe_many(
                    self.subscriptions.iter().map(|(filter, qos)| rumqttc::SubscribeFilter::new(filter.clone(), qos_of(*qos))),
                )
                .is_ok(),
            Client::V5(client) => client
                .try_subscribe_many(
                    self.subscriptions.iter().map(|(filter, qos)| rumqttc::v5::mqttbytes::v5::Filter::new(filter.clone(), qos5_of(*qos))),
                )
                .is_ok(),
        };
        if sent {
            Ok(())
        } else {
            Err("cannot queue the subscription request".to_string())
        }
    }

    /// Moves deferred acknowledgements into rumqttc's request queue while it has room.
    fn flush_acks(&self) {
        let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(&handle) = tracker.deferred_acks.front() {
            if !tracker.stale(handle) && !try_ack(&self.client, handle) {
                return;
            }
            tracker.deferred_acks.pop_front();
        }
    }

    async fn run(self, mut event_loop: Loop) {
        let mut backoff = self.backoff_min;
        loop {
            if self.shared.closing.load(Ordering::SeqCst) {
                return;
            }
            self.flush_acks();
            let polled = tokio::select! {
                polled = event_loop.poll() => polled,
                _ = self.shared.shutdown.notified() => return,
            };
            let step = match polled {
                Ok(step) => step,
                Err(Failure { reason, refused, unsolicited }) => {
                    let failed: Vec<u64> = {
                        let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        if let Some(pkid) = unsolicited {
                            tracker.awaiting_pubrel.insert(pkid);
                        }
                        tracker.epoch = tracker.epoch.wrapping_add(1);
                        tracker.connected = false;
                        tracker.deferred_acks.clear();
                        event_loop.forget_pending();
                        let mut failed: Vec<u64> = tracker.unsent.drain(..).collect();
                        failed.extend(tracker.inflight.drain().map(|(_, token)| token));
                        failed
                    };
                    for token in failed {
                        let lost = format!("the connection was lost before the broker confirmed the message: {}", reason);
                        if !self.send(Event::PublishFailed { token, reason: lost, refused: false }).await {
                            return;
                        }
                    }
                    if !self.send(Event::Disconnected { reason, refused }).await {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = self.shared.shutdown.notified() => return,
                    }
                    backoff = (backoff * 2).min(self.backoff_max);
                    continue;
                }
            };
            let event = match step {
                Step::ConnAck { session_present } => {
                    backoff = self.backoff_min;
                    {
                        let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        tracker.connected = true;
                        if session_present {
                            event_loop.expect_pubrel(&tracker.awaiting_pubrel);
                        } else {
                            tracker.awaiting_pubrel.clear();
                        }
                    }
                    // A session the broker kept still has its subscriptions; subscribing again
                    // would send the retained messages once more.
                    if !session_present {
                        if let Err(reason) = self.subscribe() {
                            Some(Event::SubscribeFailed { reason })
                        } else {
                            Some(Event::Connected { session_present })
                        }
                    } else {
                        Some(Event::Connected { session_present })
                    }
                }
                Step::Message { topic, payload, qos, retain, dup, pkid, properties } => {
                    let ack_handle = if qos == 0 {
                        0
                    } else {
                        let epoch = self.shared.tracker.lock().map(|tracker| tracker.epoch).unwrap_or(0);
                        (u64::from(epoch) << 32) | (u64::from(qos) << 16) | u64::from(pkid)
                    };
                    Some(Event::Message { topic, payload, qos, retain, dup, ack_handle, properties })
                }
                Step::Sent(pkid) => {
                    let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if pkid != 0 && tracker.inflight.contains_key(&pkid) {
                        None
                    } else {
                        match tracker.unsent.pop_front() {
                            Some(token) if pkid == 0 => Some(Event::Published { token }),
                            Some(token) => {
                                tracker.inflight.insert(pkid, token);
                                None
                            }
                            None => None,
                        }
                    }
                }
                Step::Completed { pkid, failure } => {
                    let token = self.shared.tracker.lock().ok().and_then(|mut tracker| tracker.inflight.remove(&pkid));
                    match (token, failure) {
                        (Some(token), None) => Some(Event::Published { token }),
                        (Some(token), Some(reason)) => Some(Event::PublishFailed { token, reason, refused: true }),
                        (None, _) => None,
                    }
                }
                Step::SubscribeRefused(reason) => Some(Event::SubscribeFailed { reason }),
                Step::Subscribed => Some(Event::Subscribed),
                Step::ServerDisconnect(reason) => Some(Event::Disconnected { reason, refused: false }),
                Step::DisconnectSent => return,
                Step::PubCompSent(pkid) => {
                    let mut tracker = self.shared.tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    tracker.awaiting_pubrel.remove(&pkid);
                    None
                }
                Step::Other => None,
            };
            if let Some(event) = event {
                if !self.send(event).await {
                    return;
                }
            }
        }
    }
}

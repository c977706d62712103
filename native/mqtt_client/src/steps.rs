//! rumqttc's events and errors, the same for both protocol versions.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{PubAckReason, PubCompReason, PubRecReason};

/// One event of rumqttc's loop, the same for both protocol versions.
pub enum Step {
    ConnAck { session_present: bool },
    Message { topic: Bytes, payload: Bytes, qos: u8, retain: bool, dup: bool, pkid: u16, properties: Vec<(String, String)> },
    /// A publish was written with this packet id (0 for QoS 0).
    Sent(u16),
    /// The broker completed (PUBACK / PUBCOMP) or refused (MQTT 5 reason code) a publish.
    Completed { pkid: u16, failure: Option<String> },
    SubscribeRefused(String),
    /// The broker accepted every subscription.
    Subscribed,
    ServerDisconnect(String),
    DisconnectSent,
    /// PUBCOMP sent for an incoming QoS 2 message: its exchange is over.
    PubCompSent(u16),
    Other,
}

pub fn v4_step(event: rumqttc::Event) -> Step {
    use rumqttc::{Event as E, Incoming, Outgoing};
    match event {
        E::Incoming(Incoming::ConnAck(ack)) => Step::ConnAck { session_present: ack.session_present },
        E::Incoming(Incoming::Publish(p)) => Step::Message {
            topic: Bytes::from(p.topic.into_bytes()),
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: Vec::new(),
        },
        E::Incoming(Incoming::PubAck(ack)) => Step::Completed { pkid: ack.pkid, failure: None },
        E::Incoming(Incoming::PubComp(comp)) => Step::Completed { pkid: comp.pkid, failure: None },
        E::Incoming(Incoming::SubAck(ack)) => {
            let refused = ack.return_codes.iter().filter(|code| matches!(code, rumqttc::SubscribeReasonCode::Failure)).count();
            if refused > 0 {
                Step::SubscribeRefused(format!("the broker refused {} of the subscriptions", refused))
            } else {
                Step::Subscribed
            }
        }
        E::Outgoing(Outgoing::Publish(pkid)) => Step::Sent(pkid),
        E::Outgoing(Outgoing::Disconnect) => Step::DisconnectSent,
        E::Outgoing(Outgoing::PubComp(pkid)) => Step::PubCompSent(pkid),
        _ => Step::Other,
    }
}

pub fn v5_step(event: rumqttc::v5::Event) -> Step {
    use rumqttc::v5::{Event as E, Incoming};
    use rumqttc::Outgoing;
    match event {
        E::Incoming(Incoming::ConnAck(ack)) => Step::ConnAck { session_present: ack.session_present },
        E::Incoming(Incoming::Publish(p)) => Step::Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: p.properties.map(|properties| properties.user_properties).unwrap_or_default(),
        },
        E::Incoming(Incoming::PubAck(ack)) => Step::Completed {
            pkid: ack.pkid,
            failure: match ack.reason {
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers => None,
                reason => Some(format!("the broker refused the message: {:?}", reason)),
            },
        },
        E::Incoming(Incoming::PubRec(rec)) => match rec.reason {
            PubRecReason::Success | PubRecReason::NoMatchingSubscribers => Step::Other,
            reason => Step::Completed { pkid: rec.pkid, failure: Some(format!("the broker refused the message: {:?}", reason)) },
        },
        E::Incoming(Incoming::PubComp(comp)) => Step::Completed {
            pkid: comp.pkid,
            failure: match comp.reason {
                PubCompReason::Success => None,
                reason => Some(format!("the broker did not complete the message: {:?}", reason)),
            },
        },
        E::Incoming(Incoming::SubAck(ack)) => {
            let refused: Vec<String> = ack
                .return_codes
                .iter()
                .filter(|code| !matches!(code, rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(_)))
                .map(|code| format!("{:?}", code))
                .collect();
            if refused.is_empty() {
                Step::Subscribed
            } else {
                Step::SubscribeRefused(format!("the broker refused subscriptions: {}", refused.join(", ")))
            }
        }
        E::Incoming(Incoming::Disconnect(disconnect)) => {
            let text = disconnect.properties.and_then(|properties| properties.reason_string).unwrap_or_default();
            Step::ServerDisconnect(format!("the broker disconnected: {:?} {}", disconnect.reason_code, text))
        }
        E::Outgoing(Outgoing::Publish(pkid)) => Step::Sent(pkid),
        E::Outgoing(Outgoing::Disconnect) => Step::DisconnectSent,
        E::Outgoing(Outgoing::PubComp(pkid)) => Step::PubCompSent(pkid),
        _ => Step::Other,
    }
}

/// Why a connection failed.
pub struct Failure {
    pub reason: String,
    /// The broker refused the connection (credentials, client id, ...).
    pub refused: bool,
    /// The broker acknowledged a packet id this client does not know (a PUBREL of an earlier
    /// session: see Loop::expect_pubrel).
    pub unsolicited: Option<u16>,
}

pub fn refused_connection(code: String) -> Failure {
    Failure { reason: format!("the broker refused the connection: {}", code), refused: true, unsolicited: None }
}


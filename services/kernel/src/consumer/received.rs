//! An event as a consumer receives it: the CloudEvents headers parsed, the payload
//! still encoded.

use bytes::Bytes;
use uuid::Uuid;

use crate::outbox::header;

/// The headers an event is read from, found in one pass over the message's:
/// looking each up by name would allocate and hash the name, eight times per event.
#[derive(Default)]
struct EventHeaders<'a> {
    id: Option<&'a str>,
    sequence: Option<&'a str>,
    event_type: Option<&'a str>,
    source: Option<&'a str>,
    stream_id: Option<&'a str>,
    time: Option<&'a str>,
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl<'a> EventHeaders<'a> {
    fn find(headers: &'a async_nats::HeaderMap) -> Self {
        let mut found = Self::default();
        for (name, values) in headers.iter() {
            let slot = match name.as_ref() {
                header::ID => &mut found.id,
                header::SEQUENCE => &mut found.sequence,
                header::TYPE => &mut found.event_type,
                header::SOURCE => &mut found.source,
                header::SUBJECT => &mut found.stream_id,
                header::TIME => &mut found.time,
                header::TRACEPARENT => &mut found.traceparent,
                header::TRACESTATE => &mut found.tracestate,
                _ => continue,
            };
            *slot = values.first().map(|value| value.as_str());
        }
        found
    }
}

/// A header's value, owned, or which header is missing.
fn required(value: Option<&str>, name: &'static str) -> Result<String, MalformedEvent> {
    value
        .map(str::to_owned)
        .ok_or(MalformedEvent::Missing(name))
}

#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub event_id: Uuid,
    /// Full protobuf name (`ce-type`).
    pub event_type: String,
    pub subject: String,
    pub source: String,
    /// The aggregate stream (`ce-subject`) and the event's place among its
    /// published events (`ce-sequence`).
    pub stream_id: String,
    pub sequence: i64,
    pub time: String,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub payload: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum MalformedEvent {
    #[error("message has no headers")]
    NoHeaders,
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("header {name} is invalid: {value:?}")]
    Invalid { name: &'static str, value: String },
    /// The event says it comes from another service than the stream's.
    #[error("{what} {value:?} is not the publishing service's")]
    Foreign { what: &'static str, value: String },
}

impl ReceivedEvent {
    /// Parses a message published by a lienlac relay.
    pub fn parse(
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, MalformedEvent> {
        let headers = EventHeaders::find(headers.ok_or(MalformedEvent::NoHeaders)?);
        let event_id = required(headers.id, header::ID)?;
        let event_id = Uuid::parse_str(&event_id).map_err(|_| MalformedEvent::Invalid {
            name: header::ID,
            value: event_id,
        })?;
        let sequence = required(headers.sequence, header::SEQUENCE)?;
        let sequence =
            sequence
                .parse()
                .ok()
                .filter(|n: &i64| *n > 0)
                .ok_or(MalformedEvent::Invalid {
                    name: header::SEQUENCE,
                    value: sequence,
                })?;
        // `...<district_id>.<school_id>.<EventName>`: ids are the two tokens before the name.
        let mut tokens = subject.rsplit('.').skip(1);
        let school_id = tokens.next().and_then(|t| Uuid::parse_str(t).ok());
        let district_id = tokens.next().and_then(|t| Uuid::parse_str(t).ok());
        Ok(Self {
            event_id,
            event_type: required(headers.event_type, header::TYPE)?,
            subject: subject.to_owned(),
            source: required(headers.source, header::SOURCE)?,
            stream_id: required(headers.stream_id, header::SUBJECT)?,
            sequence,
            time: required(headers.time, header::TIME)?,
            district_id,
            school_id,
            traceparent: headers.traceparent.map(str::to_owned),
            tracestate: headers.tracestate.map(str::to_owned),
            payload,
        })
    }

    /// The event's name: the last part of its `ce-type` (`RollCallSubmitted`).
    pub fn name(&self) -> &str {
        self.event_type.rsplit('.').next().unwrap_or_default()
    }

    /// Decodes the payload as `M`, checking that `ce-type` names it.
    pub fn decode<M: prost::Message + prost::Name + Default>(&self) -> anyhow::Result<M> {
        let expected = M::full_name();
        if self.event_type != expected {
            anyhow::bail!(
                "event {} is a {}, not a {expected}",
                self.event_id,
                self.event_type
            );
        }
        M::decode(self.payload.clone())
            .map_err(|error| anyhow::anyhow!("decoding {expected} {}: {error}", self.event_id))
    }

    /// The headers as JSON, for the dead-letter table.
    pub fn headers_json(&self) -> serde_json::Value {
        serde_json::json!({
            header::ID: self.event_id,
            header::TYPE: self.event_type,
            header::SOURCE: self.source,
            header::SUBJECT: self.stream_id,
            header::SEQUENCE: self.sequence,
            header::TIME: self.time,
            header::TRACEPARENT: self.traceparent,
        })
    }
}

impl ReceivedEvent {
    /// Stands in for a message that could not be parsed, so that it can still be
    /// dead-lettered; its id is derived from its place in the JetStream stream.
    pub(super) fn unparseable(subject: &str, stream_sequence: u64, payload: Bytes) -> Self {
        Self {
            event_id: Uuid::from_u64_pair(0, stream_sequence),
            event_type: "unparseable".to_owned(),
            subject: subject.to_owned(),
            source: String::new(),
            stream_id: format!("unparseable:{subject}"),
            sequence: 1,
            time: String::new(),
            district_id: None,
            school_id: None,
            traceparent: None,
            tracestate: None,
            payload,
        }
    }
}

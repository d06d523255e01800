//! What goes into the store and what comes back out.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who and what caused the events of one command; stored with each event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// The account that issued the command (an id, never a name).
    pub actor: Option<String>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// W3C trace context of the command, so the relay and consumers join its trace.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
}

impl EventMeta {
    /// Metadata for a command running in the current span: a fresh correlation id
    /// and the span's trace context.
    pub fn for_command(actor: Option<String>) -> Self {
        let (traceparent, tracestate) = crate::telemetry::current_trace_context();
        Self {
            actor,
            correlation_id: Uuid::now_v7(),
            traceparent,
            tracestate,
            ..Self::default()
        }
    }

    pub fn in_tenant(mut self, district_id: Uuid, school_id: Option<Uuid>) -> Self {
        self.district_id = Some(district_id);
        self.school_id = school_id;
        self
    }
}

/// The protobuf form of an event that other services and systems receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedForm {
    /// Full protobuf message name, e.g. `lienlac.attendance.v1.RollCallSubmitted`.
    pub type_name: String,
    pub payload: Vec<u8>,
}

impl PublishedForm {
    pub fn encode<M: prost::Message + prost::Name>(message: &M) -> Self {
        Self {
            type_name: M::full_name(),
            payload: message.encode_to_vec(),
        }
    }

    /// `message` as `P`, a message that numbers its fields as `M` does and
    /// reserves some of them: the fields `P` reserves are left out.
    pub fn narrowed<P, M>(message: &M) -> Result<Self, prost::DecodeError>
    where
        P: prost::Message + prost::Name + Default,
        M: prost::Message,
    {
        let narrow = P::decode(message.encode_to_vec().as_slice())?;
        Ok(Self::encode(&narrow))
    }

    /// A stored event's JSON (`data`) as message `M`: how an earlier contract
    /// version is published from the stored form. `None` when it does not read.
    pub fn from_stored<M>(data: &serde_json::Value) -> Option<Self>
    where
        M: prost::Message + prost::Name + serde::de::DeserializeOwned,
    {
        M::deserialize(data)
            .ok()
            .map(|message| Self::encode(&message))
    }
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    /// The stored domain event (serde JSON), what aggregates fold.
    pub data: serde_json::Value,
    /// Set for events that are published; `None` keeps the event inside the service.
    pub published: Option<PublishedForm>,
}

impl NewEvent {
    pub fn new(
        event_type: impl Into<String>,
        schema_version: i32,
        data: &impl Serialize,
    ) -> serde_json::Result<Self> {
        Ok(Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            data: serde_json::to_value(data)?,
            published: None,
        })
    }

    /// A published event whose stored form is the JSON of `message` and whose type
    /// is the message's name.
    pub fn from_message<M>(message: &M) -> serde_json::Result<Self>
    where
        M: prost::Message + prost::Name + Serialize,
    {
        Ok(Self::new(M::NAME, 1, message)?.published_as(PublishedForm::encode(message)))
    }

    /// A published event stored as the JSON of `message` (the service's own form,
    /// free text included) and published as `P`, the same message without the
    /// fields `P` reserves (see [`PublishedForm::narrowed`]).
    pub fn narrowed<P, M>(message: &M) -> Result<Self, NarrowError>
    where
        P: prost::Message + prost::Name + Default,
        M: prost::Message + prost::Name + Serialize,
    {
        let form = PublishedForm::narrowed::<P, M>(message)?;
        Ok(Self::new(M::NAME, 1, message)?.published_as(form))
    }

    pub fn published_as(mut self, form: PublishedForm) -> Self {
        self.published = Some(form);
        self
    }

    /// Adds `field` to the stored form only: what the service's own tables need
    /// (free text, a version) that the published contract leaves out.
    pub fn keeping(mut self, field: &str, value: impl Serialize) -> serde_json::Result<Self> {
        let value = serde_json::to_value(value)?;
        if let serde_json::Value::Object(fields) = &mut self.data {
            fields.insert(field.to_owned(), value);
        }
        Ok(self)
    }
}

/// A message that could not be stored, or whose public form does not read it.
#[derive(Debug, thiserror::Error)]
pub enum NarrowError {
    #[error("storing the event: {0}")]
    Store(#[from] serde_json::Error),
    #[error("the public form does not number its fields as the stored one: {0}")]
    Public(#[from] prost::DecodeError),
}

/// An event as committed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordedEvent {
    pub position: i64,
    pub tx_id: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub data: serde_json::Value,
    pub published_type: Option<String>,
    pub published_payload: Option<Vec<u8>>,
    /// Published events of the stream up to and including this one.
    pub published_count: i64,
    pub actor: Option<String>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
    pub recorded_at: OffsetDateTime,
}

impl RecordedEvent {
    /// A published event's place among its stream's published events (1, 2, 3 …).
    pub fn published_sequence(&self) -> Option<i64> {
        self.published_type.as_ref().map(|_| self.published_count)
    }
}

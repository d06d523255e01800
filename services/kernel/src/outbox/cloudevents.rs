//! The wire form of a published event: subject and CloudEvents binary-mode headers
//! (NATS protocol binding), as docs/events.md describes for subscribers.

use async_nats::HeaderMap;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::event_store::RecordedEvent;

/// Header names; `ce-sequence` (CloudEvents "sequence" extension) numbers the
/// published events of one aggregate stream 1, 2, 3 …, so consumers detect gaps.
pub mod header {
    pub const SPECVERSION: &str = "ce-specversion";
    pub const ID: &str = "ce-id";
    pub const SOURCE: &str = "ce-source";
    pub const TYPE: &str = "ce-type";
    pub const TIME: &str = "ce-time";
    pub const SUBJECT: &str = "ce-subject";
    pub const DATACONTENTTYPE: &str = "ce-datacontenttype";
    pub const SEQUENCE: &str = "ce-sequence";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
}

/// The subject token that stands for "no school" in district-level events.
pub const NO_SCHOOL: &str = "_";

/// `<prefix>.<version>.<district_id>.<school_id>.<EventName>` for an event of
/// protobuf type `<package>.<version>.<EventName>`, with `_` for a missing id: a
/// service's contract versions share its stream and differ by subject.
pub fn event_subject(
    subject_prefix: &str,
    type_name: &str,
    district_id: Option<Uuid>,
    school_id: Option<Uuid>,
) -> String {
    let token = |id: Option<Uuid>| id.map_or_else(|| NO_SCHOOL.to_owned(), |id| id.to_string());
    let mut parts = type_name.rsplit('.');
    let event_name = parts.next().unwrap_or(type_name);
    let version = parts.next().unwrap_or("v1");
    format!(
        "{subject_prefix}.{version}.{}.{}.{event_name}",
        token(district_id),
        token(school_id)
    )
}

/// The CloudEvents attributes of one recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEventHeaders {
    pub id: Uuid,
    pub source: String,
    pub event_type: String,
    pub time: String,
    pub subject: String,
    pub sequence: i64,
}

impl CloudEventHeaders {
    /// `None` for an event without a published form.
    pub fn of(event: &RecordedEvent, service: &str) -> Option<Self> {
        let event_type = event.published_type.clone()?;
        let scope = event
            .school_id
            .or(event.district_id)
            .map_or_else(|| NO_SCHOOL.to_owned(), |id| id.to_string());
        Some(Self {
            id: event.event_id,
            source: format!("/lienlac/{service}/{scope}"),
            event_type,
            time: event
                .recorded_at
                .format(&Rfc3339)
                .unwrap_or_else(|_| event.recorded_at.to_string()),
            subject: event.stream_id.clone(),
            sequence: event.published_sequence()?,
        })
    }

    /// The NATS headers, without trace context (the relay adds its own span's).
    pub fn to_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::SPECVERSION, "1.0");
        headers.insert(header::ID, self.id.to_string().as_str());
        headers.insert(header::SOURCE, self.source.as_str());
        headers.insert(header::TYPE, self.event_type.as_str());
        headers.insert(header::TIME, self.time.as_str());
        headers.insert(header::SUBJECT, self.subject.as_str());
        headers.insert(header::DATACONTENTTYPE, "application/protobuf");
        headers.insert(header::SEQUENCE, self.sequence.to_string().as_str());
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_put_the_version_then_district_then_school_then_the_event_name() {
        let district = Uuid::now_v7();
        let school = Uuid::now_v7();
        assert_eq!(
            event_subject(
                "lienlac.attendance",
                "lienlac.attendance.v2.MarkCorrected",
                Some(district),
                Some(school),
            ),
            format!("lienlac.attendance.v2.{district}.{school}.MarkCorrected")
        );
        assert_eq!(
            event_subject(
                "t01.lienlac.identity",
                "lienlac.identity.v1.DistrictCreated",
                Some(district),
                None,
            ),
            format!("t01.lienlac.identity.v1.{district}._.DistrictCreated")
        );
    }
}

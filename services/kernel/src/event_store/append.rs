//! Appending to a stream with optimistic concurrency.

use sqlx::{PgConnection, Row as _};
use time::OffsetDateTime;
use uuid::Uuid;

use super::types::{EventMeta, NewEvent};

/// The version the caller saw when it decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this.
    Exact(i64),
}

impl ExpectedVersion {
    /// What a stream loaded at `version` (0 when empty) expects.
    pub fn from_loaded(version: i64) -> Self {
        if version == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }

    fn as_i64(self) -> i64 {
        match self {
            Self::NoStream => 0,
            Self::Exact(version) => version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another command appended to the stream first; the caller reloads and retries,
    /// or the gRPC layer answers ABORTED.
    #[error("stream {stream_id} is no longer at version {expected}")]
    Conflict { stream_id: String, expected: i64 },
    #[error("appending events: {0}")]
    Database(#[from] sqlx::Error),
    #[error("encoding an event: {0}")]
    Encode(#[from] serde_json::Error),
}

impl AppendError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppendReceipt {
    /// The stream's version after the append (unchanged when nothing was appended).
    pub stream_version: i64,
    pub event_ids: Vec<Uuid>,
    /// When the events were recorded (their transaction's `now()`); `None` when
    /// nothing was appended.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub recorded_at: Option<OffsetDateTime>,
}

/// Appends `events` to `stream_id` if it is at `expected`, in the caller's
/// transaction. The version check and the insert are one statement; the unique
/// `(stream_id, stream_version)` constraint settles races between transactions.
#[tracing::instrument(level = "debug", name = "event_store.append", skip_all, fields(stream_id = %stream_id, count = events.len()))]
pub async fn append(
    conn: &mut PgConnection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    meta: &EventMeta,
) -> Result<AppendReceipt, AppendError> {
    let base = expected.as_i64();
    if events.is_empty() {
        return Ok(AppendReceipt {
            stream_version: base,
            event_ids: vec![],
            recorded_at: None,
        });
    }
    let count = events.len() as i64;
    let event_ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let event_types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let schema_versions: Vec<i32> = events.iter().map(|e| e.schema_version).collect();
    let data: Vec<&serde_json::Value> = events.iter().map(|e| &e.data).collect();
    let published_types: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.published.as_ref().map(|p| p.type_name.as_str()))
        .collect();
    let published_payloads: Vec<Option<&[u8]>> = events
        .iter()
        .map(|e| e.published.as_ref().map(|p| p.payload.as_slice()))
        .collect();

    // `head` is the stream's last event as committed (or zeros): its version must be
    // the expected one, and its published count numbers the new published events.
    // One backward step on the (stream_id, stream_version) index, however long the stream.
    let inserted = sqlx::query(
        "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, \
             published_type, published_payload, published_count, actor, correlation_id, \
             causation_id, traceparent, tracestate, district_id, school_id) \
         SELECT e.event_id, $2, head.version + e.n, e.event_type, e.schema_version, e.data, \
             e.published_type, e.published_payload, \
             head.published + count(e.published_type) OVER (ORDER BY e.n), \
             $8, $9, $10, $11, $12, $13, $14 \
         FROM UNNEST($1::uuid[], $3::text[], $4::int[], $5::jsonb[], $6::text[], $7::bytea[]) \
                  WITH ORDINALITY \
                  AS e(event_id, event_type, schema_version, data, published_type, published_payload, n), \
              (SELECT 0::bigint AS version, 0::bigint AS published \
               UNION ALL \
               (SELECT stream_version, published_count FROM events WHERE stream_id = $2 \
                 ORDER BY stream_version DESC LIMIT 1) \
               ORDER BY version DESC LIMIT 1) AS head \
         WHERE head.version = $15 \
         RETURNING recorded_at",
    )
    .bind(&event_ids)
    .bind(stream_id)
    .bind(&event_types)
    .bind(&schema_versions)
    .bind(&data)
    .bind(&published_types)
    .bind(&published_payloads)
    .bind(meta.actor.as_deref())
    .bind(meta.correlation_id)
    .bind(meta.causation_id)
    .bind(meta.traceparent.as_deref())
    .bind(meta.tracestate.as_deref())
    .bind(meta.district_id)
    .bind(meta.school_id)
    .bind(base)
    .fetch_all(conn)
    .await
    .map_err(|error| {
        if is_version_conflict(&error) {
            conflict(stream_id, base)
        } else {
            AppendError::Database(error)
        }
    })?;
    let Some(recorded_at) = inserted.first().map(|row| row.get("recorded_at")) else {
        return Err(conflict(stream_id, base));
    };
    Ok(AppendReceipt {
        stream_version: base + count,
        event_ids,
        recorded_at: Some(recorded_at),
    })
}

fn conflict(stream_id: &str, expected: i64) -> AppendError {
    AppendError::Conflict {
        stream_id: stream_id.to_owned(),
        expected,
    }
}

fn is_version_conflict(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|db| {
        db.code().is_some_and(|code| code == "23505")
            && db.constraint() == Some("events_stream_version_unique")
    })
}

/// One event opening a new stream, for [`append_first_events`].
pub struct FirstEvent {
    pub stream_id: String,
    pub event: NewEvent,
    pub meta: EventMeta,
}

/// Appends each event as the first of its own new stream (many facts raised at
/// once, each with a stream of its own: a notice for each guardian of each
/// absence of a consumer's batch), in one statement in the caller's transaction.
/// A stream that exists already refuses the whole append.
#[tracing::instrument(level = "debug", name = "event_store.append_first_events", skip_all, fields(count = firsts.len()))]
pub async fn append_first_events(
    conn: &mut PgConnection,
    firsts: &[FirstEvent],
) -> Result<(), AppendError> {
    if firsts.is_empty() {
        return Ok(());
    }
    let column =
        |pick: fn(&FirstEvent) -> Option<Uuid>| firsts.iter().map(pick).collect::<Vec<_>>();
    let event_ids = column(|f| Some(f.event.event_id));
    let streams: Vec<&str> = firsts.iter().map(|f| f.stream_id.as_str()).collect();
    let event_types: Vec<&str> = firsts.iter().map(|f| f.event.event_type.as_str()).collect();
    let schema_versions: Vec<i32> = firsts.iter().map(|f| f.event.schema_version).collect();
    let data: Vec<&serde_json::Value> = firsts.iter().map(|f| &f.event.data).collect();
    let published_types: Vec<Option<&str>> = firsts
        .iter()
        .map(|f| f.event.published.as_ref().map(|p| p.type_name.as_str()))
        .collect();
    let published_payloads: Vec<Option<&[u8]>> = firsts
        .iter()
        .map(|f| f.event.published.as_ref().map(|p| p.payload.as_slice()))
        .collect();
    let actors: Vec<Option<&str>> = firsts.iter().map(|f| f.meta.actor.as_deref()).collect();
    let correlations = column(|f| Some(f.meta.correlation_id));
    let causations = column(|f| f.meta.causation_id);
    let traceparents: Vec<Option<&str>> = firsts
        .iter()
        .map(|f| f.meta.traceparent.as_deref())
        .collect();
    let tracestates: Vec<Option<&str>> = firsts
        .iter()
        .map(|f| f.meta.tracestate.as_deref())
        .collect();
    let districts = column(|f| f.meta.district_id);
    let schools = column(|f| f.meta.school_id);
    sqlx::query(
        "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, \
             published_type, published_payload, published_count, actor, correlation_id, \
             causation_id, traceparent, tracestate, district_id, school_id) \
         SELECT e.event_id, e.stream_id, 1, e.event_type, e.schema_version, e.data, \
             e.published_type, e.published_payload, \
             CASE WHEN e.published_type IS NULL THEN 0 ELSE 1 END, \
             e.actor, e.correlation_id, e.causation_id, e.traceparent, e.tracestate, \
             e.district_id, e.school_id \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::text[], \
             $7::bytea[], $8::text[], $9::uuid[], $10::uuid[], $11::text[], $12::text[], \
             $13::uuid[], $14::uuid[]) \
             AS e(event_id, stream_id, event_type, schema_version, data, published_type, \
                 published_payload, actor, correlation_id, causation_id, traceparent, \
                 tracestate, district_id, school_id)",
    )
    .bind(&event_ids)
    .bind(&streams)
    .bind(&event_types)
    .bind(&schema_versions)
    .bind(&data)
    .bind(&published_types)
    .bind(&published_payloads)
    .bind(&actors)
    .bind(&correlations)
    .bind(&causations)
    .bind(&traceparents)
    .bind(&tracestates)
    .bind(&districts)
    .bind(&schools)
    .execute(conn)
    .await
    .map_err(|error| {
        if is_version_conflict(&error) {
            conflict("(one of the new streams)", 0)
        } else {
            AppendError::Database(error)
        }
    })?;
    Ok(())
}

//! Aggregates: state folded from a stream's events, deciding new ones.

use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgConnection;

use super::read::read_stream;

/// A stored domain event: serde JSON with an explicit schema version.
pub trait DomainEvent: Serialize + DeserializeOwned {
    /// The `event_type` column, e.g. `StudentAbsenceRecorded`.
    fn event_type(&self) -> &'static str;
    const SCHEMA_VERSION: i32 = 1;
}

/// `decide` performs no I/O: outside facts are put in the command first.
pub trait Aggregate: Default + Sized {
    const TYPE: &'static str;
    type Command;
    type Event: DomainEvent;
    type Error: std::error::Error;

    fn decide(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(self, event: &Self::Event) -> Self;
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("loading stream: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {position} of stream {stream_id} cannot be read as {aggregate}: {source}")]
    Decode {
        stream_id: String,
        position: i64,
        aggregate: &'static str,
        source: serde_json::Error,
    },
}

/// Folds `stream_id` into `A`; returns the state and the stream's version (0 if new).
pub async fn load<A: Aggregate>(
    conn: &mut PgConnection,
    stream_id: &str,
) -> Result<(A, i64), LoadError> {
    let mut state = A::default();
    let mut version = 0;
    for recorded in read_stream(conn, stream_id).await? {
        let event: A::Event =
            serde_json::from_value(recorded.data).map_err(|source| LoadError::Decode {
                stream_id: stream_id.to_owned(),
                position: recorded.position,
                aggregate: A::TYPE,
                source,
            })?;
        state = state.evolve(&event);
        version = recorded.stream_version;
    }
    Ok((state, version))
}

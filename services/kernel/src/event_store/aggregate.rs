//! Aggregates as deciders: state folded from a stream's own events, deciding new
//! ones without I/O. A service's handler loads the state ([`load`]), finds what
//! the rules need to know of the world (the aggregate's `Context`), lets the
//! aggregate decide, then appends and projects what it decided.

use sqlx::PgConnection;

use super::read::read_stream;

/// A fact of an aggregate as its service stored it: the `event_type` column and
/// the JSON in `data`. `None` for a stored event the aggregate does not fold.
pub trait DomainEvent: Sized {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>>;
}

/// `decide` performs no I/O and reads no clock: what it needs of the world comes in
/// its `Context`.
pub trait Aggregate: Default + Sized {
    /// Names the aggregate in errors.
    const TYPE: &'static str;
    type Command;
    type Context;
    type Event: DomainEvent;
    type Error: std::error::Error;

    fn decide(
        &self,
        command: &Self::Command,
        context: &Self::Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(self, event: &Self::Event) -> Self;
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("loading stream: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {position} of stream {stream_id} cannot be read as a {aggregate}: {source}")]
    Decode {
        stream_id: String,
        position: i64,
        aggregate: &'static str,
        source: anyhow::Error,
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
        let event =
            A::Event::from_stored(&recorded.event_type, recorded.data).map_err(|source| {
                LoadError::Decode {
                    stream_id: stream_id.to_owned(),
                    position: recorded.position,
                    aggregate: A::TYPE,
                    source,
                }
            })?;
        if let Some(event) = event {
            state = state.evolve(&event);
        }
        version = recorded.stream_version;
    }
    Ok((state, version))
}

//! A service's write model as inline projections of its own events. A command
//! appends its events and writes their rows through the service's projection in one
//! transaction; a rebuild empties the projection's tables and runs every stored
//! event through the same projection, so the tables are what the events say
//! (docs/architecture.md).

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::event_store::{
    AppendError, AppendReceipt, CommitCursor, EventMeta, ExpectedVersion, NewEvent, RecordedEvent,
    append, read_visible,
};

/// An event as a projection reads it: its stored form and what was recorded with it.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub data: &'a serde_json::Value,
    pub district_id: Option<Uuid>,
    /// Its transaction's `now()`, which the command's own rows would also read.
    pub recorded_at: OffsetDateTime,
}

impl<'a> Fact<'a> {
    pub fn of(event: &'a RecordedEvent) -> Self {
        Self {
            event_id: event.event_id,
            event_type: &event.event_type,
            data: &event.data,
            district_id: event.district_id,
            recorded_at: event.recorded_at,
        }
    }

    /// The stored form as `T` (the event's message, or any view of its fields).
    pub fn decode<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        T::deserialize(self.data)
            .map_err(|error| anyhow::anyhow!("{} {}: {error}", self.event_type, self.event_id))
    }

    /// A field the stored form must keep ([`NewEvent::keeping`]): an event recorded
    /// before it was kept is refused rather than projected without it.
    pub fn required<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<T> {
        self.kept(field)?.ok_or_else(|| {
            anyhow::anyhow!(
                "{} {} was recorded before its {field} was kept",
                self.event_type,
                self.event_id
            )
        })
    }

    /// A field only the stored form keeps ([`NewEvent::keeping`]); `None` in events
    /// recorded before it was kept.
    pub fn kept<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<Option<T>> {
        self.data
            .get(field)
            .map(T::deserialize)
            .transpose()
            .map_err(|error| {
                anyhow::anyhow!("{} {}: {field}: {error}", self.event_type, self.event_id)
            })
    }
}

/// The rows a service derives from its own events.
pub trait InlineProjection: Sync {
    /// Every table the projection writes, referencing tables before those they
    /// reference: a rebuild empties them in this order.
    const TABLES: &'static [&'static str];

    /// Writes what `fact` changes; an event it does not project changes nothing.
    fn apply(
        &self,
        conn: &mut PgConnection,
        fact: &Fact<'_>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("projecting {event_type} onto the write model: {source}")]
    Project {
        event_type: String,
        source: anyhow::Error,
    },
}

impl WriteError {
    /// Whether projecting broke a unique constraint: the row is there already.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Project { source, .. }
            if source
                .downcast_ref::<sqlx::Error>()
                .is_some_and(|error| crate::db::has_sqlstate(error, &["23505"])))
    }
}

/// Appends `events` to `stream_id` if it is at `expected`, then writes them through
/// `projection`, in the caller's transaction.
pub async fn append_and_project<P: InlineProjection>(
    conn: &mut PgConnection,
    projection: &P,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    meta: &EventMeta,
) -> Result<AppendReceipt, WriteError> {
    let receipt = append(conn, stream_id, expected, events, meta).await?;
    let Some(recorded_at) = receipt.recorded_at else {
        return Ok(receipt);
    };
    for event in events {
        let fact = Fact {
            event_id: event.event_id,
            event_type: &event.event_type,
            data: &event.data,
            district_id: meta.district_id,
            recorded_at,
        };
        projection
            .apply(conn, &fact)
            .await
            .map_err(|source| WriteError::Project {
                event_type: event.event_type.clone(),
                source,
            })?;
    }
    Ok(receipt)
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("the write model stayed busy with commands; try again when fewer are running")]
    Busy,
    #[error("rebuilding the write model: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {position} ({event_type}) does not project: {source}")]
    Project {
        position: i64,
        event_type: String,
        source: anyhow::Error,
    },
}

/// Events read per round trip during a rebuild.
const REBUILD_BATCH: i64 = 1_000;
/// How often, and how far apart, a rebuild tries to find no command running.
const LOCK_ATTEMPTS: u32 = 100;
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// Empties `P::TABLES` and runs every event of the store through `projection`, in
/// one transaction that holds commands off: it returns how many events it read.
/// Reads keep answering from the old rows until it commits.
pub async fn rebuild<P: InlineProjection>(
    pool: &PgPool,
    projection: &P,
) -> Result<u64, RebuildError> {
    let mut tx = locked(pool, P::TABLES).await?;
    for table in P::TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *tx)
            .await?;
    }
    let (mut cursor, mut read) = (CommitCursor::START, 0u64);
    loop {
        let batch = read_visible(&mut tx, cursor, REBUILD_BATCH).await?;
        let Some(last) = batch.last() else { break };
        cursor = CommitCursor::of(last);
        for event in &batch {
            projection
                .apply(&mut tx, &Fact::of(event))
                .await
                .map_err(|source| RebuildError::Project {
                    position: event.position,
                    event_type: event.event_type.clone(),
                    source,
                })?;
        }
        read += batch.len() as u64;
    }
    tx.commit().await?;
    Ok(read)
}

/// A transaction holding the event store and `tables` against writers (readers go
/// on), taken all at once or not at all (`NOWAIT`), so it never deadlocks with a
/// command that holds one of them and waits for another; its snapshot starts after
/// the locks, so it sees every event of every command that finished.
async fn locked(
    pool: &PgPool,
    tables: &[&str],
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, RebuildError> {
    let lock = format!(
        "LOCK TABLE events, {} IN EXCLUSIVE MODE NOWAIT",
        tables.join(", ")
    );
    for _ in 0..LOCK_ATTEMPTS {
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        match sqlx::query(sqlx::AssertSqlSafe(lock.clone()))
            .execute(&mut *tx)
            .await
        {
            Ok(_) => return Ok(tx),
            Err(error) if is_lock_unavailable(&error) => {
                // Let go of the locks taken before the one refused at once.
                tx.rollback().await?;
                tokio::time::sleep(LOCK_RETRY).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(RebuildError::Busy)
}

fn is_lock_unavailable(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "55P03")
}

//! Reading streams, and reading the whole store in commit order.
//!
//! Positions are handed out at insert, before commit, so a transaction that commits
//! later can hold a smaller position: "position > last seen" would skip it forever.
//! Readers in commit order therefore take only rows written by transactions older
//! than every transaction still running (`tx_id < pg_snapshot_xmin(...)`), and
//! order them by `(tx_id, position)`. Every transaction that can still commit has
//! a larger `tx_id` than anything already read, so nothing is skipped. A
//! transaction's id is taken at its first write (a row lock counts), so a command
//! that reads what other commands committed before it writes anything has the
//! larger `tx_id`, and causes come before their effects: commands therefore lock
//! by row writes or advisory locks only after reading the aggregates they follow
//! (attendance/src/leaves/mod.rs).

use sqlx::PgConnection;

use super::types::RecordedEvent;

const COLUMNS: &str = "position, tx_id, event_id, stream_id, stream_version, event_type, \
    schema_version, data, published_type, published_payload, published_count, actor, correlation_id, \
    causation_id, traceparent, tracestate, district_id, school_id, recorded_at";

/// A place in commit order: the last `(tx_id, position)` read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommitCursor {
    pub tx_id: i64,
    pub position: i64,
}

impl CommitCursor {
    pub const START: Self = Self {
        tx_id: 0,
        position: 0,
    };

    pub fn of(event: &RecordedEvent) -> Self {
        Self {
            tx_id: event.tx_id,
            position: event.position,
        }
    }
}

/// Every event of one stream, in version order.
pub async fn read_stream(
    conn: &mut PgConnection,
    stream_id: &str,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(stream_id)
        .fetch_all(conn)
        .await
}

/// The stream's current version (0 when it has no events), for a command that
/// appends without folding the stream.
pub async fn stream_version(conn: &mut PgConnection, stream_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1")
        .bind(stream_id)
        .fetch_one(conn)
        .await
}

/// Up to `limit` committed events after `after`, in commit order; with
/// `published_only`, only events that have a published form.
pub async fn read_committed(
    conn: &mut PgConnection,
    after: CommitCursor,
    limit: i64,
    published_only: bool,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events \
         WHERE (tx_id, position) > ($1, $2) \
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
           AND ($3 = false OR published_type IS NOT NULL) \
         ORDER BY tx_id, position LIMIT $4"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after.tx_id)
        .bind(after.position)
        .bind(published_only)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// Up to `limit` events after `after` that the caller's snapshot sees, in commit
/// order, without waiting for running transactions: for a reader that holds every
/// writer off while it reads (a rebuild of the write model).
pub async fn read_visible(
    conn: &mut PgConnection,
    after: CommitCursor,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE (tx_id, position) > ($1, $2) \
         ORDER BY tx_id, position LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after.tx_id)
        .bind(after.position)
        .bind(limit)
        .fetch_all(conn)
        .await
}

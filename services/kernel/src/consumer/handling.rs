//! What happens to one received event inside a consumer's transaction.

use sqlx::PgConnection;

use super::{Projection, ReceivedEvent};

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    Handled,
    /// Already in the inbox: a redelivery, nothing changed.
    Duplicate,
    /// It came before an earlier event of its stream; not applied yet.
    AheadOfPredecessor,
}

/// Whether an event that skips sequence numbers waits for the missing ones, or is
/// applied with the gap recorded (after it has waited long enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnGap {
    Wait,
    RecordAndApply,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ApplyError {
    /// The projection failed: counts towards dead-lettering.
    #[error("projection failed: {0:#}")]
    Handler(anyhow::Error),
    /// The consumer's own tables failed: Postgres trouble, retried later.
    #[error("consumer bookkeeping failed: {0}")]
    Store(#[from] sqlx::Error),
}

pub(super) async fn apply<P: Projection>(
    conn: &mut PgConnection,
    projection: &P,
    event: &ReceivedEvent,
    on_gap: OnGap,
) -> Result<Applied, ApplyError> {
    let consumer = projection.name();
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT stream_version FROM consumer_streams WHERE consumer = $1 AND stream_id = $2",
    )
    .bind(consumer)
    .bind(&event.stream_id)
    .fetch_optional(&mut *conn)
    .await?;
    let expected = last.unwrap_or(0) + 1;
    if event.sequence > expected {
        if on_gap == OnGap::Wait {
            return Ok(Applied::AheadOfPredecessor);
        }
        record_gap(conn, consumer, event, expected).await?;
    }
    let fresh = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event.event_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(Applied::Duplicate);
    }
    projection
        .handle(conn, event)
        .await
        .map_err(ApplyError::Handler)?;
    advance_stream(conn, consumer, event).await?;
    Ok(Applied::Handled)
}

async fn advance_stream(
    conn: &mut PgConnection,
    consumer: &str,
    event: &ReceivedEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consumer_streams (consumer, stream_id, stream_version) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer, stream_id) DO UPDATE \
         SET stream_version = GREATEST(consumer_streams.stream_version, EXCLUDED.stream_version)",
    )
    .bind(consumer)
    .bind(&event.stream_id)
    .bind(event.sequence)
    .execute(conn)
    .await?;
    Ok(())
}

async fn record_gap(
    conn: &mut PgConnection,
    consumer: &str,
    event: &ReceivedEvent,
    expected: i64,
) -> Result<(), sqlx::Error> {
    tracing::warn!(
        consumer,
        stream_id = %event.stream_id,
        expected,
        received = event.sequence,
        event_id = %event.event_id,
        "stream gap: events missing before this one; the projection needs a rebuild"
    );
    metrics::counter!("lienlac_consumer_stream_gaps_total", "consumer" => consumer.to_owned())
        .increment(1);
    sqlx::query(
        "INSERT INTO stream_gaps (consumer, stream_id, expected_version, received_version, event_id) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(consumer)
    .bind(&event.stream_id)
    .bind(expected)
    .bind(event.sequence)
    .bind(event.event_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Parks an event the projection could not handle, so the stream moves on.
pub(super) async fn dead_letter(
    conn: &mut PgConnection,
    consumer: &str,
    event: &ReceivedEvent,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    tracing::error!(consumer, event_id = %event.event_id, event_type = %event.event_type, error, "event dead-lettered");
    metrics::counter!("lienlac_consumer_dead_letters_total", "consumer" => consumer.to_owned())
        .increment(1);
    sqlx::query("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(consumer)
        .bind(event.event_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO dead_letters (consumer, event_id, event_type, subject, headers, payload, error, attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event.event_id)
    .bind(&event.event_type)
    .bind(&event.subject)
    .bind(event.headers_json())
    .bind(event.payload.as_ref())
    .bind(error)
    .bind(attempts as i32)
    .execute(&mut *conn)
    .await?;
    advance_stream(conn, consumer, event).await
}

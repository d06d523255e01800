//! What happens to one received event inside a consumer's transaction.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use super::{Projection, ReceivedEvent};

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    Handled,
    /// Already in the inbox, or its stream is past it: nothing changed.
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

/// Applies events (a batch, or one alone) in the caller's transaction: skips
/// redeliveries (already in the inbox), holds back or records events that skip
/// their stream's sequence, runs the projection on the rest and records their
/// streams' new versions, with one statement each for the stream versions, the
/// inbox and the new versions.
pub(super) async fn apply_batch<P: Projection>(
    conn: &mut PgConnection,
    projection: &P,
    events: &[(&ReceivedEvent, OnGap)],
) -> Result<Vec<Applied>, ApplyError> {
    let consumer = projection.name();
    let stream_ids: Vec<&str> = events.iter().map(|(e, _)| e.stream_id.as_str()).collect();
    let known: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stream_id, stream_version FROM consumer_streams \
         WHERE consumer = $1 AND stream_id = ANY($2)",
    )
    .bind(consumer)
    .bind(&stream_ids)
    // Planned for each batch: a plan cached while the table was small (a seq scan)
    // would stay while it grows to millions of streams when nothing analyzes it.
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (stream_id, version) in &known {
        last.insert(stream_id.as_str(), *version);
    }

    let mut outcomes = vec![Applied::Handled; events.len()];
    let mut candidates = Vec::with_capacity(events.len());
    for (index, (event, on_gap)) in events.iter().enumerate() {
        let seen = last.get(event.stream_id.as_str()).copied().unwrap_or(0);
        // Its stream is already past it: applied before (perhaps by a replay, which
        // keeps no inbox rows), and published again.
        if event.sequence <= seen {
            outcomes[index] = Applied::Duplicate;
            continue;
        }
        if event.sequence > seen + 1 {
            if *on_gap == OnGap::Wait {
                outcomes[index] = Applied::AheadOfPredecessor;
                continue;
            }
            record_gap(conn, consumer, event, seen + 1).await?;
        }
        last.insert(event.stream_id.as_str(), seen.max(event.sequence));
        candidates.push(index);
    }

    let ids: Vec<uuid::Uuid> = candidates.iter().map(|&i| events[i].0.event_id).collect();
    let mut fresh: HashSet<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) \
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(consumer)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let mut to_handle = Vec::with_capacity(candidates.len());
    for &index in &candidates {
        let event = events[index].0;
        // `remove`: the same id twice in one batch is applied once.
        if fresh.remove(&event.event_id) {
            to_handle.push(event);
        } else {
            outcomes[index] = Applied::Duplicate;
        }
    }
    if to_handle.is_empty() {
        return Ok(outcomes);
    }
    projection
        .handle_batch(conn, &to_handle)
        .await
        .map_err(ApplyError::Handler)?;

    let mut newest: HashMap<&str, i64> = HashMap::new();
    for event in &to_handle {
        let version = newest.entry(event.stream_id.as_str()).or_insert(0);
        *version = (*version).max(event.sequence);
    }
    let (streams, versions): (Vec<&str>, Vec<i64>) = newest.into_iter().unzip();
    save_stream_versions(conn, consumer, &streams, &versions).await?;
    Ok(outcomes)
}

/// Records the newest version the consumer has seen of each stream.
async fn save_stream_versions(
    conn: &mut PgConnection,
    consumer: &str,
    streams: &[&str],
    versions: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consumer_streams (consumer, stream_id, stream_version) \
         SELECT $1, * FROM unnest($2::text[], $3::bigint[]) \
         ON CONFLICT (consumer, stream_id) DO UPDATE \
         SET stream_version = GREATEST(consumer_streams.stream_version, EXCLUDED.stream_version)",
    )
    .bind(consumer)
    .bind(streams)
    .bind(versions)
    .execute(conn)
    .await?;
    Ok(())
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

pub(super) async fn record_gap(
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

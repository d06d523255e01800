//! Rebuilding a projection at bulk speed: replays the publisher's stream from its
//! first message into an empty projection, then hands over to the durable consumer.
//!
//! The durable consumer's per-event care (an ack per message, the inbox, a
//! stream-version lookup per batch) is what a replay can do without: an ephemeral
//! consumer without acks delivers each stored message once, in stream order, in
//! pulls of thousands; a message missed on the way shows as a skipped consumer
//! sequence and starts the replay again. The stream versions are kept in memory to
//! skip duplicates and record gaps, and are written once at the end so that the
//! durable consumer, created to start right after the last replayed message, goes
//! on checking sequences where the replay stopped. The projection applies the
//! events with [`Projection::replay_batch`], free to load them in bulk. Receiving
//! and writing overlap: the next batch arrives while Postgres writes the current
//! one, and a projection that [replays in any
//! order](Projection::replays_in_any_order) has several batches written at once.
//! Commits do not wait for the disk (a crash loses the replay, which starts again
//! from an empty projection); the final one does. The caller's finishing work (the
//! read model's indexes) runs while the stream versions are written.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, pull},
};
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::{Acquire as _, PgConnection, PgPool};
use tokio::sync::mpsc;

use super::handling::{dead_letter, record_gap};
use super::runtime::{durable_config, parse_message};
use super::{ConsumerSource, Projection, ReceivedEvent};
use crate::config::ConsumerSettings;
use crate::copy::BinaryRows;

/// What a replay applied, and where the durable consumer takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub events: u64,
    /// The stream sequence of the last message replayed (0: the stream was empty).
    pub last_sequence: u64,
}

/// A received message: its event, or a stand-in and why it does not parse.
type Parsed = (ReceivedEvent, Option<String>);

/// Batches waiting for Postgres while the next ones arrive.
const BATCHES_AHEAD: usize = 4;
/// How long a batch waits to fill up once its first message is in.
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// What one pull of a replay asks JetStream for: enough that it keeps sending
/// while the previous pull's messages are parsed.
pub const REPLAY_PULL_MESSAGES: usize = 10_000;
pub const REPLAY_PULL_BYTES: usize = 32 << 20;
/// Batches written at once, each in a transaction of its own, when the projection
/// replays in any order: one is decoded while Postgres loads another. Each takes a
/// connection of the pool.
pub const REPLAY_WRITERS: usize = 3;
/// Streams the versions map makes room for up front (about 70 MB).
const VERSIONS_RESERVED: usize = 1 << 20;
/// Stream versions written per COPY at the end (about 10 MB).
const VERSIONS_PER_COPY: usize = 100_000;

/// Replays every message of `source` present when it starts into `projection`,
/// which must be empty and have no durable consumer yet; returns where the durable
/// consumer must start (see [`create_consumer_after`]). `finish` (the read model's
/// indexes, say) is first polled once every event is written, and runs while the
/// stream versions are saved.
///
/// The pool needs a connection for each batch written at once (`REPLAY_WRITERS`
/// for a projection that replays in any order, else one), then two: one for the
/// versions and one for `finish`. An error may leave part of that written: the
/// projection is reset before it is replayed again.
pub async fn replay<P: Projection>(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    source: &ConsumerSource,
    projection: &P,
    batch_size: usize,
    finish: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Replayed> {
    let mut stream = jetstream
        .get_stream(&source.stream)
        .await
        .with_context(|| format!("waiting for stream {}", source.stream))?;
    let last_stored = stream.info().await?.state.last_sequence;
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: source.filter_subject.clone(),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .context("creating the replay's consumer")?;
    let consumer_name = consumer.cached_info().name.clone();
    let pending = consumer.cached_info().num_pending;
    if pending == 0 {
        let _ = stream.delete_consumer(&consumer_name).await;
        finish.await?;
        return Ok(Replayed {
            events: 0,
            last_sequence: last_stored,
        });
    }
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(REPLAY_PULL_MESSAGES)
        .max_bytes_per_batch(REPLAY_PULL_BYTES)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .context("pulling messages")?;
    let (batches, mut received) = mpsc::channel::<Vec<Parsed>>(BATCHES_AHEAD);

    // Receiving runs as a task of its own, so that it and the projection's decoding
    // use both cores.
    let owner = source.clone();
    let receiving = tokio::spawn(async move {
        let mut last_sequence = 0;
        let mut delivered = 0;
        loop {
            // A full batch, unless the stream ends or JetStream pauses: a batch is a
            // transaction, and small ones would cost a round trip each.
            let mut parsed = Vec::with_capacity(batch_size);
            let mut done = false;
            let mut filled_by = tokio::time::Instant::now();
            while parsed.len() < batch_size && !done {
                let message = if parsed.is_empty() {
                    let first = messages.next().await;
                    filled_by = tokio::time::Instant::now() + BATCH_WAIT;
                    first
                } else {
                    match tokio::time::timeout_at(filled_by, messages.next()).await {
                        Ok(message) => message,
                        Err(_) => break,
                    }
                };
                let message = message
                    .context("the replay's stream ended")?
                    .context("receiving a message")?;
                let info = message
                    .info()
                    .map_err(|error| anyhow::anyhow!("a replayed message's metadata: {error}"))?;
                // Without acks nothing is sent twice: a skipped number is a message
                // lost between JetStream and here.
                if info.consumer_sequence != delivered + 1 {
                    anyhow::bail!(
                        "the replay missed messages after stream sequence {last_sequence}; starting again"
                    );
                }
                delivered = info.consumer_sequence;
                last_sequence = info.stream_sequence;
                done = info.stream_sequence >= last_stored || info.pending == 0;
                parsed.push(parse_message(&message, &owner));
            }
            if batches.send(parsed).await.is_err() || done {
                return anyhow::Ok(last_sequence);
            }
        }
    });
    let writing = async {
        let mut versions = Versions::with_room_for(pending);
        let writer = Writer { pool, projection };
        let writers = if projection.replays_in_any_order() {
            REPLAY_WRITERS
        } else {
            1
        };
        futures::stream::poll_fn(|cx| received.poll_recv(cx))
            .map(|batch| anyhow::Ok(versions.sort_out(batch)))
            .try_for_each_concurrent(writers, |batch| writer.write(batch))
            .await?;
        anyhow::Ok(versions)
    };
    let abort = receiving.abort_handle();
    let received = async {
        receiving
            .await
            .context("the replay's receiving task stopped")?
    };
    let outcome = tokio::try_join!(received, writing);
    // A failed write leaves the receiving task waiting for room in the channel.
    abort.abort();
    let _ = stream.delete_consumer(&consumer_name).await;
    let (last_sequence, versions) = outcome?;
    tokio::try_join!(versions.save(pool, projection.name()), finish)?;
    let events = versions.events;
    tracing::info!(
        consumer = projection.name(),
        events,
        last_sequence,
        "replay finished"
    );
    Ok(Replayed {
        events,
        last_sequence,
    })
}

/// Creates the projection's durable consumer to deliver what comes after a replay;
/// `ConsumerRuntime::run` then continues from there.
pub async fn create_consumer_after(
    jetstream: &jetstream::Context,
    source: &ConsumerSource,
    name: &str,
    settings: &ConsumerSettings,
    replayed: Replayed,
) -> anyhow::Result<()> {
    let stream = jetstream.get_stream(&source.stream).await?;
    let deliver_policy = DeliverPolicy::ByStartSequence {
        start_sequence: replayed.last_sequence + 1,
    };
    stream
        .create_consumer(durable_config(name, source, settings, deliver_policy))
        .await
        .with_context(|| format!("creating durable consumer {name}"))?;
    Ok(())
}

/// The newest version seen of each stream, kept in stream order as batches
/// arrive, whatever order they are written in.
struct Versions {
    /// Hashed with foldhash: SipHash over a million 80-byte stream ids showed in
    /// profiles of a rebuild.
    newest: HashMap<String, i64, foldhash::fast::RandomState>,
    /// Events handed to the projection.
    events: u64,
}

/// A batch's events sorted out for writing.
struct SortedBatch {
    fresh: Vec<ReceivedEvent>,
    /// Fresh events that skip versions of their stream: the index in `fresh` and
    /// the version that was expected.
    gaps: Vec<(usize, i64)>,
    unparseable: Vec<(ReceivedEvent, String)>,
}

impl Versions {
    /// Room for as many streams as there are events, up to `VERSIONS_RESERVED`:
    /// growing a map of a million streams copies it each time.
    fn with_room_for(events: u64) -> Self {
        let streams = usize::try_from(events)
            .map_or(VERSIONS_RESERVED, |events| events.min(VERSIONS_RESERVED));
        Self {
            newest: HashMap::with_capacity_and_hasher(streams, Default::default()),
            events: 0,
        }
    }

    /// Drops the events published twice and notes the gaps.
    fn sort_out(&mut self, batch: Vec<Parsed>) -> SortedBatch {
        let mut sorted = SortedBatch {
            fresh: Vec::with_capacity(batch.len()),
            gaps: Vec::new(),
            unparseable: Vec::new(),
        };
        for (event, error) in batch {
            if let Some(error) = error {
                sorted.unparseable.push((event, error));
                continue;
            }
            // Sequences start at 1: a stream not seen yet is at 0.
            let seen = self.newest.entry(event.stream_id.clone()).or_insert(0);
            if event.sequence <= *seen {
                continue; // published twice
            }
            if event.sequence > *seen + 1 {
                sorted.gaps.push((sorted.fresh.len(), *seen + 1));
            }
            *seen = event.sequence;
            sorted.fresh.push(event);
        }
        self.events += sorted.fresh.len() as u64;
        sorted
    }

    /// Writes the versions for the durable consumer, durably, with binary COPYs: a
    /// rebuild from a million roll calls has a million streams, which upserts took
    /// seconds to write. The projection started empty, so any versions recorded
    /// under its name are an earlier attempt's.
    async fn save(&self, pool: &PgPool, consumer: &str) -> anyhow::Result<()> {
        let mut versions: Vec<(&str, i64)> = self
            .newest
            .iter()
            .map(|(stream, version)| (stream.as_str(), *version))
            .collect();
        // Sorted, so that under a C collation the primary key's pages fill one
        // after another.
        versions.sort_unstable();
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM consumer_streams WHERE consumer = $1")
            .bind(consumer)
            .execute(&mut *tx)
            .await?;
        for chunk in versions.chunks(VERSIONS_PER_COPY) {
            let mut rows = BinaryRows::new(3);
            for (stream, version) in chunk {
                rows.row().text(consumer).text(stream).int8(*version);
            }
            rows.send(
                &mut tx,
                "COPY consumer_streams (consumer, stream_id, stream_version) FROM STDIN (FORMAT binary)",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

struct Writer<'a, P: Projection> {
    pool: &'a PgPool,
    projection: &'a P,
}

impl<P: Projection> Writer<'_, P> {
    /// Applies one batch in one transaction; when the projection fails on it, again
    /// one event at a time, dead-lettering those it still fails on.
    async fn write(&self, batch: SortedBatch) -> anyhow::Result<()> {
        let consumer = self.projection.name();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        for (index, expected) in &batch.gaps {
            record_gap(&mut tx, consumer, &batch.fresh[*index], *expected).await?;
        }
        for (event, error) in &batch.unparseable {
            dead_letter(&mut tx, consumer, event, error, 1).await?;
        }
        let fresh: Vec<&ReceivedEvent> = batch.fresh.iter().collect();
        let mut savepoint = tx.begin().await?;
        match self.projection.replay_batch(&mut savepoint, &fresh).await {
            Ok(()) => savepoint.commit().await?,
            Err(_) => {
                savepoint.rollback().await?;
                for event in fresh {
                    self.write_alone(&mut tx, event).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn write_alone(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> anyhow::Result<()> {
        let mut savepoint = conn.begin().await?;
        match self.projection.replay_batch(&mut savepoint, &[event]).await {
            Ok(()) => savepoint.commit().await?,
            Err(error) => {
                savepoint.rollback().await?;
                let error = format!("{error:#}");
                dead_letter(conn, self.projection.name(), event, &error, 1).await?;
            }
        }
        Ok(())
    }
}

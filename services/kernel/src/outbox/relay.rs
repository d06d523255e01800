//! The outbox relay: publishes committed events to JetStream in commit order, waits
//! for each acknowledgement, and only then moves its checkpoint.
//!
//! It reads with [`read_committed`], never "position > last seen", so a transaction
//! that commits late is never skipped. One relay is active per service schema (a
//! Postgres advisory lock); replicas stand by, and take over when the active one
//! dies or falls silent (paused, cut off) for 5 s. After a crash it republishes
//! from the checkpoint, and JetStream drops the duplicates by `Nats-Msg-Id`
//! (= event id) within the stream's duplicate window.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use opentelemetry::trace::TraceContextExt as _;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::cloudevents::{CloudEventHeaders, event_subject};
use crate::event_store::{CommitCursor, PublishedForm, RecordedEvent, read_committed};
use crate::retry::Backoff;
use crate::telemetry::{NatsHeaders, context_from_trace_headers};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The publishing service's name, for `ce-source`.
    pub service: String,
    /// `lienlac.<service>`, with any test namespace in front.
    pub subject_prefix: String,
    pub batch_size: i64,
    pub poll_interval: Duration,
    /// How long a publish waits for JetStream's acknowledgement.
    pub ack_timeout: Duration,
    /// A contract version still published beside the current one.
    pub earlier_contract: Option<EarlierContract>,
}

impl RelayConfig {
    pub fn from_kernel(config: &crate::config::KernelConfig) -> Self {
        Self {
            service: config.service.name.to_owned(),
            subject_prefix: config.subject_prefix(),
            batch_size: config.relay.batch_size,
            poll_interval: config.relay.poll_interval,
            ack_timeout: config.relay.ack_timeout,
            earlier_contract: None,
        }
    }
}

/// A version of a service's contract that subscribers were promised until its
/// retirement date: every event recorded before that day is published in the
/// earlier form too, on the earlier version's subjects, with the same `ce-id`.
#[derive(Debug, Clone, Copy)]
pub struct EarlierContract {
    /// The first day (UTC) on which a recorded event is no longer published in
    /// the earlier form.
    pub retired_on: time::Date,
    /// A stored event in the earlier form; `None` for one it does not have.
    pub form: fn(&RecordedEvent) -> Option<PublishedForm>,
}

impl EarlierContract {
    /// The earlier form of `event`, if it is owed one: recorded before the
    /// retirement date, published before it (a republish after it sends none), and
    /// not already published in that version.
    fn form_of(&self, event: &RecordedEvent) -> Option<PublishedForm> {
        let retired = |day: time::Date| day >= self.retired_on;
        if retired(event.recorded_at.date()) || retired(time::OffsetDateTime::now_utc().date()) {
            return None;
        }
        let form = (self.form)(event);
        if form.is_none() {
            tracing::warn!(event_id = %event.event_id, event_type = %event.event_type,
                "a stored event does not read in the earlier contract; only its current form is published");
            metrics::counter!("lienlac_outbox_earlier_form_missing_total").increment(1);
        }
        form.filter(|form| {
            event
                .published_type
                .as_deref()
                .is_none_or(|current| version_of(current) != version_of(&form.type_name))
        })
    }
}

pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    config: RelayConfig,
}

/// How long the active relay's session may be silent before Postgres ends it and
/// frees the lock. While it leads it speaks every poll interval, and waits on
/// JetStream no longer than an acknowledgement's timeout.
const SILENCE: Duration = Duration::from_secs(5);

/// Key of the advisory lock that makes one relay active per schema.
const LOCK_SQL: &str = "SELECT pg_try_advisory_lock(hashtext(current_schema() || '.outbox_relay'))";

impl Relay {
    pub fn new(pool: PgPool, mut jetstream: jetstream::Context, config: RelayConfig) -> Self {
        jetstream.set_timeout(config.ack_timeout);
        Self {
            pool,
            jetstream,
            config,
        }
    }

    /// Publishes until `shutdown`, then makes one last pass so that what was
    /// committed before the stop is flushed.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // At most a second apart: a stream between leaders refuses at once, and
        // its events go out within a second of the election.
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        while !shutdown.is_cancelled() {
            match self.lead(&shutdown).await {
                Ok(()) => break,
                Err(error) => {
                    metrics::counter!("lienlac_outbox_failures_total").increment(1);
                    let delay = backoff.next_delay();
                    tracing::warn!(error = ?error, retry_in_ms = delay.as_millis() as u64, "outbox relay failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.flush().await
    }

    /// Publishes everything committed before the call, waiting (up to 10 s) for
    /// transactions that were still running to finish; used at shutdown, in tests
    /// and in benchmarks. Does nothing when another relay holds the lead.
    pub async fn flush(&self) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        if !try_lock(&mut conn).await? {
            return Ok(()); // another relay is active and will publish
        }
        // Every transaction that could have written an event before now has an id
        // below this horizon; once none of them is running, all are readable.
        let horizon: i64 =
            sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                .fetch_one(&mut *conn)
                .await
                .context("reading the transaction horizon")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut cursor = load_checkpoint(&mut conn).await?;
        let result = loop {
            // Read before publishing: when no transaction below the horizon was
            // running before this pass, the pass sees all of their events. Read after
            // it, a transaction ending in between would be taken as published.
            let oldest_running: i64 =
                sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                    .fetch_one(&mut *conn)
                    .await
                    .context("reading the oldest running transaction")?;
            if let Err(error) = self.publish_all(&mut conn, &mut cursor).await {
                break Err(error);
            }
            if oldest_running >= horizon {
                break Ok(());
            }
            if Instant::now() > deadline {
                tracing::warn!(
                    "transactions still running after 10 s; their events will be published by the next relay"
                );
                break Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        unlock(&mut conn).await?;
        result
    }

    /// Takes the lead (waiting while another relay holds it), then publishes until
    /// shutdown. Returns an error when Postgres or NATS fails.
    async fn lead(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        while !try_lock(&mut conn).await? {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        tracing::info!(service = %self.config.service, "outbox relay is active");
        let result = async {
            crate::db::end_session_when_silent(&mut conn, SILENCE.max(self.config.ack_timeout * 2))
                .await
                .context("bounding the relay lock's idle session")?;
            let mut cursor = load_checkpoint(&mut conn).await?;
            loop {
                let published = self.publish_batch(&mut conn, &mut cursor).await?;
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                if published < self.config.batch_size as usize {
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
            }
        }
        .await;
        // The lock and the silence bound belong to this lead: release both before
        // the connection goes back to the pool, or close it rather than lend the
        // lock to the pool's next user.
        let released = async {
            unlock(&mut conn).await?;
            sqlx::query("RESET idle_session_timeout")
                .execute(&mut *conn)
                .await
                .context("resetting the idle session bound")?;
            anyhow::Ok(())
        }
        .await;
        if released.is_err() {
            drop(conn.detach());
        }
        result
    }

    /// Publishes batches until none is left readable.
    async fn publish_all(
        &self,
        conn: &mut PoolConnection<Postgres>,
        cursor: &mut CommitCursor,
    ) -> anyhow::Result<()> {
        while self.publish_batch(conn, cursor).await? > 0 {}
        Ok(())
    }

    /// Publishes the next batch after `cursor` and moves the checkpoint past what
    /// JetStream acknowledged. Returns how many events were published.
    async fn publish_batch(
        &self,
        conn: &mut PoolConnection<Postgres>,
        cursor: &mut CommitCursor,
    ) -> anyhow::Result<usize> {
        let events = read_committed(conn, *cursor, self.config.batch_size, true)
            .await
            .context("reading committed events")?;
        if events.is_empty() {
            return Ok(0);
        }
        // Each event's acknowledgements: its current form's, then its earlier form's.
        let mut pending: Vec<Vec<PublishAckFuture>> = Vec::with_capacity(events.len());
        'sending: for event in &events {
            let mut forms = vec![(
                event.event_id.to_string(),
                event
                    .published_type
                    .clone()
                    .context("event has no published form")?,
                event.published_payload.clone().unwrap_or_default(),
            )];
            if let Some(earlier) = self.config.earlier_contract.and_then(|c| c.form_of(event)) {
                let message_id = format!("{}.{}", event.event_id, version_of(&earlier.type_name));
                forms.push((message_id, earlier.type_name, earlier.payload));
            }
            let mut acks = Vec::with_capacity(forms.len());
            for (message_id, type_name, payload) in forms {
                match self.send(event, message_id, type_name, payload).await {
                    Ok(ack) => acks.push(ack),
                    Err(error) => {
                        tracing::warn!(error = ?error, event_id = %event.event_id, "publish not sent");
                        break 'sending;
                    }
                }
            }
            pending.push(acks);
        }
        let mut acknowledged = 0;
        let mut failure = None;
        'acknowledging: for (event, acks) in events.iter().zip(pending) {
            for ack in acks {
                if let Err(error) = ack.await {
                    failure = Some(anyhow::Error::new(error).context(format!(
                        "JetStream did not acknowledge event {}",
                        event.event_id
                    )));
                    break 'acknowledging;
                }
            }
            acknowledged += 1;
            let lag = time::OffsetDateTime::now_utc() - event.recorded_at;
            metrics::histogram!("lienlac_outbox_lag_seconds").record(lag.as_seconds_f64());
        }
        if acknowledged > 0 {
            let last = CommitCursor::of(&events[acknowledged - 1]);
            save_checkpoint(conn, last).await?;
            *cursor = last;
            metrics::counter!("lienlac_outbox_published_total").increment(acknowledged as u64);
        }
        match failure {
            Some(error) => Err(error),
            None if acknowledged < events.len() => Err(anyhow::anyhow!(
                "NATS did not take every publish of the batch"
            )),
            None => Ok(acknowledged),
        }
    }

    /// Sends one form of an event with its CloudEvents headers and trace context;
    /// the returned future resolves to JetStream's acknowledgement.
    async fn send(
        &self,
        event: &RecordedEvent,
        message_id: String,
        type_name: String,
        payload: Vec<u8>,
    ) -> anyhow::Result<PublishAckFuture> {
        let mut ce = CloudEventHeaders::of(event, &self.config.service)
            .context("event has no published form")?;
        ce.event_type = type_name;
        let subject = event_subject(
            &self.config.subject_prefix,
            &ce.event_type,
            event.district_id,
            event.school_id,
        );
        let span = tracing::info_span!(
            "outbox.publish",
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.operation.type = "publish",
            messaging.destination.name = %subject,
            event_id = %event.event_id,
            event_type = %ce.event_type,
        );
        let parent =
            context_from_trace_headers(event.traceparent.as_deref(), event.tracestate.as_deref());
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let mut headers = ce.to_header_map();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&span.context(), &mut NatsHeaders(&mut headers));
        });
        let started = Instant::now();
        let ack = self
            .jetstream
            .send_publish(
                subject,
                PublishMessage::build()
                    .payload(payload.into())
                    .headers(headers)
                    .message_id(message_id),
            )
            .instrument(span)
            .await
            .context("sending to NATS")?;
        metrics::histogram!("lienlac_outbox_send_seconds").record(started.elapsed().as_secs_f64());
        Ok(ack)
    }
}

/// `v1` of `lienlac.attendance.v1.MarkCorrected`.
fn version_of(type_name: &str) -> &str {
    type_name.rsplit('.').nth(1).unwrap_or(type_name)
}

async fn try_lock(conn: &mut PoolConnection<Postgres>) -> anyhow::Result<bool> {
    sqlx::query_scalar(LOCK_SQL)
        .fetch_one(&mut **conn)
        .await
        .context("taking the relay lock")
}

async fn unlock(conn: &mut PoolConnection<Postgres>) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_unlock(hashtext(current_schema() || '.outbox_relay'))")
        .execute(&mut **conn)
        .await
        .context("releasing the relay lock")?;
    Ok(())
}

async fn load_checkpoint(conn: &mut PoolConnection<Postgres>) -> anyhow::Result<CommitCursor> {
    let (tx_id, position): (i64, i64) =
        sqlx::query_as("SELECT tx_id, position FROM relay_checkpoint")
            .fetch_one(&mut **conn)
            .await
            .context("reading the relay checkpoint")?;
    Ok(CommitCursor { tx_id, position })
}

async fn save_checkpoint(
    conn: &mut PoolConnection<Postgres>,
    cursor: CommitCursor,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE relay_checkpoint SET tx_id = $1, position = $2, updated_at = now()")
        .bind(cursor.tx_id)
        .bind(cursor.position)
        .execute(&mut **conn)
        .await
        .context("moving the relay checkpoint")?;
    Ok(())
}

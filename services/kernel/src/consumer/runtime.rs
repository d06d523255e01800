//! Runs one projection as a durable pull consumer, until shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::{self, AckKind};
use futures::{FutureExt as _, StreamExt as _};
use opentelemetry::trace::TraceContextExt as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::handling::{Applied, ApplyError, OnGap, apply_batch, dead_letter};
use super::leader::Leadership;
use super::received::MalformedEvent;
use super::{Projection, ReceivedEvent};
use crate::config::{ConsumerSettings, ServiceId, stream_name_in, subject_root_in};
use crate::retry::Backoff;
use crate::telemetry::context_from_trace_headers;

/// The stream a consumer reads, the subjects it takes from it, and the service
/// whose events they must be.
#[derive(Debug, Clone)]
pub struct ConsumerSource {
    pub stream: String,
    pub filter_subject: String,
    /// The publishing service: every event's `ce-source` is `/lienlac/<publisher>/…`.
    pub publisher: &'static str,
    /// Every event's subject is `<subject_root>.…`.
    pub subject_root: String,
}

impl ConsumerSource {
    /// Every event `publisher` publishes, in `namespace` (empty in production).
    pub fn all_of(namespace: &str, publisher: ServiceId) -> Self {
        let subject_root = subject_root_in(namespace, publisher);
        Self {
            stream: stream_name_in(namespace, publisher),
            filter_subject: format!("{subject_root}.>"),
            publisher: publisher.name,
            subject_root,
        }
    }

    /// Whether `event` says it comes from this source's publisher, on its subjects:
    /// an event another service put on these subjects is not projected.
    pub fn owns(&self, event: &ReceivedEvent) -> Result<(), MalformedEvent> {
        let on_subjects = event
            .subject
            .strip_prefix(self.subject_root.as_str())
            .is_some_and(|rest| rest.starts_with('.'));
        if !on_subjects {
            return Err(MalformedEvent::Foreign {
                what: "subject",
                value: event.subject.clone(),
            });
        }
        let from_publisher = event
            .source
            .strip_prefix("/lienlac/")
            .and_then(|rest| rest.strip_prefix(self.publisher))
            .is_some_and(|rest| rest.starts_with('/'));
        if !from_publisher {
            return Err(MalformedEvent::Foreign {
                what: "ce-source",
                value: event.source.clone(),
            });
        }
        Ok(())
    }
}

pub struct ConsumerRuntime<P: Projection> {
    pool: PgPool,
    jetstream: jetstream::Context,
    projection: Arc<P>,
    source: ConsumerSource,
    settings: ConsumerSettings,
    /// When this runtime, in its current lead, first received each event it has
    /// not settled yet: an event ahead of its predecessor waits from then, not
    /// from when it was published, so that a replica taking over a backlog still
    /// waits for the predecessors a dead replica held.
    first_received: std::sync::Mutex<HashMap<uuid::Uuid, Instant>>,
}

/// A message with what the runtime parsed of it.
struct Delivery {
    message: jetstream::Message,
    event: ReceivedEvent,
    /// Parsing failed: dead-letter it without calling the projection.
    unparseable: Option<String>,
}

impl<P: Projection> ConsumerRuntime<P> {
    pub fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        projection: Arc<P>,
        source: ConsumerSource,
        settings: ConsumerSettings,
    ) -> Self {
        Self {
            pool,
            jetstream,
            projection,
            source,
            settings,
            first_received: std::sync::Mutex::default(),
        }
    }

    /// Consumes until `shutdown`; NATS or Postgres failures are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !shutdown.is_cancelled() {
            if let Err(error) = self.consume(&shutdown).await {
                let delay = backoff.next_delay();
                tracing::warn!(consumer = self.projection.name(), error = ?error, retry_in_ms = delay.as_millis() as u64, "consumer failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
            } else {
                backoff.reset();
            }
        }
        Ok(())
    }

    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let name = self.projection.name().to_owned();
        let Some(leadership) = Leadership::take(&self.pool, &name, shutdown).await? else {
            return Ok(());
        };
        // What another leader settled meanwhile would otherwise stay here for ever.
        self.first_received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        let stream = self
            .jetstream
            .get_stream(&self.source.stream)
            .await
            .with_context(|| format!("waiting for stream {}", self.source.stream))?;
        let mut consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                &name,
                durable_config(&name, &self.source, &self.settings, DeliverPolicy::All),
            )
            .await
            .with_context(|| format!("creating durable consumer {name}"))?;
        // A consumer made before the acknowledgement wait was changed keeps the
        // rest of its configuration (where it delivers from).
        let held = &consumer.cached_info().config;
        if held.ack_wait != self.settings.ack_wait {
            let mut config = held.clone();
            config.ack_wait = self.settings.ack_wait;
            stream
                .update_consumer(config)
                .await
                .with_context(|| format!("updating durable consumer {name}"))?;
            consumer = stream
                .get_consumer(&name)
                .await
                .map_err(|error| anyhow::anyhow!("reading durable consumer {name}: {error}"))?;
        }
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.batch_size)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .context("pulling messages")?;
        tracing::info!(consumer = %name, stream = %self.source.stream, "consumer started");
        loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = leadership.lost.cancelled() => anyhow::bail!("the consumer's lock was lost"),
                next = messages.next() => next,
            };
            let Some(first) = first else {
                anyhow::bail!("message stream ended");
            };
            let mut batch = vec![first.context("receiving a message")?];
            // Take whatever else is already here, without waiting, up to a batch.
            while batch.len() < self.settings.batch_size {
                match messages.next().now_or_never() {
                    Some(Some(message)) => batch.push(message.context("receiving a message")?),
                    _ => break,
                }
            }
            let deliveries: Vec<Delivery> = batch
                .into_iter()
                .map(|message| delivery(message, &self.source))
                .collect();
            self.process_holding(&deliveries).await?;
        }
    }

    /// Projects a batch, telling JetStream every half of the acknowledgement wait
    /// that it is still at it: JetStream redelivers only a dead replica's batch.
    async fn process_holding(&self, deliveries: &[Delivery]) -> anyhow::Result<()> {
        let process = self.process(deliveries);
        tokio::pin!(process);
        let half = self.settings.ack_wait / 2;
        let mut still_working = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
        loop {
            tokio::select! {
                done = &mut process => return done,
                _ = still_working.tick() => {
                    for delivery in deliveries {
                        let _ = delivery.message.ack_with(AckKind::Progress).await;
                    }
                }
            }
        }
    }

    /// Projects a batch in one transaction; falls back to one event at a time when
    /// a handler fails, so one poison event cannot hold the others back.
    async fn process(&self, deliveries: &[Delivery]) -> anyhow::Result<()> {
        if deliveries.iter().all(|d| d.unparseable.is_none()) {
            match self.process_together(deliveries).await {
                Ok(outcomes) => return self.settle(deliveries, &outcomes).await,
                Err(ApplyError::Store(error)) => {
                    self.nak_all(deliveries).await;
                    return Err(error).context("projecting a batch");
                }
                Err(ApplyError::Handler(_)) => {}
            }
        }
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match self.process_alone(delivery).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) => {
                    self.settle(&deliveries[..outcomes.len()], &outcomes)
                        .await?;
                    self.nak_all(&deliveries[outcomes.len()..]).await;
                    return Err(error);
                }
            }
        }
        self.settle(deliveries, &outcomes).await
    }

    async fn process_together(&self, deliveries: &[Delivery]) -> Result<Vec<Applied>, ApplyError> {
        // One span per event, joined to its producer's trace, open until the batch
        // that applies it commits.
        let _event_spans: Vec<tracing::Span> = deliveries
            .iter()
            .map(|delivery| self.event_span(&delivery.event))
            .collect();
        let events: Vec<(&ReceivedEvent, OnGap)> = deliveries
            .iter()
            .map(|delivery| (&delivery.event, self.gap_policy(delivery)))
            .collect();
        let batch = tracing::debug_span!("consumer.batch", consumer = %self.projection.name(), events = deliveries.len());
        async {
            let mut tx = self.pool.begin().await?;
            let outcomes = apply_batch(&mut tx, &*self.projection, &events).await?;
            tx.commit().await?;
            Ok(outcomes)
        }
        .instrument(batch)
        .await
    }

    /// One event in its own transaction, retried with backoff, then dead-lettered.
    async fn process_alone(&self, delivery: &Delivery) -> anyhow::Result<Applied> {
        let consumer = self.projection.name();
        let event = &delivery.event;
        if let Some(error) = &delivery.unparseable {
            let mut tx = self.pool.begin().await?;
            dead_letter(&mut tx, consumer, event, error, 1).await?;
            tx.commit().await?;
            return Ok(Applied::Handled);
        }
        let mut backoff = Backoff::new(self.settings.retry_initial, Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let span = self.event_span(event);
            let mut tx = self.pool.begin().await?;
            let alone = [(event, self.gap_policy(delivery))];
            let result = apply_batch(&mut tx, &*self.projection, &alone)
                .instrument(span)
                .await;
            match result {
                Ok(outcomes) => {
                    tx.commit().await?;
                    return Ok(outcomes[0]);
                }
                Err(ApplyError::Store(error)) => return Err(error.into()),
                Err(ApplyError::Handler(error)) if attempt >= self.settings.max_attempts => {
                    drop(tx);
                    let mut tx = self.pool.begin().await?;
                    dead_letter(&mut tx, consumer, event, &format!("{error:#}"), attempt).await?;
                    tx.commit().await?;
                    return Ok(Applied::Handled);
                }
                Err(ApplyError::Handler(error)) => {
                    drop(tx);
                    tracing::warn!(consumer, event_id = %event.event_id, attempt, error = ?error, "projection failed; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Acks what was applied or already there; asks again later for events that
    /// came ahead of their predecessor.
    async fn settle(&self, deliveries: &[Delivery], outcomes: &[Applied]) -> anyhow::Result<()> {
        let consumer = self.projection.name().to_owned();
        for (delivery, outcome) in deliveries.iter().zip(outcomes) {
            let result = match outcome {
                Applied::AheadOfPredecessor => {
                    delivery
                        .message
                        .ack_with(AckKind::Nak(Some(self.settings.gap_wait / 4)))
                        .await
                }
                Applied::Handled | Applied::Duplicate => delivery.message.ack().await,
            };
            result.map_err(|error| anyhow::anyhow!("acknowledging a message: {error}"))?;
            if !matches!(outcome, Applied::AheadOfPredecessor) {
                self.first_received
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(&delivery.event.event_id);
            }
            let label = match outcome {
                Applied::Handled => "handled",
                Applied::Duplicate => "duplicate",
                Applied::AheadOfPredecessor => "waiting",
            };
            metrics::counter!("lienlac_consumer_events_total", "consumer" => consumer.clone(), "outcome" => label)
                .increment(1);
            if let (Applied::Handled, Some(lag)) = (outcome, lag_since(&delivery.event.time)) {
                metrics::histogram!("lienlac_consumer_lag_seconds", "consumer" => consumer.clone())
                    .record(lag);
            }
        }
        Ok(())
    }

    /// Whether an event ahead of its predecessor still waits for it: for the
    /// acknowledgement wait (a dead replica's unacknowledged predecessor comes
    /// back after it) and then the gap wait, from when this runtime first got it.
    fn gap_policy(&self, delivery: &Delivery) -> OnGap {
        let mut first_received = self
            .first_received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let since = *first_received
            .entry(delivery.event.event_id)
            .or_insert_with(Instant::now);
        if since.elapsed() < self.settings.ack_wait + self.settings.gap_wait {
            OnGap::Wait
        } else {
            OnGap::RecordAndApply
        }
    }

    async fn nak_all(&self, deliveries: &[Delivery]) {
        for delivery in deliveries {
            let _ = delivery
                .message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }

    fn event_span(&self, event: &ReceivedEvent) -> tracing::Span {
        let span = tracing::info_span!(
            "event.handle",
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.operation.type = "process",
            messaging.destination.name = %event.subject,
            messaging.consumer.group.name = %self.projection.name(),
            event_id = %event.event_id,
            event_type = %event.event_type,
        );
        let parent =
            context_from_trace_headers(event.traceparent.as_deref(), event.tracestate.as_deref());
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        span
    }
}

fn delivery(message: jetstream::Message, source: &ConsumerSource) -> Delivery {
    let (event, unparseable) = parse_message(&message, source);
    Delivery {
        message,
        event,
        unparseable,
    }
}

/// The event a message carries, or a stand-in and the reason it does not parse or
/// does not belong to `source`.
pub(super) fn parse_message(
    message: &jetstream::Message,
    source: &ConsumerSource,
) -> (ReceivedEvent, Option<String>) {
    let parsed = ReceivedEvent::parse(
        &message.subject,
        message.headers.as_ref(),
        message.payload.clone(),
    )
    .and_then(|event| source.owns(&event).map(|()| event));
    match parsed {
        Ok(event) => (event, None),
        Err(error) => {
            let sequence = message.info().map(|info| info.stream_sequence).unwrap_or(0);
            let event =
                ReceivedEvent::unparseable(&message.subject, sequence, message.payload.clone());
            (event, Some(error.to_string()))
        }
    }
}

/// The durable consumer of a projection, delivering from `deliver_policy` on.
pub(super) fn durable_config(
    name: &str,
    source: &ConsumerSource,
    settings: &ConsumerSettings,
    deliver_policy: DeliverPolicy,
) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject: source.filter_subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_ack_pending: (settings.batch_size * 4) as i64,
        deliver_policy,
        ..Default::default()
    }
}

/// Deletes a consumer's durable JetStream consumer on `stream` and, in `conn`'s
/// transaction, its bookkeeping: inbox, stream versions, gaps and dead letters.
pub async fn forget_consumer(
    conn: &mut sqlx::PgConnection,
    jetstream: &jetstream::Context,
    stream: &str,
    name: &str,
) -> anyhow::Result<()> {
    if let Ok(stream) = jetstream.get_stream(stream).await {
        let _ = stream.delete_consumer(name).await;
    }
    for table in ["inbox", "consumer_streams", "stream_gaps", "dead_letters"] {
        let sql = format!("DELETE FROM {table} WHERE consumer = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Empties a projection for a rebuild: deletes its durable consumer, its read
/// model and its inbox, so the next run replays the stream from the start.
/// The projection's runtime must be stopped.
pub async fn reset_projection<P: Projection>(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    source: &ConsumerSource,
    projection: &P,
) -> anyhow::Result<()> {
    let name = projection.name();
    let mut tx = pool.begin().await?;
    projection.reset(&mut tx).await?;
    forget_consumer(&mut tx, jetstream, &source.stream, name).await?;
    tx.commit().await?;
    tracing::info!(consumer = name, "projection reset for rebuild");
    Ok(())
}

/// Seconds from an event's `ce-time` to now: how far behind its writer a
/// projection runs. None for a time that does not parse.
fn lag_since(event_time: &str) -> Option<f64> {
    let written =
        time::OffsetDateTime::parse(event_time, &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some((time::OffsetDateTime::now_utc() - written).as_seconds_f64())
}

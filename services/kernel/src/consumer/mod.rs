//! The consumer runtime: durable JetStream pull consumers that project another
//! service's events into this service's schema, exactly once in effect.
//!
//! Per batch: one transaction checks each event's `ce-sequence` for gaps, inserts
//! the event ids into `inbox` (an id already there is a redelivery and is
//! skipped), runs the projection on the fresh events, commits, and only then
//! acks; the bookkeeping takes a few statements per batch, not per event. When a handler fails,
//! the batch is rolled back and its events are retried one by one with backoff;
//! an event that still fails goes to `dead_letters` with the error text, and the
//! stream keeps flowing.

mod handling;
mod leader;
mod received;
mod replay;
mod runtime;

pub use received::ReceivedEvent;
pub use replay::{
    REPLAY_PULL_BYTES, REPLAY_PULL_MESSAGES, REPLAY_WRITERS, Replayed, create_consumer_after,
    replay,
};
pub use runtime::{ConsumerRuntime, ConsumerSource, forget_consumer, reset_projection};

use std::future::Future;

use sqlx::PgConnection;

/// A read model fed by events. Handlers are idempotent and replayable: no outbound
/// calls, no randomness, no clock; everything they need is in the event.
pub trait Projection: Send + Sync + 'static {
    /// The durable consumer name, `<consumer-service>-<projection>`.
    fn name(&self) -> &str;

    /// Applies one event inside the runtime's transaction.
    fn handle(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Applies fresh events, in their order, inside the runtime's transaction. The
    /// default applies them one by one; a projection that writes many events with
    /// one statement overrides it. It must leave the same state as `handle` would.
    fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            for event in events {
                self.handle(conn, event).await?;
            }
            Ok(())
        }
    }

    /// Applies fresh events, in their order, during a rebuild's replay (see
    /// [`replay`]), into a read model that starts empty and may not have its
    /// indexes yet: a projection may load them in bulk, and set aside what needs
    /// the indexes until whoever runs the replay has built them. The default is
    /// `handle_batch`.
    fn replay_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        self.handle_batch(conn, events)
    }

    /// Completes a replay, once whoever runs it has built the read model's
    /// indexes: applies what `replay_batch` set aside. The default does nothing.
    fn finish_replay(
        &self,
        _conn: &mut PgConnection,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }

    /// Whether a replay may write its batches in any order, several at once: true
    /// for a projection whose `replay_batch` leaves the same state whichever batch
    /// commits first (it loads rows and leaves what depends on their order to
    /// `finish_replay`), and whose batches seldom write the same key (one would
    /// wait for the other's commit). The default is false: batches commit in
    /// stream order.
    fn replays_in_any_order(&self) -> bool {
        false
    }

    /// Empties the read model, before a rebuild replays every event.
    fn reset(&self, conn: &mut PgConnection) -> impl Future<Output = anyhow::Result<()>> + Send;
}

//! One replica projects a durable consumer at a time; the others stand by. Two
//! replicas pulling one consumer side by side would project consecutive events
//! of one aggregate in two transactions at once, the later one first, and a
//! redelivered event after its successor.
//!
//! The leader holds a session advisory lock named after its schema and consumer
//! on a connection of its own, and proves it is alive on it every few seconds:
//! a leader that dies loses the lock with its connection, and one that is paused
//! (or cut off) loses it when Postgres ends its idle session.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::{Connection as _, PgPool};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often a standby asks for the lock.
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How often the leader shows Postgres it is alive…
const HEARTBEAT: Duration = Duration::from_secs(3);
/// …well within the silence after which Postgres ends its session.
const SILENCE: Duration = Duration::from_secs(10);

pub(super) struct Leadership {
    /// Cancelled when the lock's connection is gone: stop projecting.
    pub(super) lost: CancellationToken,
    heartbeat: JoinHandle<()>,
}

impl Drop for Leadership {
    /// Ends the heartbeat, whose connection closes with it and frees the lock.
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Leadership {
    /// Waits until this replica leads `consumer`; None at shutdown.
    pub(super) async fn take(
        pool: &PgPool,
        consumer: &str,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        // Out of the pool: the lock lives as long as this connection, not a
        // pooled one's next user.
        let mut conn = pool
            .acquire()
            .await
            .context("a connection for the consumer's lock")?
            .detach();
        crate::db::end_session_when_silent(&mut conn, SILENCE)
            .await
            .context("bounding the consumer lock's idle session")?;
        loop {
            let held: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_lock(hashtext(current_schema() || '.consumer.' || $1))",
            )
            .bind(consumer)
            .fetch_one(&mut conn)
            .await
            .context("asking for the consumer's lock")?;
            if held {
                break;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(None),
                () = tokio::time::sleep(STANDBY_POLL) => {}
            }
        }
        let lost = CancellationToken::new();
        let on_loss = lost.clone();
        let consumer = consumer.to_owned();
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if let Err(error) = conn.ping().await {
                    tracing::warn!(consumer, error = %error, "the consumer's lock was lost; standing by");
                    on_loss.cancel();
                    return;
                }
            }
        });
        Ok(Some(Self { lost, heartbeat }))
    }
}

//! Work one replica at a time does every so often, in batches (announcements'
//! receipts, scheduled announcements, erased files): the loop, and the lock that
//! lets one replica into a batch.

use std::future::Future;
use std::time::Duration;

use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

/// Runs `batch` every `every` until `shutdown`, and again at once while it
/// handles a full batch of `size`; a failed batch is retried at the next tick.
pub(crate) async fn in_batches<F, Fut>(
    what: &'static str,
    every: Duration,
    size: i64,
    shutdown: CancellationToken,
    mut batch: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<i64>>,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        loop {
            match batch().await {
                Ok(done) if done == size => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(task = what, error = ?error, "a batch failed; retrying");
                    break;
                }
            }
        }
    }
}

/// Whether this replica takes the batch `name` now; the lock lasts as long as
/// the transaction.
pub(crate) async fn leads(tx: &mut PgConnection, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
        .bind(name)
        .fetch_one(tx)
        .await
}

//! The bytes of erased uploads leave the store: the directory projection marks a
//! departed guardian's uploads erased in its transaction (directory.rs), and this
//! task, on one replica at a time, deletes their files and thumbnails afterwards,
//! retrying what the store did not take until it does.

use std::sync::Arc;
use std::time::Duration;

use object_store::{ObjectStore, ObjectStoreExt as _};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const BATCH: i64 = 100;

pub(crate) async fn run(
    pool: PgPool,
    store: Arc<dyn ObjectStore>,
    every: Duration,
    shutdown: CancellationToken,
) {
    crate::periodic::in_batches("erased attachments", every, BATCH, shutdown, || {
        purge(&pool, store.as_ref())
    })
    .await;
}

/// One batch of erased uploads' files deleted; how many.
async fn purge(pool: &PgPool, store: &dyn ObjectStore) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    if !crate::periodic::leads(&mut tx, "messaging.purge").await? {
        return Ok(0);
    }
    let erased: Vec<(Uuid, Uuid, bool)> = sqlx::query_as(
        "SELECT id, school_id, has_thumbnail FROM attachments \
         WHERE erased_at IS NOT NULL AND purged_at IS NULL ORDER BY erased_at LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for &(id, school, thumbnail) in &erased {
        let mut keys = vec![super::key(school, id, false)];
        if thumbnail {
            keys.push(super::key(school, id, true));
        }
        for key in keys {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        sqlx::query("UPDATE attachments SET purged_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(erased.len() as i64)
}

//! A generation's consumer: a rebuild's replay of the stream into the empty
//! generation, then the durable consumer that follows it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use kernel::config::ConsumerSettings;
use kernel::consumer::{ConsumerRuntime, ConsumerSource, Projection};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::Model;

/// How a generation's consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Follow the durable consumer (created, from the stream's start, if missing).
    Follow,
    /// A rebuild: unless its durable consumer exists, replay the stream into the
    /// empty generation first, build the indexes, then follow from there.
    Replay,
}

/// A generation's consumer, before it runs.
pub(super) struct Consumer {
    pub(super) model: Model,
    pub(super) pool: PgPool,
    pub(super) jetstream: jetstream::Context,
    pub(super) source: ConsumerSource,
    pub(super) settings: ConsumerSettings,
    pub(super) start: Start,
}

impl Consumer {
    pub(super) async fn run<P: Projection>(
        self,
        projection: impl Fn() -> P,
        token: CancellationToken,
    ) -> anyhow::Result<()> {
        if self.start == Start::Replay {
            let mut backoff =
                kernel::retry::Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
            loop {
                let delay = match self.replay_unless_done(&projection()).await {
                    Ok(true) => break,
                    // Another replica is replaying.
                    Ok(false) => Duration::from_secs(1),
                    Err(error) => {
                        tracing::warn!(read_model = self.model.name(), error = ?error, "replay failed; starting again");
                        backoff.next_delay()
                    }
                };
                tokio::select! {
                    () = token.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
        ConsumerRuntime::new(
            self.pool,
            self.jetstream,
            Arc::new(projection()),
            self.source,
            self.settings,
        )
        .run(token)
        .await
    }

    /// Replays the stream into the generation, unless its durable consumer exists
    /// (the replay is done). One replica replays, under an advisory lock; the
    /// others answer `false` and wait. A replay that stopped half-way starts again
    /// from an empty generation.
    async fn replay_unless_done<P: Projection>(&self, projection: &P) -> anyhow::Result<bool> {
        let name = projection.name();
        let stream = self.jetstream.get_stream(&self.source.stream).await?;
        if stream.consumer_info(name).await.is_ok() {
            return Ok(true);
        }
        let mut lock = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
            .bind(name)
            .fetch_one(&mut *lock)
            .await?;
        if !locked {
            return Ok(false);
        }
        let result = self.replay(&stream, projection).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
            .bind(name)
            .execute(&mut *lock)
            .await;
        if unlocked.is_err() {
            lock.close().await?;
        }
        result.map(|()| true)
    }

    async fn replay<P: Projection>(
        &self,
        stream: &jetstream::stream::Stream,
        projection: &P,
    ) -> anyhow::Result<()> {
        if stream.consumer_info(projection.name()).await.is_ok() {
            return Ok(());
        }
        kernel::consumer::reset_projection(&self.pool, &self.jetstream, &self.source, projection)
            .await?;
        let replayed = kernel::consumer::replay(
            &self.pool,
            &self.jetstream,
            &self.source,
            projection,
            self.settings.batch_size,
            self.finish_replay(projection),
        )
        .await?;
        kernel::consumer::create_consumer_after(
            &self.jetstream,
            &self.source,
            projection.name(),
            &self.settings,
            replayed,
        )
        .await
    }

    /// Builds the replayed generation's indexes, has the projection apply what it
    /// set aside, and analyzes the tables, in one transaction.
    async fn finish_replay<P: Projection>(&self, projection: &P) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        // Enough memory for the sorts to stay off the disk.
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(self.model.indexes())
            .execute(&mut *tx)
            .await
            .context("building the indexes after the replay")?;
        projection
            .finish_replay(&mut tx)
            .await
            .context("finishing the replay")?;
        // A new generation has no statistics: the planner gets some before it answers.
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = current_schema()",
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ANALYZE {}",
            tables.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .context("analyzing the new generation")?;
        tx.commit().await?;
        Ok(())
    }
}

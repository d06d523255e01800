//! The read models, their generations, and rebuilds that swap.
//!
//! Each read model (`directory`, `attendance`, `transfers`) lives in a schema of its own per
//! generation, `<schema>_<name>_g<generation>`, fed by the durable consumer
//! `reporting-<name>-g<generation>`; the table `read_models` says which generation
//! answers queries. A rebuild creates the next generation's tables beside the live
//! one and replays the publisher's stream into them at bulk speed
//! (`kernel::consumer::replay`) while the live one keeps consuming and answering;
//! then it builds the indexes, lets the projection finish (what it set aside until
//! the indexes existed), analyzes the tables, and creates the generation's durable
//! consumer right after the last replayed message. Once that consumer has caught
//! up, one update of `read_models` makes it the live generation, queries move to
//! it, and the old generation is dropped after a grace period.
//!
//! Every replica runs the supervisor: it follows `read_models` (so a swap made by
//! one replica reaches the others within a tick), runs the consumers of the live
//! generations and of any rebuild under way, and swaps a rebuild that has caught
//! up; the swap is a conditional update, so only one replica makes it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream;
use kernel::config::{ConsumerSettings, KernelConfig, stream_name_in};
use kernel::consumer::ConsumerSource;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::projections::{AttendanceProjection, DirectoryProjection, TransfersProjection};

mod consumer;
mod model;
mod schemas;
mod swap;

use consumer::{Consumer, Start};
pub(crate) use model::Model;
use schemas::{Indexes, create_schema_unless_exists, query_pool};
pub(crate) use schemas::{consumer_name, schema_name};

/// How often each replica looks at `read_models` and at a rebuild's progress.
const TICK: Duration = Duration::from_millis(250);
/// How long an old generation stays after a swap, so that other replicas move
/// their queries and consumers off it first.
const SWAP_GRACE: Duration = Duration::from_secs(10);

/// A read model's row of `read_models`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Registration {
    pub(crate) name: String,
    pub(crate) generation: i64,
    pub(crate) rebuilding_generation: Option<i64>,
    pub(crate) last_swapped_at: Option<time::OffsetDateTime>,
}

/// A consumer this replica runs for one generation.
struct Running {
    generation: i64,
    token: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
    pool: PgPool,
}

#[derive(Default)]
struct Replica {
    live: HashMap<Model, Running>,
    rebuilding: HashMap<Model, Running>,
    /// The generations the query pool reads.
    queried: HashMap<Model, i64>,
}

pub(crate) struct ReadModels {
    config: KernelConfig,
    rebuild_batch_size: usize,
    main: PgPool,
    jetstream: jetstream::Context,
    queries: RwLock<PgPool>,
    replica: tokio::sync::Mutex<Replica>,
    wake: tokio::sync::Notify,
}

impl ReadModels {
    /// Registers each read model at generation 1 on first start, creates the
    /// schemas of the generations that should exist, and opens the query pool.
    pub(crate) async fn open(
        config: KernelConfig,
        rebuild_batch_size: usize,
        main: PgPool,
        jetstream: jetstream::Context,
    ) -> anyhow::Result<Arc<Self>> {
        let mut tx = main.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' read models'))")
            .execute(&mut *tx)
            .await?;
        for model in Model::ALL {
            sqlx::query(
                "INSERT INTO read_models (name, generation) VALUES ($1, 1) ON CONFLICT DO NOTHING",
            )
            .bind(model.name())
            .execute(&mut *tx)
            .await?;
        }
        let registrations: Vec<Registration> = sqlx::query_as("SELECT * FROM read_models")
            .fetch_all(&mut *tx)
            .await?;
        for registration in &registrations {
            let Some(model) = Model::parse(&registration.name) else {
                continue;
            };
            let live = schema_name(&config.schema, model, registration.generation);
            create_schema_unless_exists(&mut tx, model, &live, Indexes::Now).await?;
        }
        tx.commit().await?;
        let queried: HashMap<Model, i64> = registrations
            .iter()
            .filter_map(|r| Model::parse(&r.name).map(|model| (model, r.generation)))
            .collect();
        let queries = query_pool(&config, &queried).await?;
        Ok(Arc::new(Self {
            config,
            rebuild_batch_size,
            main,
            jetstream,
            queries: RwLock::new(queries),
            replica: tokio::sync::Mutex::new(Replica {
                queried,
                ..Replica::default()
            }),
            wake: tokio::sync::Notify::new(),
        }))
    }

    /// The pool that reads the live generations.
    pub(crate) fn queries(&self) -> PgPool {
        match self.queries.read() {
            Ok(pool) => pool.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) async fn registrations(&self) -> sqlx::Result<Vec<Registration>> {
        sqlx::query_as("SELECT * FROM read_models ORDER BY name")
            .fetch_all(&self.main)
            .await
    }

    /// How many events the rebuild of `model`, if any, has yet to apply.
    pub(crate) async fn rebuild_pending(&self, model: Model, generation: i64) -> Option<u64> {
        let info = self.consumer_info(model, generation).await?;
        Some(info.num_pending + info.num_ack_pending as u64)
    }

    /// Starts rebuilding `model` into its next generation; FAILED_PRECONDITION when
    /// one is already under way.
    pub(crate) async fn start_rebuild(&self, model: Model) -> Result<i64, RebuildRefused> {
        let mut tx = self.main.begin().await?;
        let registration: Registration =
            sqlx::query_as("SELECT * FROM read_models WHERE name = $1 FOR UPDATE")
                .bind(model.name())
                .fetch_one(&mut *tx)
                .await?;
        if let Some(generation) = registration.rebuilding_generation {
            return Err(RebuildRefused::UnderWay(generation));
        }
        let next = registration.generation + 1;
        // A rebuild that never finished (its replica stopped for good) may have left
        // this generation's schema and consumer behind: start clean.
        self.forget_generation(model, next).await?;
        let schema = schema_name(&self.config.schema, model, next);
        create_schema_unless_exists(&mut tx, model, &schema, Indexes::AfterReplay).await?;
        sqlx::query("UPDATE read_models SET rebuilding_generation = $2 WHERE name = $1")
            .bind(model.name())
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(
            read_model = model.name(),
            generation = next,
            "rebuild started"
        );
        self.wake.notify_one();
        Ok(next)
    }

    /// Runs this replica's consumers until `shutdown`, following `read_models`.
    pub(crate) async fn supervise(
        self: Arc<Self>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = interval.tick() => {}
                () = self.wake.notified() => {}
            }
            if let Err(error) = self.follow(&shutdown).await {
                tracing::warn!(error = ?error, "read model supervision failed; retrying");
            }
        }
        let mut replica = self.replica.lock().await;
        let replica = &mut *replica;
        let running: Vec<Running> = replica
            .live
            .drain()
            .chain(replica.rebuilding.drain())
            .map(|(_, running)| running)
            .collect();
        for consumer in running {
            stop(consumer).await;
        }
        Ok(())
    }

    /// One tick: start what should run, swap a rebuild that has caught up, stop
    /// what should no longer run.
    async fn follow(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut replica = self.replica.lock().await;
        for registration in self.registrations().await? {
            let Some(model) = Model::parse(&registration.name) else {
                continue;
            };
            let mut registration = registration;
            if let Some(target) = registration.rebuilding_generation {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    replica.rebuilding.entry(model)
                {
                    slot.insert(
                        self.spawn(
                            model,
                            target,
                            self.rebuild_settings(),
                            Start::Replay,
                            shutdown,
                        )
                        .await?,
                    );
                }
                if self.caught_up(model, target).await && self.swap(model, target).await? {
                    registration.generation = target;
                    registration.rebuilding_generation = None;
                    let old = replica.live.get(&model).map(|running| running.generation);
                    if let Some(old) = old {
                        self.forget_later(model, old);
                    }
                }
            }
            // A rebuild that became live keeps running, now as the live consumer.
            if let Some(running) = replica.rebuilding.remove(&model) {
                if running.generation == registration.generation {
                    if let Some(old) = replica.live.insert(model, running) {
                        stop(old).await;
                    }
                } else if Some(running.generation) == registration.rebuilding_generation {
                    replica.rebuilding.insert(model, running);
                } else {
                    stop(running).await;
                }
            }
            let live_generation = replica.live.get(&model).map(|running| running.generation);
            if live_generation != Some(registration.generation) {
                let running = self
                    .spawn(
                        model,
                        registration.generation,
                        self.config.consumer.clone(),
                        Start::Follow,
                        shutdown,
                    )
                    .await?;
                if let Some(old) = replica.live.insert(model, running) {
                    stop(old).await;
                }
            }
        }
        let live: HashMap<Model, i64> = replica
            .live
            .iter()
            .map(|(model, running)| (*model, running.generation))
            .collect();
        if live != replica.queried {
            let pool = query_pool(&self.config, &live).await?;
            replica.queried = live;
            // The old pool is not closed: reports that took it just before finish on
            // the old generation, which stays for the grace period; its connections
            // close when the last of them lets go.
            match self.queries.write() {
                Ok(mut queries) => *queries = pool,
                Err(poisoned) => *poisoned.into_inner() = pool,
            }
        }
        Ok(())
    }

    fn rebuild_settings(&self) -> ConsumerSettings {
        ConsumerSettings {
            batch_size: self.rebuild_batch_size,
            ..self.config.consumer.clone()
        }
    }

    async fn spawn(
        &self,
        model: Model,
        generation: i64,
        settings: ConsumerSettings,
        start: Start,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Running> {
        let schema = schema_name(&self.config.schema, model, generation);
        // A replay holds one connection for its lock and writes on the others.
        let connections = 1 + kernel::consumer::REPLAY_WRITERS as u32;
        let pool = kernel::db::connect_with_search_path(
            &self.config,
            &[&schema, &self.config.schema],
            connections,
        )
        .await?;
        let source = ConsumerSource::all_of(&self.config.namespace, model.publisher());
        let name = consumer_name(model, generation);
        let token = shutdown.child_token();
        let consumer = Consumer {
            model,
            pool: pool.clone(),
            jetstream: self.jetstream.clone(),
            source,
            settings,
            start,
        };
        let handle = match model {
            Model::Directory => tokio::spawn(consumer.run(
                move || DirectoryProjection::new(name.clone()),
                token.clone(),
            )),
            Model::Attendance => tokio::spawn(consumer.run(
                move || AttendanceProjection::new(name.clone()),
                token.clone(),
            )),
            Model::Transfers => tokio::spawn(consumer.run(
                move || TransfersProjection::new(name.clone()),
                token.clone(),
            )),
        };
        tracing::info!(read_model = model.name(), generation, "consumer started");
        Ok(Running {
            generation,
            token,
            handle,
            pool,
        })
    }

    async fn consumer_info(
        &self,
        model: Model,
        generation: i64,
    ) -> Option<jetstream::consumer::Info> {
        let stream_name = stream_name_in(&self.config.namespace, model.publisher());
        let stream = self.jetstream.get_stream(&stream_name).await.ok()?;
        stream
            .consumer_info(consumer_name(model, generation))
            .await
            .ok()
    }
}

/// A rebuild that cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RebuildRefused {
    #[error("a rebuild is already under way (generation {0})")]
    UnderWay(i64),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

async fn stop(running: Running) {
    running.token.cancel();
    if let Err(error) = running.handle.await {
        tracing::warn!(error = ?error, "a read model consumer panicked");
    }
    running.pool.close().await;
}

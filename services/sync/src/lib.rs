//! The sync service: lienlac's directory as a mirror of the city education
//! database (docs/sync.md). A run reads the source through its adapter
//! (source/), normalises it (normalise.rs), compares it with what identity
//! exports and plans the changes (plan/), and applies them through identity's
//! API with the mirror's own token (apply.rs); runs are recorded and resumed
//! (runs.rs, execute.rs). It changes the directory only through identity. Each
//! class's month-end absence totals go back to the city database (push/).

mod access;
mod api;
mod apply;
pub mod config;
mod directory;
mod execute;
mod export;
mod normalise;
mod plan;
mod push;
mod runs;
mod schedule;
mod source;
mod term_results;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kernel::bootstrap::ServiceHost;
use kernel::config::ServiceId;
use kernel::consumer::ConsumerSource;
use lienlac_proto::sync::v1::sync_service_server::SyncServiceServer;
use school::service_identity::ServiceIdentity;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use config::Settings;
pub use schedule::Schedule;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every use case needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) pool: PgPool,
    pub(crate) identity: tonic::transport::Channel,
    /// The mirror's own identity (its token writes the directory); `None` without
    /// a service secret, when no run starts.
    pub(crate) mirror: Option<Arc<ServiceIdentity>>,
    pub(crate) citydb: Option<Arc<source::citydb::CityDb>>,
    /// Wakes the run worker when a run is started.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) run_lease: Duration,
    pub(crate) keep_plans_for: Duration,
    /// Where the files runs read are dropped.
    pub(crate) drop_dir: std::path::PathBuf,
}

pub struct Application {
    host: ServiceHost,
    ctx: Ctx,
    push_every: Duration,
    schedule: Schedule,
    run_workers: usize,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let host = ServiceHost::build(settings.kernel.clone(), &MIGRATOR).await?;
        let identity = host
            .config
            .tls
            .endpoint(&host.config.identity_url)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .connect_lazy();
        let mirror = settings
            .service_secret
            .clone()
            .map(|secret| Arc::new(ServiceIdentity::new(identity.clone(), "sync", secret)));
        let citydb = settings
            .citydb
            .clone()
            .map(source::citydb::CityDb::new)
            .transpose()?
            .map(Arc::new);
        let ctx = Ctx {
            pool: host.pool.clone(),
            identity,
            mirror,
            citydb,
            wake: Arc::new(tokio::sync::Notify::new()),
            run_lease: settings.run_lease,
            keep_plans_for: settings.keep_plans_for,
            drop_dir: settings.drop_dir.clone(),
        };
        Ok(Self {
            host,
            ctx,
            push_every: settings.push_every,
            schedule: settings.schedule,
            run_workers: settings.run_workers,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.grpc_addr()
    }

    pub fn pool(&self) -> &PgPool {
        &self.ctx.pool
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.host.add_relay();
        let source = ConsumerSource::all_of(&self.host.config.namespace, ServiceId::IDENTITY);
        self.host
            .add_consumer(Arc::new(directory::DirectoryProjection), source);
        let attendance = ConsumerSource::all_of(&self.host.config.namespace, ServiceId::ATTENDANCE);
        self.host
            .add_consumer(Arc::new(push::AttendanceProjection), attendance);
        for _ in 0..self.run_workers {
            let ctx = self.ctx.clone();
            self.host
                .add_task("sync runs", move |stop| runs::work(ctx, stop));
        }
        let ctx = self.ctx.clone();
        let schedule = self.schedule;
        self.host.add_task("scheduled sync runs", move |stop| {
            schedule::work(ctx, schedule, stop)
        });
        let ctx = self.ctx.clone();
        let every = self.push_every;
        self.host
            .add_task("month-end pushes", move |stop| push::work(ctx, every, stop));
        let ctx = self.ctx.clone();
        self.host.add_task("sync plans purge", move |stop| async move {
            loop {
                if let Err(error) = runs::purge(&ctx).await {
                    tracing::warn!(error = %format!("{error:#}"), "purging old sync plans failed");
                }
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        });
        let authenticator = self.host.identity_authenticator()?;
        let routes = Routes::new(
            SyncServiceServer::new(api::Sync {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        );
        self.host
            .run(
                routes,
                &["lienlac.sync.v1.SyncService"],
                Some(authenticator),
                shutdown,
            )
            .await
    }
}

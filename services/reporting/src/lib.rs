//! The reporting service: read models built from identity's, attendance's and
//! sync's events only (never a call to another service), the reports principals,
//! district offices and guardians read, attendance exports, and rebuilds.

mod access;
mod api;
pub mod config;
mod peers;
mod privacy;
mod projections;
mod read_models;
mod reports;

use std::net::SocketAddr;
use std::sync::Arc;

use kernel::bootstrap::ServiceHost;
use lienlac_proto::privacy::v1::privacy_service_server::PrivacyServiceServer;
use lienlac_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use config::Settings;

use peers::Peers;
use read_models::ReadModels;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every report needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) settings: Arc<Settings>,
    pub(crate) read_models: Arc<ReadModels>,
    pub(crate) peers: Peers,
    /// The service's own schema: its log of reads (kernel/src/access_log.rs).
    pub(crate) pool: PgPool,
}

pub struct Application {
    host: ServiceHost,
    ctx: Ctx,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let host = ServiceHost::build(settings.kernel.clone(), &MIGRATOR).await?;
        let read_models = ReadModels::open(
            settings.kernel.clone(),
            settings.rebuild_batch_size,
            host.pool.clone(),
            host.jetstream.clone(),
        )
        .await?;
        let peers = Peers::new(
            [
                &host.config.identity_url,
                &settings.attendance_url,
                &settings.messaging_url,
            ],
            &host.config.tls,
        )?;
        let pool = host.pool.clone();
        Ok(Self {
            host,
            ctx: Ctx {
                settings: Arc::new(settings),
                read_models,
                peers,
                pool,
            },
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.grpc_addr()
    }

    /// The pool of the service's own schema (the read model registry and the
    /// consumers' bookkeeping).
    pub fn pool(&self) -> &PgPool {
        &self.host.pool
    }

    /// A pool that reads the live read models, as the reports do.
    pub fn read_models_pool(&self) -> PgPool {
        self.ctx.read_models.queries()
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let read_models = self.ctx.read_models.clone();
        self.host
            .add_task("read models", move |token| read_models.supervise(token));
        let authenticator = self.host.identity_authenticator()?;
        let routes = Routes::new(
            ReportingServiceServer::new(api::Reporting {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        )
        .add_service(
            PrivacyServiceServer::new(privacy::Privacy {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        );
        self.host
            .run(
                routes,
                &[
                    "lienlac.reporting.v1.ReportingService",
                    "lienlac.privacy.v1.PrivacyService",
                ],
                Some(authenticator),
                shutdown,
            )
            .await
    }
}

//! The attendance service: daily roll calls per class, school date and session, and
//! the public attendance event contract other systems subscribe to.
//!
//! It keeps its own projection of identity's directory (`directory.rs`), so that it
//! validates roll calls without calling identity, and verifies callers' tokens
//! against identity's JWKS.

mod api;
mod calendar;
pub mod config;
mod contract;
mod directory;
mod leaves;
mod roll_calls;
mod student_record;
mod write_model;

use std::net::SocketAddr;
use std::sync::Arc;

use kernel::bootstrap::ServiceHost;
use kernel::config::ServiceId;
use kernel::consumer::ConsumerSource;
use lienlac_proto::attendance::v1::attendance_service_server::AttendanceServiceServer;
use lienlac_proto::privacy::v1::read_log_server::ReadLogServer;
use school::read_log::ReadLogService;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use config::Settings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every use case needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) pool: PgPool,
    pub(crate) settings: Arc<Settings>,
    /// Classes already looked up (their school and district never change).
    pub(crate) classes:
        Arc<std::sync::RwLock<std::collections::HashMap<uuid::Uuid, directory::ClassRow>>>,
}

pub struct Application {
    host: ServiceHost,
    ctx: Ctx,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let mut host = ServiceHost::build(settings.kernel.clone(), &MIGRATOR).await?;
        host.publish_earlier_contract(contract::V1);
        let ctx = Ctx {
            pool: host.pool.clone(),
            settings: Arc::new(settings),
            classes: Arc::default(),
        };
        Ok(Self { host, ctx })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.grpc_addr()
    }

    pub fn pool(&self) -> &PgPool {
        &self.ctx.pool
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.host.add_relay();
        let pool = self.ctx.pool.clone();
        self.host.add_task("missing roll calls gauge", move |stop| {
            roll_calls::missing::gauge_until(pool, stop)
        });
        let source = ConsumerSource::all_of(&self.host.config.namespace, ServiceId::IDENTITY);
        self.host
            .add_consumer(Arc::new(directory::DirectoryProjection), source);
        let authenticator = self.host.identity_authenticator()?;
        let routes = Routes::new(
            AttendanceServiceServer::new(api::Attendance {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        )
        .add_service(ReadLogServer::new(ReadLogService::new(
            self.ctx.pool.clone(),
            "attendance",
            directory::Students(self.ctx.pool.clone()),
        )));
        self.host
            .run(
                routes,
                &[
                    "lienlac.attendance.v1.AttendanceService",
                    "lienlac.privacy.v1.ReadLog",
                ],
                Some(authenticator),
                shutdown,
            )
            .await
    }
}

//! Readiness: SERVING only while Postgres answers and NATS is connected. It starts
//! NOT_SERVING, turns SERVING after the first good check, and follows outages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

const CHECK_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    names: Arc<Vec<String>>,
    ready: Arc<AtomicBool>,
}

impl Readiness {
    pub(super) fn new(reporter: HealthReporter, names: Vec<String>) -> Self {
        Self {
            reporter,
            names: Arc::new(names),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(super) async fn set(&self, ready: bool) {
        let was = self.ready.swap(ready, Ordering::Relaxed);
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        super::set_health(&self.reporter, &self.names, status).await;
        if was != ready {
            tracing::info!(ready, "readiness changed");
        }
    }
}

pub(super) async fn watch(
    readiness: Readiness,
    pool: PgPool,
    nats: async_nats::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let postgres = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("SELECT 1").execute(&pool),
        )
        .await
        .is_ok_and(|result| result.is_ok());
        let nats_connected = nats.connection_state() == async_nats::connection::State::Connected;
        readiness.set(postgres && nats_connected).await;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

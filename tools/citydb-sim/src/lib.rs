//! A simulator of the city education database as lienlac's sync service expects
//! it (docs/sync.md): its data from CSV files (files.rs) or made up at city scale
//! (generate.rs), served over HTTP (api.rs) with the faults a test asks for
//! (faults.rs). Tests start it in-process and change the city as the city's
//! schools would.

mod api;
pub mod faults;
pub mod files;
pub mod generate;
pub mod model;
pub mod term_results;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use faults::Faults;
pub use model::City;

/// The client lienlac is registered as, unless the simulator is told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "lienlac";

pub struct Settings {
    pub bind: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    pub faults: Faults,
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<api::Shared>,
}

impl Simulator {
    pub async fn start(
        city: City,
        settings: Settings,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let shared = Arc::new(api::Shared::new(
            city,
            settings.faults,
            settings.client_id,
            settings.client_secret,
            settings.token_lifetime,
        ));
        let listener = tokio::net::TcpListener::bind(settings.bind).await?;
        let addr = listener.local_addr()?;
        let app = api::router(shared.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the city database simulator stopped");
            }
        });
        Ok(Self { addr, shared })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the city as its schools would (each change in the change feed).
    pub fn edit<T>(&self, change: impl FnOnce(&mut City) -> T) -> T {
        change(&mut self.shared.city())
    }

    /// A copy of the city as it is now.
    pub fn city(&self) -> City {
        self.shared.city().clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }
}

//! The sync service binary.

/// mimalloc, as every lienlac service (reporting/src/main.rs says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use kernel::config::ServiceId;
use sync::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let otlp_endpoint = settings.kernel.otlp_endpoint.clone();
    kernel::bootstrap::run_main(
        ServiceId::SYNC,
        otlp_endpoint,
        Application::build(settings),
        |app, shutdown| app.run_until_stopped(shutdown),
    )
    .await
}

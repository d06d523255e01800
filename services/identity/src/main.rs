//! The identity service binary.

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use identity::{Application, Settings};
use kernel::config::ServiceId;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let otlp_endpoint = settings.kernel.otlp_endpoint.clone();
    kernel::bootstrap::run_main(
        ServiceId::IDENTITY,
        otlp_endpoint,
        Application::build(settings),
        |app, shutdown| app.run_until_stopped(shutdown),
    )
    .await
}

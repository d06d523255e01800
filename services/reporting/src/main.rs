//! The reporting service binary.

use kernel::config::ServiceId;
use reporting::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let otlp_endpoint = settings.kernel.otlp_endpoint.clone();
    kernel::bootstrap::run_main(
        ServiceId::REPORTING,
        otlp_endpoint,
        Application::build(settings),
        |app, shutdown| app.run_until_stopped(shutdown),
    )
    .await
}

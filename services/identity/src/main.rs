//! The identity service binary.

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

//! The attendance service binary: settings, telemetry, build, run until SIGTERM/SIGINT.

use attendance::{Application, Settings};
use kernel::telemetry::{self, TelemetrySettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let telemetry = telemetry::init(&TelemetrySettings {
        service_name: "lienlac-attendance".to_owned(),
        otlp_endpoint: settings.kernel.otlp_endpoint.clone(),
        json_logs: true,
    })?;
    let app = Application::build(settings).await?;
    let outcome =
        kernel::bootstrap::run_until_signal(|shutdown| app.run_until_stopped(shutdown)).await;
    telemetry.shutdown().await;
    outcome
}

//! The attendance service binary: settings, telemetry, build, run until SIGTERM/SIGINT.

use attendance::Application;
use kernel::config::{KernelConfig, ServiceId};
use kernel::telemetry::{self, TelemetrySettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = KernelConfig::from_env(ServiceId::ATTENDANCE)?;
    let telemetry = telemetry::init(&TelemetrySettings {
        service_name: "lienlac-attendance".to_owned(),
        otlp_endpoint: config.otlp_endpoint.clone(),
        json_logs: true,
    })?;
    let app = Application::build(config).await?;
    let outcome =
        kernel::bootstrap::run_until_signal(|shutdown| app.run_until_stopped(shutdown)).await;
    telemetry.shutdown().await;
    outcome
}

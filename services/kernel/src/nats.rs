//! The NATS connection every service holds.

use std::time::Duration;

use crate::config::KernelConfig;

/// Connects to NATS, retrying with backoff until it answers; once connected the
/// client reconnects on its own and buffers publishes meanwhile.
pub async fn connect(config: &KernelConfig) -> async_nats::Client {
    let url = config.nats_url.clone();
    let name = format!("lienlac-{}", config.service.name);
    crate::retry::until_ok("connecting to NATS", || {
        async_nats::ConnectOptions::new()
            .name(&name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(url.clone())
    })
    .await
}

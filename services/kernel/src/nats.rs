//! The NATS connection every service holds, authenticated as the service's own
//! user (see deploy/nats/accounts.sh) and over TLS when a CA is configured.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use crate::config::{KernelConfig, NatsCredentials};

/// Connects to NATS, retrying with backoff until it answers; once connected the
/// client reconnects on its own and buffers publishes meanwhile.
pub async fn connect(config: &KernelConfig) -> async_nats::Client {
    let url = config.nats_url.clone();
    let name = format!("lienlac-{}", config.service.name);
    crate::retry::until_ok("connecting to NATS", || {
        let (url, name, credentials) = (url.clone(), name.clone(), &config.nats_credentials);
        async move {
            options(credentials)
                .await?
                .name(&name)
                .connect(url)
                .await
                .map_err(anyhow::Error::from)
        }
    })
    .await
}

/// Connection options carrying `credentials`.
pub async fn options(credentials: &NatsCredentials) -> anyhow::Result<async_nats::ConnectOptions> {
    let mut options = match &credentials.creds_file {
        Some(path) => async_nats::ConnectOptions::with_credentials_file(path).await?,
        None => async_nats::ConnectOptions::new(),
    };
    if let Some(seed) = &credentials.nkey_seed {
        options = options.nkey(seed.expose_secret().to_owned());
    }
    if let (Some(user), Some(password)) = (&credentials.user, &credentials.password) {
        options = options.user_and_password(user.clone(), password.expose_secret().to_owned());
    }
    if let Some(ca) = &credentials.ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    Ok(options
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None))
}

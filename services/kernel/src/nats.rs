//! The NATS connection every service holds, authenticated as the service's own
//! user (see deploy/nats/accounts.sh) and over TLS when a CA is configured.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use crate::config::{KernelConfig, NatsCredentials};

/// Connects to NATS, retrying with backoff until it answers; once connected the
/// client reconnects on its own and buffers publishes meanwhile. `NATS_URL` may
/// name several servers of a cluster, comma-separated: the client starts with
/// whichever answers and moves to another when its server dies.
pub async fn connect(config: &KernelConfig) -> async_nats::Client {
    let name = format!("lienlac-{}", config.service.name);
    crate::retry::until_ok("connecting to NATS", || {
        let (name, credentials) = (name.clone(), &config.nats_credentials);
        async move {
            let servers = servers(&config.nats_url)?;
            options(credentials)
                .await?
                .name(&name)
                .connect(servers)
                .await
                .map_err(anyhow::Error::from)
        }
    })
    .await
}

/// The servers of a comma-separated list of NATS URLs.
pub fn servers(urls: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("NATS_URL: {url:?} is not a NATS URL: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .and_then(|servers| {
            anyhow::ensure!(!servers.is_empty(), "NATS_URL names no server");
            Ok(servers)
        })
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

#[cfg(test)]
mod tests {
    use super::servers;

    #[test]
    fn a_cluster_is_named_by_its_servers_comma_separated() {
        let named =
            servers("nats://127.0.0.1:4331, nats://127.0.0.1:4332,nats://127.0.0.1:4333").unwrap();
        let ports: Vec<u16> = named.iter().map(|server| server.port()).collect();
        assert_eq!(ports, [4331, 4332, 4333]);
        assert_eq!(servers("nats://127.0.0.1:4222").unwrap().len(), 1);
        assert!(servers("").is_err());
        assert!(servers("nats://127.0.0.1:4222,not a url").is_err());
    }
}

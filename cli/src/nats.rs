//! The command line's NATS connection: as the user in `LIENLAC_NATS_USER` with the
//! password in `LIENLAC_NATS_PASSWORD` (never a flag: flags show in `ps`), since
//! lienlac's nats-server admits nobody anonymously.

use anyhow::Context as _;

pub(crate) async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    let options = match (
        std::env::var("LIENLAC_NATS_USER"),
        std::env::var("LIENLAC_NATS_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        _ => async_nats::ConnectOptions::new(),
    };
    // A cluster's nodes, comma-separated, as the services take them.
    let servers = kernel::nats::servers(url)?;
    options.connect(servers).await.with_context(|| {
        format!(
            "cannot reach NATS at {url}: is it running, and are LIENLAC_NATS_USER and LIENLAC_NATS_PASSWORD set (deploy/local/stack.sh prints where they are)?"
        )
    })
}

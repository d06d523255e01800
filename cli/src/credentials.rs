//! The signed-in session, kept between commands in the user's config directory
//! (`$XDG_CONFIG_HOME/lienlac/credentials.json`, else `~/.config/lienlac/`),
//! readable by the user only.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Credentials {
    pub(crate) identity_url: String,
    pub(crate) username: String,
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    /// Unix seconds.
    pub(crate) access_expires_at: u64,
}

impl Credentials {
    pub(crate) fn new(
        identity_url: &str,
        username: &str,
        tokens: lienlac_proto::identity::v1::TokenPair,
    ) -> Self {
        Self {
            identity_url: identity_url.to_owned(),
            username: username.to_owned(),
            access_expires_at: now() + tokens.expires_in.max(0) as u64,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }

    /// Whether the access token has less than `margin` seconds left.
    pub(crate) fn expires_within(&self, margin: u64) -> bool {
        now() + margin >= self.access_expires_at
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn path() -> anyhow::Result<PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME").context("neither XDG_CONFIG_HOME nor HOME is set")?,
        )
        .join(".config"),
    };
    Ok(config.join("lienlac").join("credentials.json"))
}

pub(crate) fn load() -> anyhow::Result<Option<Credentials>> {
    let path = path()?;
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not a lienlac session", path.display())
        })?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

pub(crate) fn save(credentials: &Credentials) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(credentials)?)?;
    Ok(())
}

pub(crate) fn forget() -> anyhow::Result<()> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

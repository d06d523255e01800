//! Password hashing (argon2id, cost from configuration).
//! Hashing runs on the blocking pool: it is deliberately slow.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

use crate::config::Argon2Settings;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of nothing anyone knows: verified for unknown usernames so that they
    /// take as long as wrong passwords.
    decoy: Arc<OnceCell<String>>,
}

impl Passwords {
    pub fn new(settings: &Argon2Settings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        Ok(Self {
            params,
            decoy: Arc::new(OnceCell::new()),
        })
    }

    fn hasher(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            Self::hasher(params)
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash (unknown or never activated
    /// account), a decoy hash is checked so the answer takes the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let (hash, real) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.decoy().await?, false),
        };
        let params = self.params.clone();
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            Self::hasher(params)
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await?;
        Ok(real && matches)
    }

    async fn decoy(&self) -> anyhow::Result<String> {
        let decoy = self
            .decoy
            .get_or_try_init(|| async {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random: {e}"))?;
                self.hash(&hex(&secret)).await
            })
            .await?;
        Ok(decoy.clone())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        let settings = Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        Passwords::new(&settings).unwrap()
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_and_nothing_else() {
        let passwords = cheap();
        let hash = passwords.hash("lienlac-demo").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(passwords.verify("lienlac-demo", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("lienlac-dem0", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("lienlac-demo", None).await.unwrap());
    }
}

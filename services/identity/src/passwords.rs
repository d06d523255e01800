//! Password hashing (argon2id, cost from configuration). Hashing runs on the
//! blocking pool: it is deliberately slow, and each hash holds its memory cost
//! (19 MiB by default). So at most `concurrency` hashes run at once, and a caller
//! waits for its turn at most `queue_deadline`: a flood of sign-ins queues, then
//! is told to retry, and never grows memory without bound.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::config::Argon2Settings;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    gate: Arc<Semaphore>,
    queue_deadline: Duration,
    /// A hash of nothing anyone knows: verified for unknown usernames so that they
    /// take as long as wrong passwords.
    decoy: Arc<OnceCell<String>>,
}

/// A turn at hashing: [`Passwords::hash`] and [`Passwords::verify`] need one.
/// Take it before opening a transaction, so that waiting holds no connection.
pub struct HashingTurn(#[allow(dead_code)] OwnedSemaphorePermit);

/// Every turn was taken for longer than the queue deadline.
#[derive(Debug, thiserror::Error)]
#[error("sign-in is busy; retry in a moment")]
pub struct HashingBusy {
    pub retry_after: Duration,
}

impl Passwords {
    pub fn new(
        settings: &Argon2Settings,
        concurrency: usize,
        queue_deadline: Duration,
    ) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        Ok(Self {
            params,
            gate: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_deadline,
            decoy: Arc::new(OnceCell::new()),
        })
    }

    /// Waits for a turn at hashing, at most the queue deadline.
    pub async fn turn(&self) -> Result<HashingTurn, HashingBusy> {
        let busy = HashingBusy {
            retry_after: self.queue_deadline,
        };
        match tokio::time::timeout(self.queue_deadline, self.gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(HashingTurn(permit)),
            Ok(Err(_)) | Err(_) => Err(busy),
        }
    }

    fn hasher(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub async fn hash(&self, _turn: &HashingTurn, password: &str) -> anyhow::Result<String> {
        self.hash_in_turn(password).await
    }

    async fn hash_in_turn(&self, password: &str) -> anyhow::Result<String> {
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
    pub async fn verify(
        &self,
        _turn: &HashingTurn,
        password: &str,
        hash: Option<&str>,
    ) -> anyhow::Result<bool> {
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
                self.hash_in_turn(&hex(&secret)).await
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

    fn cheap(concurrency: usize, queue_deadline: Duration) -> Passwords {
        let settings = Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        Passwords::new(&settings, concurrency, queue_deadline).unwrap()
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_and_nothing_else() {
        let passwords = cheap(1, Duration::from_secs(1));
        let turn = passwords.turn().await.unwrap();
        let hash = passwords.hash(&turn, "lienlac-demo").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify(&turn, "lienlac-demo", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify(&turn, "lienlac-dem0", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!passwords.verify(&turn, "lienlac-demo", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_caller_waits_for_a_turn_at_most_the_queue_deadline() {
        let passwords = cheap(2, Duration::from_millis(50));
        let first = passwords.turn().await.unwrap();
        let _second = passwords.turn().await.unwrap();
        let busy = passwords.turn().await.err().expect("every turn is taken");
        assert_eq!(busy.retry_after, Duration::from_millis(50));
        drop(first);
        passwords.turn().await.unwrap();
    }
}

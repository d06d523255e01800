//! Password hashing (argon2id, cost from configuration) and one-time activation
//! codes. Hashing runs on the blocking pool: it is deliberately slow.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use kernel::grpc::Violation;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::config::Argon2Settings;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    min_length: usize,
    /// A hash of nothing anyone knows: verified for unknown usernames so that they
    /// take as long as wrong passwords.
    decoy: Arc<OnceCell<String>>,
}

const MAX_LENGTH: usize = 128;

impl Passwords {
    pub fn new(settings: &Argon2Settings, min_length: usize) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        Ok(Self {
            params,
            min_length,
            decoy: Arc::new(OnceCell::new()),
        })
    }

    fn hasher(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// The policy for a new password.
    pub fn check_new(&self, field: &str, password: &str) -> Result<(), Violation> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(Violation::new(
                field,
                format!("must be at least {} characters", self.min_length),
                format!("phải có ít nhất {} ký tự", self.min_length),
            ));
        }
        if length > MAX_LENGTH {
            return Err(Violation::new(
                field,
                format!("must be at most {MAX_LENGTH} characters"),
                format!("không được dài quá {MAX_LENGTH} ký tự"),
            ));
        }
        Ok(())
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

/// Crockford's base32 alphabet: no I, L, O or U to misread on paper.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A one-time activation code, `XXXX-XXXX-XXXX` (60 random bits).
pub(crate) fn new_activation_code() -> anyhow::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[(b & 31) as usize] as char)
        .collect();
    Ok(chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// SHA-256 of the code as typed, ignoring case, spaces and dashes.
pub(crate) fn activation_code_hash(code: &str) -> Vec<u8> {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(normalized.as_bytes()).to_vec()
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
        Passwords::new(&settings, 8).unwrap()
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

    #[test]
    fn activation_codes_are_grouped_and_hash_the_same_however_typed() {
        let code = new_activation_code().unwrap();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        let typed = code.replace('-', " ").to_lowercase();
        assert_eq!(activation_code_hash(&code), activation_code_hash(&typed));
        assert_ne!(
            activation_code_hash(&code),
            activation_code_hash("0000-0000-0000")
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(cheap().check_new("new_password", "short").is_err());
        assert!(cheap().check_new("new_password", "long enough").is_ok());
    }
}

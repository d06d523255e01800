//! The identity service's settings: the kernel's, plus sign-in policy, password
//! hashing cost, token lifetimes and where the signing key lives.

use std::path::PathBuf;
use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};
use secrecy::SecretString;

pub use crate::service_tokens::ServiceSecrets;
pub use crate::throttle::Rate;

#[derive(Debug, Clone)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// The platform operator `admin`'s password, set at first start.
    pub admin_password: Option<SecretString>,
    /// `LIENLAC_DEV=1`: allows starting without an admin password (a development
    /// default is used and logged).
    pub development: bool,
    /// PKCS#8 PEM of the Ed25519 key that signs access tokens; generated when missing.
    pub signing_key_file: PathBuf,
    /// The secret (hex) activation codes are kept under; generated when missing.
    pub activation_key_file: PathBuf,
    pub argon2: Argon2Settings,
    /// Password hashes computed at once (each holds `argon2.memory_kib`).
    pub hashing_concurrency: usize,
    /// How long a sign-in waits for a turn at hashing before RESOURCE_EXHAUSTED.
    pub hashing_queue_deadline: Duration,
    /// Sign-in, activation and refresh attempts per username.
    pub sign_in_per_username: Rate,
    /// Sign-in, activation and refresh attempts per client address (an IPv6
    /// client by its /64); a school behind one NAT signs in from one address.
    pub sign_in_per_address: Rate,
    pub password_min_length: usize,
    pub lockout_attempts: i32,
    pub lockout_duration: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// One sign-in's longest life, however often its refresh token rotates.
    pub session_ttl: Duration,
    pub activation_code_ttl: Duration,
    /// The secret each of lienlac's services proves itself with to get a service
    /// token (`IDENTITY_SERVICE_SECRETS`, `messaging=<secret>`; none by default).
    pub service_secrets: ServiceSecrets,
}

/// The admin password used with `LIENLAC_DEV=1` when none is set.
pub const DEVELOPMENT_ADMIN_PASSWORD: &str = "lienlac-demo";

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            admin_password: None,
            development: false,
            signing_key_file: PathBuf::from(".local/identity/signing-key.pem"),
            activation_key_file: PathBuf::from(".local/identity/activation-key"),
            argon2: Argon2Settings {
                memory_kib: 19 * 1024,
                iterations: 2,
                parallelism: 1,
            },
            hashing_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            hashing_queue_deadline: Duration::from_secs(2),
            sign_in_per_username: Rate {
                burst: 10,
                refill_every: Duration::from_secs(60),
            },
            sign_in_per_address: Rate {
                burst: 20,
                refill_every: Duration::from_millis(200),
            },
            password_min_length: 8,
            lockout_attempts: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            session_ttl: Duration::from_secs(90 * 24 * 3600),
            activation_code_ttl: Duration::from_secs(30 * 24 * 3600),
            service_secrets: ServiceSecrets::default(),
        }
    }

    /// Keeps the signing key and the activation secret in `dir`.
    pub fn keep_keys_in(&mut self, dir: &std::path::Path) {
        self.signing_key_file = dir.join("signing-key.pem");
        self.activation_key_file = dir.join("activation-key");
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so that parsing is testable without the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let mut settings = Self::defaults(KernelConfig::from_lookup(ServiceId::IDENTITY, &lookup)?);
        settings.admin_password = env.text("LIENLAC_ADMIN_PASSWORD").map(SecretString::from);
        settings.development = env
            .text("LIENLAC_DEV")
            .is_some_and(|value| matches!(value.as_str(), "1" | "true" | "yes"));
        if let Some(path) = env.text("IDENTITY_SIGNING_KEY_FILE") {
            settings.signing_key_file = PathBuf::from(path);
        }
        if let Some(path) = env.text("IDENTITY_ACTIVATION_KEY_FILE") {
            settings.activation_key_file = PathBuf::from(path);
        }
        env.parse(
            "IDENTITY_ARGON2_MEMORY_KIB",
            &mut settings.argon2.memory_kib,
        )?;
        env.parse(
            "IDENTITY_ARGON2_ITERATIONS",
            &mut settings.argon2.iterations,
        )?;
        env.parse(
            "IDENTITY_ARGON2_PARALLELISM",
            &mut settings.argon2.parallelism,
        )?;
        env.parse(
            "IDENTITY_HASHING_CONCURRENCY",
            &mut settings.hashing_concurrency,
        )?;
        env.duration(
            "IDENTITY_HASHING_QUEUE_DEADLINE",
            &mut settings.hashing_queue_deadline,
        )?;
        for (prefix, rate) in [
            (
                "IDENTITY_SIGN_IN_USERNAME",
                &mut settings.sign_in_per_username,
            ),
            (
                "IDENTITY_SIGN_IN_ADDRESS",
                &mut settings.sign_in_per_address,
            ),
        ] {
            env.parse(&format!("{prefix}_BURST"), &mut rate.burst)?;
            env.duration(&format!("{prefix}_REFILL"), &mut rate.refill_every)?;
        }
        env.parse(
            "IDENTITY_PASSWORD_MIN_LENGTH",
            &mut settings.password_min_length,
        )?;
        env.parse("IDENTITY_LOCKOUT_ATTEMPTS", &mut settings.lockout_attempts)?;
        env.duration("IDENTITY_LOCKOUT_DURATION", &mut settings.lockout_duration)?;
        env.duration("IDENTITY_ACCESS_TOKEN_TTL", &mut settings.access_token_ttl)?;
        env.duration(
            "IDENTITY_REFRESH_TOKEN_TTL",
            &mut settings.refresh_token_ttl,
        )?;
        env.duration("IDENTITY_SESSION_TTL", &mut settings.session_ttl)?;
        env.duration(
            "IDENTITY_ACTIVATION_CODE_TTL",
            &mut settings.activation_code_ttl,
        )?;
        if let Some(text) = env.text("IDENTITY_SERVICE_SECRETS") {
            settings.service_secrets = ServiceSecrets::parse("IDENTITY_SERVICE_SECRETS", &text)?;
        }
        if settings.admin_password.is_none() && !settings.development {
            return Err(ConfigError {
                name: "LIENLAC_ADMIN_PASSWORD".to_owned(),
                reason: "is required (the platform operator's password); set LIENLAC_DEV=1 to use a development default".to_owned(),
            });
        }
        if settings.admin_password.is_none() && !settings.kernel.bind_address.is_loopback() {
            return Err(ConfigError {
                name: "LIENLAC_ADMIN_PASSWORD".to_owned(),
                reason: format!(
                    "is required: the development password applies only to services listening on loopback, and LIENLAC_BIND_ADDRESS is {}",
                    settings.kernel.bind_address
                ),
            });
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings_with(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Settings::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn the_service_refuses_to_start_without_an_admin_password_unless_in_development() {
        let error = settings_with(&[]).unwrap_err();
        assert_eq!(error.name, "LIENLAC_ADMIN_PASSWORD");
        assert!(
            settings_with(&[("LIENLAC_DEV", "1"), ("LIENLAC_BIND_ADDRESS", "127.0.0.1")]).is_ok()
        );
        let settings = settings_with(&[
            ("LIENLAC_ADMIN_PASSWORD", "s3cret-pass"),
            ("IDENTITY_LOCKOUT_DURATION", "5m"),
        ])
        .unwrap();
        assert_eq!(settings.lockout_duration, Duration::from_secs(300));
        assert_eq!(settings.kernel.grpc_port, 50051);
    }

    #[test]
    fn the_development_password_never_applies_to_services_listening_beyond_loopback() {
        for address in ["0.0.0.0", "192.0.2.10", "::"] {
            let error = settings_with(&[("LIENLAC_DEV", "1"), ("LIENLAC_BIND_ADDRESS", address)])
                .unwrap_err();
            assert_eq!(error.name, "LIENLAC_ADMIN_PASSWORD", "{address}");
        }
        assert!(settings_with(&[("LIENLAC_DEV", "1"), ("LIENLAC_BIND_ADDRESS", "::1")]).is_ok());
        assert!(
            settings_with(&[
                ("LIENLAC_ADMIN_PASSWORD", "s3cret-pass"),
                ("LIENLAC_BIND_ADDRESS", "0.0.0.0")
            ])
            .is_ok()
        );
    }
}

//! Tokens for lienlac's own services, for work no user asks for: messaging
//! sending an absence notice by SMS needs the child's name and the guardian's
//! phone number when no reader's token is at hand. Each service proves itself
//! with a secret identity is configured with (`IDENTITY_SERVICE_SECRETS`); its
//! token holds the `service` binding over the platform, which only the reads
//! made for services accept (`directory/contacts.rs`). The sync service's token
//! also holds `mirror`: it keeps the directory as the city database has it
//! (access.rs, `DIRECTORY_WRITERS`).

use kernel::auth::{Binding, Claims, Role, ScopeKind, TOKEN_AUDIENCE, TOKEN_ISSUER};
use kernel::config::ConfigError;
use lienlac_proto::identity::v1::ServiceToken;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::tokens::Tokens;

/// The shortest secret a service may be configured with.
const MIN_SECRET_LENGTH: usize = 32;

/// Each service's name and the hash of its secret.
#[derive(Debug, Clone, Default)]
pub struct ServiceSecrets(Vec<(String, [u8; 32])>);

impl ServiceSecrets {
    /// `messaging=<secret>,sync=<secret>`: names of lowercase letters, secrets of
    /// at least 32 characters.
    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigError> {
        let refuse = |reason: String| ConfigError {
            name: name.to_owned(),
            reason,
        };
        let mut secrets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((service, secret)) = entry.split_once('=') else {
                return Err(refuse("each entry is service=secret".to_owned()));
            };
            if service.is_empty() || !service.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(refuse(format!("{service:?} is not a service name")));
            }
            if secret.chars().count() < MIN_SECRET_LENGTH {
                return Err(refuse(format!(
                    "the secret of {service} is shorter than {MIN_SECRET_LENGTH} characters"
                )));
            }
            secrets.push((service.to_owned(), digest(secret)));
        }
        Ok(Self(secrets))
    }

    fn admits(&self, service: &str, secret: &SecretString) -> bool {
        let presented = digest(secret.expose_secret());
        // Comparing digests: how long a comparison takes tells nothing of the secret.
        self.0
            .iter()
            .any(|(name, expected)| name == service && *expected == presented)
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The account id a service's tokens name, the same at every start.
pub(crate) fn service_account(service: &str) -> Uuid {
    let hash = Sha256::digest(format!("lienlac-service:{service}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The roles a service's token holds, each over the platform.
fn roles_of(service: &str) -> &'static [Role] {
    match service {
        "sync" => &[Role::Service, Role::Mirror],
        _ => &[Role::Service],
    }
}

/// A token for `service` when `secret` is the one configured for it.
pub(crate) fn issue(
    tokens: &Tokens,
    secrets: &ServiceSecrets,
    service: &str,
    secret: &SecretString,
) -> AppResult<ServiceToken> {
    if !secrets.admits(service, secret) {
        tracing::warn!(service, "a service token was refused");
        return Err(AppError::Status(tonic::Status::unauthenticated(
            "unknown service or wrong secret",
        )));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let ttl = tokens.access_ttl.as_secs() as i64;
    let claims = Claims {
        iss: TOKEN_ISSUER.to_owned(),
        aud: TOKEN_AUDIENCE.to_owned(),
        sub: service_account(service),
        pid: None,
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti: Uuid::now_v7(),
        sid: None,
        roles: roles_of(service)
            .iter()
            .map(|&role| Binding {
                role,
                scope: ScopeKind::Platform,
                id: None,
                district: None,
                school: None,
            })
            .collect(),
    };
    Ok(ServiceToken {
        access_token: tokens.sign(&claims)?,
        expires_in: ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn given_configured_secrets_then_only_the_named_service_with_its_secret_is_admitted() {
        let secrets =
            ServiceSecrets::parse("S", &format!("messaging={SECRET}, sync={SECRET}x")).unwrap();
        let admits = |service: &str, secret: &str| {
            secrets.admits(service, &SecretString::from(secret.to_owned()))
        };
        assert!(admits("messaging", SECRET));
        assert!(admits("sync", &format!("{SECRET}x")));
        assert!(!admits("sync", SECRET), "another service's secret");
        assert!(!admits("reporting", SECRET), "a service not configured");
        assert!(!admits("messaging", ""));
        assert!(ServiceSecrets::parse("S", "").unwrap().0.is_empty());
    }

    #[test]
    fn given_malformed_secrets_then_the_start_is_refused_saying_why() {
        for (text, says) in [
            ("messaging", "service=secret"),
            ("messaging=short", "shorter than 32"),
            (&format!("Messaging={SECRET}") as &str, "not a service name"),
            (&format!("={SECRET}"), "not a service name"),
        ] {
            let error = ServiceSecrets::parse("IDENTITY_SERVICE_SECRETS", text).unwrap_err();
            assert_eq!(error.name, "IDENTITY_SERVICE_SECRETS");
            assert!(error.reason.contains(says), "{text}: {}", error.reason);
        }
    }

    #[test]
    fn only_the_sync_service_holds_the_mirror_role() {
        assert_eq!(roles_of("sync"), [Role::Service, Role::Mirror]);
        for service in ["messaging", "reporting", "attendance", "synchro"] {
            assert_eq!(roles_of(service), [Role::Service], "{service}");
        }
    }

    #[test]
    fn a_services_account_is_the_same_at_every_start_and_differs_between_services() {
        assert_eq!(service_account("messaging"), service_account("messaging"));
        assert_ne!(service_account("messaging"), service_account("sync"));
    }
}

//! Verifies access tokens locally: EdDSA signature by a key of identity's JWKS
//! (fetched, cached, refetched when a token names an unknown `kid`), issuer,
//! audience, expiry and not-before. Tokens already verified are remembered, by a
//! SHA-256 of the whole token, until they expire, so a session's later calls cost
//! a hash and a map lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest as _, Sha256};

use super::caller::Caller;
use super::claims::{Claims, TOKEN_AUDIENCE, TOKEN_ISSUER};
use super::jwks::JwksSource;
use super::revocations::Revocations;

/// How often an unknown `kid` may trigger a refetch of the key set.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 5;
const MAX_REMEMBERED: usize = 100_000;

type TokenDigest = [u8; 32];

#[derive(Clone)]
struct Remembered {
    caller: Caller,
    expires: i64,
    issued_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token is not signed with EdDSA")]
    WrongAlgorithm,
    #[error("the access token is signed by an unknown key")]
    UnknownKey,
    #[error("the access token has expired; refresh it")]
    Expired,
    #[error("this sign-in has ended (the account was locked or its roles changed); sign in again")]
    Ended,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
    #[error("identity's signing keys cannot be fetched")]
    KeysUnavailable(#[source] anyhow::Error),
}

impl From<VerifyError> for tonic::Status {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::KeysUnavailable(ref cause) => {
                tracing::warn!(error = ?cause, "cannot fetch the JWKS");
                tonic::Status::unavailable(error.to_string())
            }
            other => tonic::Status::unauthenticated(other.to_string()),
        }
    }
}

pub struct TokenVerifier {
    source: Arc<dyn JwksSource>,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    validation: Validation,
    /// Callers by token, with the token's expiry and issue time (Unix ms).
    remembered: Mutex<HashMap<TokenDigest, Remembered>>,
    revocations: Revocations,
}

impl TokenVerifier {
    pub fn new(source: Arc<dyn JwksSource>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            source,
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
            validation,
            remembered: Mutex::new(HashMap::new()),
            revocations: Revocations::default(),
        }
    }

    /// The sign-ins this verifier refuses: fed by [`super::follow_revocations`].
    pub fn revocations(&self) -> Revocations {
        self.revocations.clone()
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, VerifyError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // The whole token identifies it: a signature segment alone could be
        // joined to other claims.
        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.remembered(&digest, now) {
            return self.unless_ended(known);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(VerifyError::Malformed)?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refetch().await?;
                self.key(&kid).ok_or(VerifyError::UnknownKey)?
            }
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::ExpiredSignature => VerifyError::Expired,
                    ErrorKind::InvalidToken
                    | ErrorKind::Base64(_)
                    | ErrorKind::Json(_)
                    | ErrorKind::Utf8(_) => VerifyError::Malformed,
                    ErrorKind::ImmatureSignature => {
                        VerifyError::Invalid("it is not valid yet".to_owned())
                    }
                    ErrorKind::InvalidSignature => VerifyError::Invalid("bad signature".to_owned()),
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                        VerifyError::Invalid("it was not issued for lienlac".to_owned())
                    }
                    _ => VerifyError::Invalid("rejected".to_owned()),
                }
            })?;
        // A UUIDv7 `jti` says when the token was issued to the millisecond.
        let issued_ms = data
            .claims
            .jti
            .get_timestamp()
            .map(|at| {
                let (seconds, nanos) = at.to_unix();
                seconds as i64 * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(data.claims.iat * 1000);
        let known = Remembered {
            expires: data.claims.exp,
            issued_ms,
            caller: Caller::from(data.claims),
        };
        self.remember(digest, &known, now);
        self.unless_ended(known)
    }

    fn unless_ended(&self, known: Remembered) -> Result<Caller, VerifyError> {
        if self
            .revocations
            .ended(known.caller.account_id, known.issued_ms)
        {
            Err(VerifyError::Ended)
        } else {
            Ok(known.caller)
        }
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    /// Fetches the key set again, unless another call did so a moment ago.
    async fn refetch(&self) -> Result<(), VerifyError> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY) {
            return Ok(());
        }
        let json = self
            .source
            .fetch()
            .await
            .map_err(VerifyError::KeysUnavailable)?;
        *last = Some(Instant::now());
        let set: JwkSet = serde_json::from_str(&json)
            .map_err(|error| VerifyError::KeysUnavailable(error.into()))?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
        Ok(())
    }

    fn remembered(&self, digest: &TokenDigest, now: i64) -> Option<Remembered> {
        let remembered = self.remembered.lock().ok()?;
        let known = remembered.get(digest)?;
        (known.expires + LEEWAY_SECONDS as i64 > now).then(|| known.clone())
    }

    fn remember(&self, digest: TokenDigest, known: &Remembered, now: i64) {
        if let Ok(mut remembered) = self.remembered.lock() {
            if remembered.len() >= MAX_REMEMBERED {
                remembered.retain(|_, kept| kept.expires > now);
                if remembered.len() >= MAX_REMEMBERED {
                    remembered.clear();
                }
            }
            remembered.insert(digest, known.clone());
        }
    }
}

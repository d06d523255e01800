//! VAPID (RFC 8292): the push service learns which application server sends, by
//! an ES256 JWT for the endpoint's origin signed with the server's key, and the
//! key itself. Browsers subscribe with that public key (`GetPushKey`), so a push
//! service refuses messages signed by anyone else. The key is made by the first
//! replica to start and shared by all through one row.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::SecretKey;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use sqlx::PgPool;

use super::encryption::random_key;

/// How long a signature is good for; RFC 8292 §2 allows at most 24 hours.
const VALID_FOR_SECONDS: i64 = 12 * 3600;

#[derive(Clone)]
pub(crate) struct VapidKey {
    key: SigningKey,
    /// The public key, uncompressed, URL-safe base64 as browsers take it.
    pub(crate) public: String,
    /// Whom a push service may contact about this sender (`mailto:` or `https:`).
    contact: String,
}

impl VapidKey {
    pub(crate) async fn load(pool: &PgPool, contact: String) -> anyhow::Result<Self> {
        sqlx::query("INSERT INTO push_key (key) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(random_key().to_bytes().as_slice())
            .execute(pool)
            .await?;
        let bytes: Vec<u8> = sqlx::query_scalar("SELECT key FROM push_key")
            .fetch_one(pool)
            .await?;
        let secret = SecretKey::from_slice(&bytes)
            .map_err(|_| anyhow::anyhow!("push_key does not hold a P-256 key"))?;
        Ok(Self::of(&secret, contact))
    }

    fn of(secret: &SecretKey, contact: String) -> Self {
        Self {
            key: SigningKey::from(secret),
            public: URL_SAFE_NO_PAD.encode(secret.public_key().to_sec1_bytes()),
            contact,
        }
    }

    /// The `Authorization` header for a push to `endpoint` at `now` (Unix seconds).
    pub(crate) fn authorization(&self, endpoint: &str, now: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": origin(endpoint),
            "exp": now + VALID_FOR_SECONDS,
            "sub": self.contact,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        let jwt = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={jwt}, k={}", self.public)
    }
}

/// The scheme, host and port of `endpoint`: the JWT's audience.
fn origin(endpoint: &str) -> &str {
    let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
    match endpoint[after_scheme..].find('/') {
        Some(slash) => &endpoint[..after_scheme + slash],
        None => endpoint,
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    use super::*;

    #[test]
    fn an_endpoints_origin_is_its_scheme_host_and_port() {
        for (endpoint, expected) in [
            (
                "https://fcm.googleapis.com/fcm/send/abc",
                "https://fcm.googleapis.com",
            ),
            ("http://127.0.0.1:4001/push/1", "http://127.0.0.1:4001"),
            (
                "https://updates.push.services.mozilla.com",
                "https://updates.push.services.mozilla.com",
            ),
        ] {
            assert_eq!(origin(endpoint), expected);
        }
    }

    #[test]
    fn the_authorization_carries_a_jwt_for_the_origin_that_the_public_key_verifies() {
        let vapid = VapidKey::of(&random_key(), "mailto:it@quan1.edu.vn".to_owned());
        let header = vapid.authorization("https://push.example.net/send/xyz", 1_000);
        let (jwt, key) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(key, vapid.public);
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(signed.split_once('.').unwrap().1)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_000 + VALID_FOR_SECONDS);
        assert_eq!(claims["sub"], "mailto:it@quan1.edu.vn");
        let verifying =
            VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        assert!(verifying.verify(signed.as_bytes(), &signature).is_ok());
    }
}

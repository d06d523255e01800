//! The Ed25519 key that signs access tokens. It is read from a PKCS#8 PEM file, or
//! generated there on first start; its public half is recorded in `signing_keys`,
//! so that after a rotation (a new file) the old public key stays in the JWKS until
//! the tokens it signed have expired.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use futures::future::BoxFuture;
use jsonwebtoken::EncodingKey;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub struct Signer {
    pub kid: String,
    pub key: EncodingKey,
    pub public_key: [u8; 32],
}

impl Signer {
    /// Loads the key at `path`, generating it (mode 0600) when the file is missing.
    pub fn load_or_generate(path: &Path) -> anyhow::Result<Self> {
        let signing_key = if path.exists() {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the signing key {}", path.display()))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                anyhow::anyhow!("{} is not an Ed25519 PKCS#8 key: {e}", path.display())
            })?
        } else {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("random: {e}"))?;
            let key = SigningKey::from_bytes(&seed);
            write_private(path, &key)?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
            key
        };
        let der = signing_key
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("encoding the signing key: {e}"))?;
        let public_key = signing_key.verifying_key().to_bytes();
        Ok(Self {
            kid: thumbprint(&public_key),
            key: EncodingKey::from_ed_der(der.as_bytes()),
            public_key,
        })
    }

    /// Records this key as the active one and retires the others.
    pub async fn register(&self, pool: &PgPool) -> anyhow::Result<()> {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO signing_keys (kid, public_key) VALUES ($1, $2) ON CONFLICT (kid) DO UPDATE SET retired_at = NULL")
            .bind(&self.kid)
            .bind(self.public_key.as_slice())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = now() WHERE kid <> $1 AND retired_at IS NULL",
        )
        .bind(&self.kid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn write_private(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the signing key: {e}"))?;
    write_secret_file(path, pem.as_bytes())
}

/// Creates `path` (and its folder) readable by its owner only, refusing to
/// overwrite a file that exists.
pub(crate) fn write_secret_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

/// RFC 7638 thumbprint of an Ed25519 public key: the key id.
pub(crate) fn thumbprint(public_key: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The JWKS of every key whose tokens may still be valid: the active one, and
/// retired ones for one token lifetime (plus a minute) after retirement.
pub(crate) async fn jwks(pool: &PgPool, token_ttl: Duration) -> anyhow::Result<String> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM signing_keys \
         WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) \
         ORDER BY activated_at DESC",
    )
    .bind(token_ttl.as_secs_f64() + 60.0)
    .fetch_all(pool)
    .await?;
    let keys: Vec<(String, [u8; 32])> = rows
        .into_iter()
        .filter_map(|(kid, key)| Some((kid, <[u8; 32]>::try_from(key.as_slice()).ok()?)))
        .collect();
    Ok(kernel::auth::jwks_json(
        keys.iter().map(|(kid, key)| (kid.as_str(), key)),
    ))
}

/// The identity service verifies its own tokens from its own key table.
pub(crate) struct LocalJwks {
    pub pool: PgPool,
    pub token_ttl: Duration,
}

impl kernel::auth::JwksSource for LocalJwks {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(jwks(&self.pool, self.token_ttl))
    }
}

//! JSON Web Key Sets (RFC 7517) of Ed25519 keys: written by identity, read by every
//! verifier.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;

/// Where a verifier gets identity's public keys, as a JWK Set in JSON.
pub trait JwksSource: Send + Sync + 'static {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<String>>;
}

/// One Ed25519 public key as a JWK (`kty: OKP`, `crv: Ed25519`).
pub fn ed25519_jwk(kid: &str, public_key: &[u8; 32]) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public_key),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// The JWK Set of `keys` (key id, public key).
pub fn jwks_json<'a>(keys: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>) -> String {
    let keys: Vec<_> = keys
        .into_iter()
        .map(|(kid, key)| ed25519_jwk(kid, key))
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// Identity's JWKS over gRPC (`AuthService/GetJwks`), for every other service.
pub struct IdentityJwks {
    client: lienlac_proto::identity::v1::auth_service_client::AuthServiceClient<
        tonic::transport::Channel,
    >,
}

impl IdentityJwks {
    /// Connects lazily: the first fetch (at the first token) reaches identity, over
    /// TLS with `tls`'s CA when `identity_url` is `https://`.
    pub fn new(identity_url: &str, tls: &crate::config::TlsSettings) -> anyhow::Result<Self> {
        let channel = tls
            .endpoint(identity_url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(5))
            .connect_lazy();
        Ok(Self {
            client: lienlac_proto::identity::v1::auth_service_client::AuthServiceClient::new(
                channel,
            ),
        })
    }
}

impl JwksSource for IdentityJwks {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let response = client
                .get_jwks(lienlac_proto::identity::v1::GetJwksRequest {})
                .await?;
            Ok(response.into_inner().jwks_json)
        })
    }
}

//! A service's own identity, for work no reader asks for (messaging naming a
//! child in a notice it sends by SMS): a token from identity's
//! `AuthService/IssueServiceToken` for the service's configured secret, kept
//! until shortly before it expires and used as a [`Reader`] like any other.

use std::time::{Duration, Instant};

use kernel::error::AppResult;
use kernel::grpc::TracePropagation;
use lienlac_proto::identity::v1::IssueServiceTokenRequest;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::peers::{Reader, answer_of};

/// A token is asked for again this long before it would expire.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

pub struct ServiceIdentity {
    identity: Channel,
    service: &'static str,
    secret: SecretString,
    token: Mutex<Option<(Reader, Instant)>>,
}

impl ServiceIdentity {
    pub fn new(identity: Channel, service: &'static str, secret: SecretString) -> Self {
        Self {
            identity,
            service,
            secret,
            token: Mutex::new(None),
        }
    }

    /// The service as a reader, with a token valid for a minute at least.
    pub async fn reader(&self) -> AppResult<Reader> {
        let mut token = self.token.lock().await;
        if let Some((reader, renew_at)) = token.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(reader.clone());
        }
        let issued = AuthServiceClient::with_interceptor(self.identity.clone(), TracePropagation)
            .issue_service_token(IssueServiceTokenRequest {
                service: self.service.to_owned(),
                secret: self.secret.expose_secret().to_owned(),
            })
            .await
            .map_err(|status| answer_of("identity", status))?
            .into_inner();
        let bearer = AsciiMetadataValue::try_from(format!("Bearer {}", issued.access_token))
            .map_err(|_| anyhow::anyhow!("identity issued a token that is no header value"))?;
        let lifetime = Duration::from_secs(issued.expires_in.max(0) as u64);
        let reader = Reader::bearer(bearer);
        *token = Some((
            reader.clone(),
            Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        ));
        Ok(reader)
    }
}

//! Calls as the signed-in user: the stored access token, refreshed when it is
//! about to expire.

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use tonic::transport::Channel;

use crate::credentials::{self, Credentials};

/// Refresh when less than this is left, so a command does not fail half-way.
const REFRESH_MARGIN_SECONDS: u64 = 30;

pub(crate) async fn connect(url: &str) -> anyhow::Result<Channel> {
    connect_to(endpoint(url)?).await
}

/// A service's address, to be given settings before connecting.
pub(crate) fn endpoint(url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("{url} is not a URL"))
}

pub(crate) async fn connect_to(endpoint: tonic::transport::Endpoint) -> anyhow::Result<Channel> {
    let url = endpoint.uri().to_string();
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach {url}: is the service running?"))
}

/// The signed-in session, with an access token good for a while.
pub(crate) async fn current() -> anyhow::Result<Credentials> {
    let credentials =
        credentials::load()?.context("not signed in: run `lienlac login <username>` first")?;
    if !credentials.expires_within(REFRESH_MARGIN_SECONDS) {
        return Ok(credentials);
    }
    let mut auth = AuthServiceClient::new(connect(&credentials.identity_url).await?);
    let tokens = auth
        .refresh(id::RefreshRequest {
            refresh_token: credentials.refresh_token.clone(),
        })
        .await?
        .into_inner();
    let refreshed = Credentials::new(&credentials.identity_url, &credentials.username, tokens);
    credentials::save(&refreshed)?;
    Ok(refreshed)
}

/// A request carrying the session's access token.
pub(crate) fn authorised<T>(
    message: T,
    credentials: &Credentials,
) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", credentials.access_token)
        .parse()
        .context("the stored access token is not a valid header")?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

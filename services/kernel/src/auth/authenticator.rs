//! The authentication slot filled with bearer tokens: `authorization: Bearer <jwt>`
//! is verified and the [`Caller`] put in the request extensions. A request without
//! the header passes anonymous (health, reflection, sign-in); RPCs that need a
//! caller answer UNAUTHENTICATED through [`super::caller`].

use std::sync::Arc;

use futures::future::BoxFuture;

use super::caller::Caller;
use super::verifier::TokenVerifier;
use crate::grpc::Authenticator;

pub struct BearerAuthenticator {
    verifier: Arc<TokenVerifier>,
}

impl BearerAuthenticator {
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        Self { verifier }
    }
}

impl Authenticator for BearerAuthenticator {
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut http::request::Parts,
    ) -> BoxFuture<'a, Result<(), tonic::Status>> {
        Box::pin(async move {
            let Some(value) = parts.headers.get(http::header::AUTHORIZATION) else {
                return Ok(());
            };
            let token = value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|token| !token.is_empty())
                .ok_or_else(|| {
                    tonic::Status::unauthenticated(
                        "the authorization header must be `Bearer <access token>`",
                    )
                })?;
            let caller: Caller = self.verifier.verify(token).await?;
            parts.extensions.insert(caller);
            Ok(())
        })
    }
}

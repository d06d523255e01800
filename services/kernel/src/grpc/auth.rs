//! The authentication slot: a service plugs in an [`Authenticator`] that reads the
//! request headers (a bearer token) and puts what it learns about the caller into
//! the request extensions, where RPC handlers find it (`request.extensions()`).
//! Authorisation stays with each RPC, which knows the target scope.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;

pub trait Authenticator: Send + Sync + 'static {
    /// Inspects `parts.headers` and records the caller in `parts.extensions`.
    /// Anonymous requests pass (health, reflection, sign-in); an invalid token is
    /// refused here with UNAUTHENTICATED.
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut http::request::Parts,
    ) -> BoxFuture<'a, Result<(), tonic::Status>>;
}

#[derive(Clone, Default)]
pub struct AuthLayer {
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl AuthLayer {
    pub fn new(authenticator: Option<Arc<dyn Authenticator>>) -> Self {
        Self { authenticator }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Auth<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(authenticator) = self.authenticator.clone() else {
            return Box::pin(inner.call(request));
        };
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match authenticator.authenticate(&mut parts).await {
                Ok(()) => inner.call(http::Request::from_parts(parts, body)).await,
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

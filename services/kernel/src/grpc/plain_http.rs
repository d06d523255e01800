//! Plain HTTP beside gRPC on a service's port: requests under the paths a
//! service claims (messaging's download links, `/attachments/`, and providers'
//! webhooks, `/webhooks/`) go to its axum router before gRPC-Web, which answers
//! 400 to any HTTP/1.1 request that is not gRPC-Web; every other request goes on
//! to gRPC. No bearer token is read on those paths: such a route carries its own
//! proof (a signed link, a secret in the webhook's address).

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::ServiceExt as _;

#[derive(Clone, Default)]
pub struct PlainHttpLayer {
    route: Option<(&'static [&'static str], axum::Router)>,
}

impl PlainHttpLayer {
    /// Requests whose path starts with one of `prefixes` go to `router`.
    pub fn new(prefixes: &'static [&'static str], router: axum::Router) -> Self {
        Self {
            route: Some((prefixes, router)),
        }
    }
}

impl<S> tower::Layer<S> for PlainHttpLayer {
    type Service = PlainHttp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PlainHttp {
            inner,
            route: self.route.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PlainHttp<S> {
    inner: S,
    route: Option<(&'static [&'static str], axum::Router)>,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for PlainHttp<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if let Some((prefixes, router)) = &self.route
            && prefixes
                .iter()
                .any(|prefix| request.uri().path().starts_with(prefix))
        {
            let router = router.clone();
            return Box::pin(async move {
                let answered = router.oneshot(request.map(axum::body::Body::new)).await;
                let response = match answered {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok(response.map(tonic::body::Body::new))
            });
        }
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}

//! One span per RPC: `grpc.request`, named `<package>.<Service>/<Method>`, a child of
//! the caller's `traceparent` when it sent one. Names and metric labels come only
//! from the methods the service knows; any other path is `unknown`, so strangers
//! cannot grow the metric series (or the span names) without bound. A request that
//! does not decode is answered INVALID_ARGUMENT (`undecodable.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::undecodable::answer_undecodable_as_invalid_argument;
use crate::telemetry::HttpHeaderExtractor;

/// The paths (`<package>.<Service>/<Method>`) of every RPC a service may answer.
#[derive(Debug, Clone, Default)]
pub struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    /// Every method of the contract (`proto/`), of gRPC health and of reflection.
    pub fn of_contract() -> Self {
        let mut known: HashSet<String> = [
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ]
        .map(str::to_owned)
        .into();
        if let Ok(set) = <prost_types::FileDescriptorSet as prost::Message>::decode(
            lienlac_proto::FILE_DESCRIPTOR_SET,
        ) {
            for file in &set.file {
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!(
                            "{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
        Self(Arc::new(known))
    }

    /// The service and method of `path`, or `unknown` twice.
    fn split<'a>(&self, path: &'a str) -> (&'a str, &'a str, &'a str) {
        match path.split_once('/') {
            Some((service, method)) if self.0.contains(path) => (path, service, method),
            _ => ("unknown", "unknown", "unknown"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTraceLayer {
    known: KnownMethods,
}

impl GrpcTraceLayer {
    pub fn new(known: KnownMethods) -> Self {
        Self { known }
    }
}

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace {
            inner,
            known: self.known.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
    known: KnownMethods,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcTrace<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
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
        let (path, service, method) = self
            .known
            .split(request.uri().path().trim_start_matches('/'));
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HttpHeaderExtractor(request.headers()))
        });
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let labels = [
            ("service", service.to_owned()),
            ("method", method.to_owned()),
        ];
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(
            async move {
                let mut response = future.await?;
                // Errors come trailers-only, with the status in the headers; a
                // response that starts normally reports its status in trailers.
                let code = answer_undecodable_as_invalid_argument(response.headers_mut());
                tracing::Span::current().record("rpc.grpc.status_code", code);
                let mut labels = labels.to_vec();
                labels.push(("code", canonical_name(tonic::Code::from_i32(code))));
                metrics::counter!("lienlac_grpc_requests_total", &labels).increment(1);
                metrics::histogram!("lienlac_grpc_request_seconds", &labels[..2])
                    .record(started.elapsed().as_secs_f64());
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// The status code as gRPC names it (`INVALID_ARGUMENT`), the label alert rules
/// and dashboards match on (deploy/observability/alerts.yml).
fn canonical_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (at, letter) in format!("{code:?}").char_indices() {
        if letter.is_ascii_uppercase() && at > 0 {
            name.push('_');
        }
        name.push(letter.to_ascii_uppercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::canonical_name;

    #[test]
    fn status_codes_are_labelled_as_grpc_names_them() {
        for (code, name) in [
            (tonic::Code::Ok, "OK"),
            (tonic::Code::InvalidArgument, "INVALID_ARGUMENT"),
            (tonic::Code::Unauthenticated, "UNAUTHENTICATED"),
            (tonic::Code::PermissionDenied, "PERMISSION_DENIED"),
            (tonic::Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
            (tonic::Code::Unavailable, "UNAVAILABLE"),
        ] {
            assert_eq!(canonical_name(code), name);
        }
    }
}

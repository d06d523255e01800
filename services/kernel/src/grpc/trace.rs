//! One span per RPC: `grpc.request`, named `<package>.<Service>/<Method>`, a child of
//! the caller's `traceparent` when it sent one.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::telemetry::HttpHeaderExtractor;

#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTraceLayer;

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
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
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let (service, method) = path.split_once('/').unwrap_or((path.as_str(), ""));
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
                let response = future.await?;
                // Errors come trailers-only, with the status in the headers; a
                // response that starts normally reports its status in trailers.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                    .unwrap_or(0);
                tracing::Span::current().record("rpc.grpc.status_code", code);
                let mut labels = labels.to_vec();
                labels.push(("code", tonic::Code::from_i32(code).description().to_owned()));
                metrics::counter!("lienlac_grpc_requests_total", &labels).increment(1);
                metrics::histogram!("lienlac_grpc_request_seconds", &labels[..2])
                    .record(started.elapsed().as_secs_f64());
                Ok(response)
            }
            .instrument(span),
        )
    }
}

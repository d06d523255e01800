//! Client side: puts the current span's W3C context into outgoing gRPC metadata,
//! so a call to another service continues the same trace.

use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::telemetry::MetadataInjector;

#[derive(Debug, Clone, Copy, Default)]
pub struct TracePropagation;

impl tonic::service::Interceptor for TracePropagation {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}

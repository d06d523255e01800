//! Tracing for every service: `EnvFilter`, JSON logs, and an OpenTelemetry layer
//! whose spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! The OpenTelemetry layer is installed even without an endpoint, so that span and
//! trace ids exist and W3C context still flows from a client through the relay to
//! every consumer (and to outside subscribers, who may join the trace).

mod propagation;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

pub use propagation::{
    HttpHeaderExtractor, MetadataInjector, NatsHeaders, context_from_trace_headers,
    current_trace_context,
};

const DEFAULT_FILTER: &str = "info,h2=warn,hyper=warn,tower=warn,sqlx=warn,async_nats=warn";

/// Keeps the tracer provider alive; dropping it flushes spans not yet exported.
#[must_use = "dropping the guard flushes and stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered now and stops. The SDK call blocks, so it runs off
    /// the async runtime's worker threads.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = std::thread::spawn(move || provider.shutdown()).join();
        }
    }
}

/// What `init` builds; `json_logs = false` gives the compact human format.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub service_name: String,
    pub otlp_endpoint: Option<String>,
    pub json_logs: bool,
}

/// Installs the global subscriber and propagator. Call once, inside the Tokio
/// runtime (the OTLP exporter needs it).
pub fn init(settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let provider = tracer_provider(settings)?;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let logs = if settings.json_logs {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().compact().boxed()
    };
    Registry::default()
        .with(filter)
        .with(logs)
        .with(otel_layer(&provider))
        .try_init()
        .context("a global tracing subscriber is already installed")?;
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

pub(crate) fn tracer_provider(settings: &TelemetrySettings) -> anyhow::Result<SdkTracerProvider> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .context("building the OTLP span exporter")?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The OpenTelemetry layer for `provider`, without the exporter's own crates (their
/// spans would feed back into the export).
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let quiet = [
        "opentelemetry",
        "h2",
        "hyper",
        "tonic",
        "tower",
        "sqlx",
        "async_nats",
    ];
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("lienlac"))
        .with_filter(FilterFn::new(move |meta| {
            !quiet.iter().any(|prefix| meta.target().starts_with(prefix))
        }))
}

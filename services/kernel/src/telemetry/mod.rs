//! Tracing for every service: `EnvFilter`, JSON logs, and an OpenTelemetry layer
//! whose spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! The OpenTelemetry layer is installed even without an endpoint, so that span and
//! trace ids exist and W3C context still flows from a client through the relay to
//! every consumer (and to outside subscribers, who may join the trace).

mod propagation;

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
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
        json_logs(std::io::stdout).boxed()
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

/// JSON log lines, each within a trace carrying its `trace_id`: an operator goes
/// from a log line to the whole request's trace, and back.
fn json_logs<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let dispatch = Arc::new(OnceLock::new());
    let json = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(false);
    tracing_subscriber::fmt::layer()
        .json()
        .event_format(WithTraceId {
            inner: json,
            dispatch: dispatch.clone(),
        })
        .with_writer(writer)
        .and_then(KnowsItsDispatch(dispatch))
}

/// The subscriber a layer is part of, which the OpenTelemetry layer asks for a
/// span's context.
type SharedDispatch = Arc<OnceLock<tracing::dispatcher::WeakDispatch>>;

/// Learns the subscriber the log layer is registered in.
struct KnowsItsDispatch(SharedDispatch);

impl<S: tracing::Subscriber> Layer<S> for KnowsItsDispatch {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

/// A log line's format with the current trace's id put first.
struct WithTraceId<F> {
    inner: F,
    dispatch: SharedDispatch,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    N: for<'writer> FormatFields<'writer> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use opentelemetry::trace::TraceContextExt as _;
        let trace_id = ctx
            .lookup_current()
            .zip(self.dispatch.get().and_then(|weak| weak.upgrade()))
            .and_then(|(span, dispatch)| {
                tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)
            })
            .map(|context| context.span().span_context().clone())
            .filter(|span_context| span_context.is_valid())
            .map(|span_context| span_context.trace_id());
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match (line.strip_prefix('{'), trace_id) {
            (Some(rest), Some(trace_id)) => {
                writer.write_fmt(format_args!("{{\"trace_id\":\"{trace_id}\",{rest}"))
            }
            _ => writer.write_str(&line),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Log lines written to memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_line_within_a_trace_carries_its_id_and_one_outside_none() {
        let provider = SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = Registry::default()
            .with(json_logs(move || writer.clone()))
            .with(otel_layer(&provider));
        let trace_id = tracing::subscriber::with_default(subscriber, || {
            use opentelemetry::trace::TraceContextExt as _;
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            tracing::info!("before any request");
            let span = tracing::info_span!("SubmitRollCall");
            let _entered = span.enter();
            tracing::info!(class = "1A1", "roll call taken");
            span.context().span().span_context().trace_id().to_string()
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let logged: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(logged.len(), 2, "{text}");
        assert_eq!(logged[0].get("trace_id"), None, "{text}");
        assert_eq!(logged[1]["trace_id"], trace_id.as_str(), "{text}");
        assert_eq!(logged[1]["class"], "1A1", "the event's fields stay: {text}");
        assert_ne!(trace_id, "00000000000000000000000000000000");
    }
}

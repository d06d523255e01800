//! `lienlac trace tail`: an OTLP/gRPC trace receiver for an operator who has no
//! collector yet. The services export their spans to it
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`); each trace is printed as a tree once no span
//! of it has arrived for a moment: service, span, duration, status.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::sync::mpsc;

/// How long a trace stays open for late spans (a consumer's, after the RPC's).
const QUIET: Duration = Duration::from_secs(2);

pub(crate) struct Tail {
    pub(crate) listen: std::net::SocketAddr,
    pub(crate) count: Option<usize>,
    pub(crate) json: bool,
}

/// One span as the tree prints it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct TracedSpan {
    pub(crate) span_id: String,
    pub(crate) parent_span_id: String,
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) start_unix_nano: u64,
    pub(crate) duration_ms: f64,
    /// `ok`, `error: <message>`, or `unset`.
    pub(crate) status: String,
}

struct Receiver(mpsc::UnboundedSender<(String, TracedSpan)>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "?".to_owned());
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                let status = match span.status.as_ref() {
                    Some(status) if status.code == StatusCode::Error as i32 => {
                        format!("error: {}", status.message)
                    }
                    Some(status) if status.code == StatusCode::Ok as i32 => "ok".to_owned(),
                    _ => "unset".to_owned(),
                };
                let traced = TracedSpan {
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    service: service.clone(),
                    name: span.name,
                    start_unix_nano: span.start_time_unix_nano,
                    duration_ms: span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        as f64
                        / 1e6,
                    status,
                };
                let _ = self.0.send((hex(&span.trace_id), traced));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Tail {
    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("listening on {}", self.listen))?;
        eprintln!(
            "receiving traces on {} (run the services with OTEL_EXPORTER_OTLP_ENDPOINT=http://{})",
            listener.local_addr()?,
            listener.local_addr()?
        );
        let (sender, mut spans) = mpsc::unbounded_channel();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Receiver(sender)))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        // Traces by id, with when their last span came.
        let mut open: HashMap<String, (Vec<TracedSpan>, tokio::time::Instant)> = HashMap::new();
        let mut printed = 0;
        let mut tick = tokio::time::interval(QUIET / 4);
        while self.count.is_none_or(|count| printed < count) {
            tokio::select! {
                received = spans.recv() => {
                    let Some((trace_id, span)) = received else { break };
                    let entry = open.entry(trace_id).or_insert_with(|| (Vec::new(), tokio::time::Instant::now()));
                    entry.0.push(span);
                    entry.1 = tokio::time::Instant::now();
                }
                _ = tick.tick() => {
                    let quiet: Vec<String> = open
                        .iter()
                        .filter(|(_, (_, last))| last.elapsed() >= QUIET)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for trace_id in quiet {
                        if self.count.is_some_and(|count| printed >= count) {
                            break;
                        }
                        if let Some((spans, _)) = open.remove(&trace_id) {
                            self.print(&trace_id, spans)?;
                        }
                        printed += 1;
                    }
                }
            }
        }
        server.abort();
        Ok(())
    }

    fn print(&self, trace_id: &str, spans: Vec<TracedSpan>) -> anyhow::Result<()> {
        let tree = tree(spans);
        if self.json {
            let spans: Vec<serde_json::Value> = tree
                .iter()
                .map(|(depth, span)| {
                    let mut value = serde_json::to_value(span)?;
                    value["depth"] = (*depth).into();
                    Ok(value)
                })
                .collect::<anyhow::Result<_>>()?;
            println!(
                "{}",
                serde_json::json!({ "trace_id": trace_id, "spans": spans })
            );
        } else {
            print!("{}", render(trace_id, &tree));
        }
        Ok(())
    }
}

/// The spans in the order of the tree: each after its parent, siblings by start,
/// with its depth. A span whose parent did not arrive (a client's, or one still
/// open) starts a tree of its own.
pub(crate) fn tree(spans: Vec<TracedSpan>) -> Vec<(usize, TracedSpan)> {
    let ids: std::collections::HashSet<String> =
        spans.iter().map(|span| span.span_id.clone()).collect();
    let mut children: BTreeMap<String, Vec<TracedSpan>> = BTreeMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if span.parent_span_id.is_empty() || !ids.contains(&span.parent_span_id) {
            roots.push(span);
        } else {
            children
                .entry(span.parent_span_id.clone())
                .or_default()
                .push(span);
        }
    }
    fn by_start(spans: &mut [TracedSpan]) {
        spans.sort_by(|a, b| (a.start_unix_nano, &a.name).cmp(&(b.start_unix_nano, &b.name)));
    }
    fn walk(
        span: TracedSpan,
        depth: usize,
        children: &mut BTreeMap<String, Vec<TracedSpan>>,
        out: &mut Vec<(usize, TracedSpan)>,
    ) {
        let mut below = children.remove(&span.span_id).unwrap_or_default();
        by_start(&mut below);
        out.push((depth, span));
        for child in below {
            walk(child, depth + 1, children, out);
        }
    }
    by_start(&mut roots);
    let mut out = Vec::new();
    for root in roots {
        walk(root, 0, &mut children, &mut out);
    }
    out
}

/// The tree as text: the trace id, then a line per span.
pub(crate) fn render(trace_id: &str, tree: &[(usize, TracedSpan)]) -> String {
    let labels: Vec<String> = tree
        .iter()
        .map(|(depth, span)| format!("{}{} {}", "  ".repeat(*depth + 1), span.service, span.name))
        .collect();
    let width = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = format!("trace {trace_id}\n");
    for (label, (_, span)) in labels.iter().zip(tree) {
        let _ = writeln!(
            text,
            "{label:<width$} {:>9.1} ms  {}",
            span.duration_ms, span.status
        );
    }
    text
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, service: &str, name: &str, start: u64) -> TracedSpan {
        TracedSpan {
            span_id: id.to_owned(),
            parent_span_id: parent.to_owned(),
            service: service.to_owned(),
            name: name.to_owned(),
            start_unix_nano: start,
            duration_ms: 1.5,
            status: "unset".to_owned(),
        }
    }

    #[test]
    fn spans_print_under_their_parents_in_start_order_and_orphans_start_trees() {
        let spans = vec![
            span("c2", "b", "reporting", "consumer.event", 40),
            span("b", "a", "attendance", "outbox.publish", 20),
            span("a", "", "attendance", "SubmitRollCall", 10),
            span("c1", "b", "messaging", "consumer.event", 30),
            span("x", "gone", "identity", "WhoAmI", 5),
        ];
        let shape: Vec<(usize, String, String)> = tree(spans)
            .into_iter()
            .map(|(depth, span)| (depth, span.service, span.name))
            .collect();
        let expected = [
            (0, "identity", "WhoAmI"),
            (0, "attendance", "SubmitRollCall"),
            (1, "attendance", "outbox.publish"),
            (2, "messaging", "consumer.event"),
            (2, "reporting", "consumer.event"),
        ]
        .map(|(depth, service, name)| (depth, service.to_owned(), name.to_owned()));
        assert_eq!(shape, expected);
    }

    #[test]
    fn a_tree_renders_one_indented_line_per_span() {
        let text = render(
            "0af7",
            &tree(vec![
                span("a", "", "attendance", "SubmitRollCall", 1),
                span("b", "a", "reporting", "consumer.event", 2),
            ]),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "trace 0af7");
        assert!(
            lines[1].starts_with("  attendance SubmitRollCall "),
            "{text}"
        );
        assert!(
            lines[2].starts_with("    reporting consumer.event "),
            "{text}"
        );
        assert!(lines[2].ends_with("1.5 ms  unset"), "{text}");
    }
}

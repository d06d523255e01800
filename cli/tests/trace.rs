//! `lienlac trace tail` receives spans as a service's OTLP exporter sends them and
//! prints each trace once, as a tree.

#![allow(clippy::unwrap_used, unreachable_pub)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

fn span(id: u8, parent: Option<u8>, name: &str, start: u64, error: bool) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 2_500_000,
        status: error.then(|| Status {
            message: "class not found".to_owned(),
            code: 2,
        }),
        ..Default::default()
    }
}

fn from(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".to_owned(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(service.to_owned())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_from_two_services_prints_once_as_one_tree() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_lienlac"))
        .args([
            "--json", "trace", "tail", "--listen", &listen, "--count", "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut client = loop {
        match TraceServiceClient::connect(format!("http://{listen}")).await {
            Ok(client) => break client,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    };
    // The RPC's spans from attendance, then the consumer's from reporting.
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![from(
                "attendance",
                vec![
                    span(1, None, "SubmitRollCall", 1_000, false),
                    span(2, Some(1), "event_store.append", 2_000, false),
                ],
            )],
        })
        .await
        .unwrap();
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![from(
                "reporting",
                vec![span(3, Some(2), "consumer.event", 9_000, true)],
            )],
        })
        .await
        .unwrap();

    let output = tokio::time::timeout(std::time::Duration::from_secs(20), tail.wait_with_output())
        .await
        .expect("the tail stops after its one trace")
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one trace, printed once: {stdout}");
    let trace: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(trace["trace_id"], "07".repeat(16));
    let shape: Vec<(u64, &str, &str, &str)> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| {
            (
                span["depth"].as_u64().unwrap(),
                span["service"].as_str().unwrap(),
                span["name"].as_str().unwrap(),
                span["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0, "attendance", "SubmitRollCall", "unset"),
            (1, "attendance", "event_store.append", "unset"),
            (2, "reporting", "consumer.event", "error: class not found"),
        ]
    );
    assert_eq!(trace["spans"][0]["duration_ms"], 2.5);
}

//! One trace from a client's RPC through the event store, the relay and NATS into
//! a consumer of another service, exported over OTLP to an in-process receiver.
//! Its own test binary, because it installs the process-wide subscriber.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kernel::bootstrap::ServiceHost;
use kernel::config::ServiceId;
use kernel::consumer::ConsumerSource;
use kernel::grpc::TracePropagation;
use kernel::telemetry::{self, TelemetrySettings};
use kernel::testing::otlp::{Span, attribute, start_collector};
use kernel::testing::{TestWorld, eventually};
use lienlac_proto::testing::v1::NoteRequest;
use lienlac_proto::testing::v1::probe_service_client::ProbeServiceClient;
use lienlac_proto::testing::v1::probe_service_server::ProbeServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tracing::Instrument as _;
use uuid::Uuid;

use common::{MIGRATIONS, NotesProjection, probe::Probe};

/// Identity's stream and subjects, carrying the test contract `lienlac.testing.v1`.
const PUBLISHER: ServiceId = ServiceId::IDENTITY.with_contract("v1");

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_runs_from_the_rpc_through_the_relay_into_the_consumer() {
    let (endpoint, mut spans) = start_collector().await.unwrap();
    let guard = telemetry::init(&TelemetrySettings {
        service_name: "lienlac-test".to_owned(),
        otlp_endpoint: Some(endpoint),
        json_logs: true,
    })
    .unwrap();

    let world = TestWorld::new();
    let mut publisher = ServiceHost::build(world.config(PUBLISHER), &MIGRATIONS)
        .await
        .unwrap();
    publisher.add_relay();
    let grpc = publisher.grpc_addr();
    let routes = Routes::new(ProbeServiceServer::new(Probe {
        pool: publisher.pool.clone(),
    }));
    let mut consumer = ServiceHost::build(world.config(ServiceId::REPORTING), &MIGRATIONS)
        .await
        .unwrap();
    let consumer_pool = consumer.pool.clone();
    consumer.add_consumer(
        Arc::new(NotesProjection::new("reporting-notes")),
        ConsumerSource::all_of(&world.namespace, PUBLISHER),
    );
    let stop = CancellationToken::new();
    let publisher_task = tokio::spawn(publisher.run(routes, &[], None, stop.clone()));
    let consumer_task = tokio::spawn(consumer.run(Routes::default(), &[], None, stop.clone()));

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ProbeServiceClient::with_interceptor(channel, TracePropagation);
    let request = NoteRequest {
        request_id: Uuid::now_v7().to_string(),
        stream_id: "note-traced".to_owned(),
        text: "traced".to_owned(),
        district_id: Uuid::now_v7().to_string(),
        school_id: Uuid::now_v7().to_string(),
    };
    client
        .note(request)
        .instrument(tracing::info_span!("test.client", otel.kind = "client"))
        .await
        .unwrap();
    eventually("the note projected", Duration::from_secs(20), || async {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
            .fetch_one(&consumer_pool)
            .await
            .ok()?;
        (count == 1).then_some(())
    })
    .await;
    stop.cancel();
    publisher_task.await.unwrap().unwrap();
    consumer_task.await.unwrap().unwrap();
    guard.shutdown().await;

    let mut by_name: HashMap<String, Span> = HashMap::new();
    while let Ok(span) = spans.try_recv() {
        by_name.insert(span.name.clone(), span);
    }
    let span = |name: &str| {
        by_name.get(name).unwrap_or_else(|| {
            panic!(
                "no span {name}; got {:?}",
                by_name.keys().collect::<Vec<_>>()
            )
        })
    };
    let client_span = span("test.client");
    let rpc = span("lienlac.testing.v1.ProbeService/Note");
    let command = span("probe.note");
    let publish = span("outbox.publish");
    let handle = span("event.handle");

    for child in [rpc, command, publish, handle] {
        assert_eq!(
            child.trace_id, client_span.trace_id,
            "{} is in the client's trace",
            child.name
        );
    }
    assert_eq!(
        rpc.parent_span_id, client_span.span_id,
        "RPC span is the client's child"
    );
    assert_eq!(
        command.parent_span_id, rpc.span_id,
        "command span is the RPC's child"
    );
    assert_eq!(
        publish.parent_span_id, command.span_id,
        "publish span is the command's child"
    );
    assert_eq!(
        handle.parent_span_id, publish.span_id,
        "consumer span is the publish's child"
    );

    assert_eq!(attribute(rpc, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attribute(rpc, "rpc.service").as_deref(),
        Some("lienlac.testing.v1.ProbeService")
    );
    assert_eq!(attribute(rpc, "rpc.method").as_deref(), Some("Note"));
    assert_eq!(attribute(rpc, "rpc.grpc.status_code").as_deref(), Some("0"));
    assert_eq!(
        attribute(publish, "messaging.system").as_deref(),
        Some("nats")
    );
    assert_eq!(
        attribute(handle, "messaging.consumer.group.name").as_deref(),
        Some("reporting-notes")
    );
    assert!(
        attribute(handle, "messaging.destination.name")
            .is_some_and(|subject| subject.ends_with(".Noted")),
        "consumer span names the subject"
    );
}

//! A service host end to end: health, reflection, gRPC-Web, /metrics, idempotent
//! RPCs, and a graceful stop that flushes the relay.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use kernel::bootstrap::ServiceHost;
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, eventually};
use lienlac_proto::testing::v1::NoteRequest;
use lienlac_proto::testing::v1::probe_service_client::ProbeServiceClient;
use lienlac_proto::testing::v1::probe_service_server::ProbeServiceServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use uuid::Uuid;

use common::{MIGRATIONS, PrivateNats, probe::Probe, stream_len};

const SERVICE: ServiceId = ServiceId::IDENTITY;

struct Running {
    grpc: SocketAddr,
    http: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(world: &TestWorld) -> Running {
    let mut host = ServiceHost::build(world.config(SERVICE), &MIGRATIONS)
        .await
        .unwrap();
    host.add_relay();
    let routes = Routes::new(ProbeServiceServer::new(Probe {
        pool: host.pool.clone(),
    }));
    let (grpc, http) = (host.grpc_addr(), host.http_addr());
    let stop = CancellationToken::new();
    let task = tokio::spawn(host.run(
        routes,
        &["lienlac.testing.v1.ProbeService"],
        None,
        stop.clone(),
    ));
    Running {
        grpc,
        http,
        stop,
        task,
    }
}

fn note(text: &str) -> NoteRequest {
    NoteRequest {
        request_id: Uuid::now_v7().to_string(),
        stream_id: "note-1".to_owned(),
        text: text.to_owned(),
        district_id: Uuid::now_v7().to_string(),
        school_id: Uuid::now_v7().to_string(),
    }
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Waits until `service`'s health status is `wanted`.
async fn wait_for_health(grpc: SocketAddr, service: &str, wanted: ServingStatus) {
    let health = HealthClient::new(channel(grpc).await);
    eventually(
        &format!("{service:?} {wanted:?}"),
        Duration::from_secs(15),
        || {
            let mut health = health.clone();
            async move {
                let request = HealthCheckRequest {
                    service: service.to_owned(),
                };
                let status = health.check(request).await.ok()?.into_inner().status;
                (status == wanted as i32).then_some(())
            }
        },
    )
    .await;
}

/// One HTTP/1.1 exchange over a fresh connection; returns the raw response.
async fn http1(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn health_turns_serving_once_postgres_and_nats_answer() {
    let world = TestWorld::new();
    let running = start(&world).await;
    let mut health = HealthClient::new(channel(running.grpc).await);
    for service in ["", "lienlac.testing.v1.ProbeService"] {
        wait_for_health(running.grpc, service, ServingStatus::Serving).await;
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    running.stop.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_liveness_and_readiness_answer_over_http() {
    let world = TestWorld::new();
    let running = start(&world).await;
    let mut client = ProbeServiceClient::connect(format!("http://{}", running.grpc))
        .await
        .unwrap();
    client.note(note("counted")).await.unwrap();
    // A stranger's made-up paths are counted, under one label.
    for guess in 0..3 {
        let request = format!(
            "POST /x.Evil/Guess{guess} HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\nConnection: close\r\n\r\n\0\0\0\0\0"
        );
        http1(running.grpc, request.as_bytes()).await;
    }

    let live = http1(
        running.http,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(String::from_utf8_lossy(&live).starts_with("HTTP/1.1 200"));
    eventually("ready", Duration::from_secs(10), || async {
        let ready = http1(
            running.http,
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        String::from_utf8_lossy(&ready)
            .starts_with("HTTP/1.1 200")
            .then_some(())
    })
    .await;
    let metrics = http1(
        running.http,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("lienlac_grpc_requests_total"), "{metrics}");
    assert!(metrics.contains("method=\"Note\""), "{metrics}");
    assert!(metrics.contains("method=\"unknown\""), "{metrics}");
    assert!(!metrics.contains("Guess"), "{metrics}");
    running.stop.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_web_requests_over_http1_are_answered() {
    let world = TestWorld::new();
    let running = start(&world).await;
    // A gRPC-Web call of grpc.health.v1.Health/Check with an empty request message.
    let request = b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
        Content-Length: 5\r\nConnection: close\r\n\r\n\0\0\0\0\0";
    let response = http1(running.grpc, request).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/grpc-web+proto"),
        "{text}"
    );
    assert!(text.contains("grpc-status:0"), "{text}");
    running.stop.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_the_service_and_health() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let world = TestWorld::new();
    let running = start(&world).await;
    let mut client = ServerReflectionClient::new(channel(running.grpc).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"lienlac.testing.v1.ProbeService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    running.stop.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_rpc_gets_the_first_answer_and_bad_input_is_invalid_argument() {
    let world = TestWorld::new();
    let running = start(&world).await;
    let mut client = ProbeServiceClient::connect(format!("http://{}", running.grpc))
        .await
        .unwrap();
    let request = note("once");
    let first = client.note(request.clone()).await.unwrap().into_inner();
    let retry = client.note(request).await.unwrap().into_inner();
    assert_eq!(first, retry);
    let next = client.note(note("twice")).await.unwrap().into_inner();
    assert_eq!(next.stream_version, 2);

    let mut bad = note("bad");
    bad.request_id = "not-a-uuid".to_owned();
    let status = client.note(bad).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "request_id must be a UUID");
    running.stop.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_service_publishes_what_was_committed() {
    let world = TestWorld::new();
    let mut config = world.config(SERVICE);
    // A relay that would not look again for a minute: only the stop's flush publishes.
    config.relay.poll_interval = Duration::from_secs(60);
    let mut host = ServiceHost::build(config.clone(), &MIGRATIONS)
        .await
        .unwrap();
    host.add_relay();
    let routes = Routes::new(ProbeServiceServer::new(Probe {
        pool: host.pool.clone(),
    }));
    let grpc = host.grpc_addr();
    let stop = CancellationToken::new();
    let task = tokio::spawn(host.run(routes, &[], None, stop.clone()));
    let mut client = ProbeServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 0..3 {
        client
            .note(note(&format!("before stop {n}")))
            .await
            .unwrap();
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    let jetstream = world.jetstream().await;
    assert_eq!(stream_len(&jetstream, &config.stream_name()).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_started_before_nats_waits_for_it_and_then_serves() {
    let world = TestWorld::new();
    let mut nats = PrivateNats::reserve(&world.namespace);
    let mut config = world.config(SERVICE);
    config.nats_url = nats.url();
    let build = tokio::spawn(async move { ServiceHost::build(config, &MIGRATIONS).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !build.is_finished(),
        "start-up waits while NATS is unreachable"
    );
    nats.resume().await;
    let host = tokio::time::timeout(Duration::from_secs(20), build)
        .await
        .expect("start-up continues once NATS answers")
        .unwrap()
        .unwrap();
    let grpc = host.grpc_addr();
    let stop = CancellationToken::new();
    let task = tokio::spawn(host.run(Routes::default(), &[], None, stop.clone()));
    wait_for_health(grpc, "", ServingStatus::Serving).await;
    // NATS going away turns the service NOT_SERVING until it is back.
    nats.stop();
    wait_for_health(grpc, "", ServingStatus::NotServing).await;
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// Refuses the token `bad`; lets everything else through.
struct TokenCheck;

impl kernel::grpc::Authenticator for TokenCheck {
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut http::request::Parts,
    ) -> futures::future::BoxFuture<'a, Result<(), tonic::Status>> {
        Box::pin(async move {
            match parts
                .headers
                .get("authorization")
                .map(|v| v.to_str().unwrap_or_default())
            {
                Some("Bearer bad") => Err(tonic::Status::unauthenticated("token is not valid")),
                _ => Ok(()),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authentication_slot_refuses_bad_tokens_before_the_rpc_runs() {
    let world = TestWorld::new();
    let mut host = ServiceHost::build(world.config(SERVICE), &MIGRATIONS)
        .await
        .unwrap();
    host.add_relay();
    let routes = Routes::new(ProbeServiceServer::new(Probe {
        pool: host.pool.clone(),
    }));
    let grpc = host.grpc_addr();
    let stop = CancellationToken::new();
    let authenticator: std::sync::Arc<dyn kernel::grpc::Authenticator> =
        std::sync::Arc::new(TokenCheck);
    let task = tokio::spawn(host.run(routes, &[], Some(authenticator), stop.clone()));
    let mut client = ProbeServiceClient::new(channel(grpc).await);

    let mut refused = tonic::Request::new(note("refused"));
    refused
        .metadata_mut()
        .insert("authorization", "Bearer bad".parse().unwrap());
    let status = client.note(refused).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(status.message(), "token is not valid");

    let mut accepted = tonic::Request::new(note("accepted"));
    accepted
        .metadata_mut()
        .insert("authorization", "Bearer good".parse().unwrap());
    client.note(accepted).await.unwrap();
    // Health stays reachable without a token.
    let mut health = HealthClient::new(channel(grpc).await);
    health.check(HealthCheckRequest::default()).await.unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();
}

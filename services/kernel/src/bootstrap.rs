//! Service bootstrap: connect, migrate, provision the stream, bind; then run the
//! gRPC server (health, reflection, gRPC-Web, a span per RPC, the authentication
//! slot), the outbox relay, consumers and the HTTP `/metrics` endpoint under one
//! [`CancellationToken`], and stop them gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use futures::future::BoxFuture;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::KernelConfig;
use crate::consumer::{ConsumerRuntime, ConsumerSource, Projection};
use crate::grpc::{AuthLayer, Authenticator, GrpcTraceLayer, KnownMethods};
use crate::outbox::{EarlierContract, Relay, RelayConfig, ensure_stream};

mod http;
mod readiness;

pub use http::metrics_handle;
pub use readiness::Readiness;

type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// Everything a service needs from the outside world, connected and ready.
pub struct ServiceHost {
    pub config: KernelConfig,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub jetstream: jetstream::Context,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    /// The certificate the gRPC port serves; plaintext when `None`.
    tls: Option<tonic::transport::Identity>,
    tasks: Vec<(String, Task)>,
    earlier_contract: Option<EarlierContract>,
    /// Plain HTTP routes served on the gRPC port (`serve_plain_http`).
    plain_http: crate::grpc::PlainHttpLayer,
}

impl ServiceHost {
    /// Connects Postgres and NATS (retrying with backoff while they are unreachable),
    /// creates the database and schema if missing, runs the kernel's and the
    /// service's migrations, provisions the service's stream and binds both ports
    /// (port 0 picks a free one).
    pub async fn build(config: KernelConfig, migrations: &Migrator) -> anyhow::Result<Self> {
        // Install the recorder before anything counts, or early counts are lost.
        metrics_handle();
        // One TLS crypto provider for the whole process (rustls with ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A certificate that cannot be read stops the start, before any connection.
        let tls = config.tls.server_identity()?;
        crate::retry::until_ok("creating the database", || {
            crate::db::ensure_database(&config)
        })
        .await;
        let pool =
            crate::retry::until_ok("connecting to Postgres", || crate::db::connect(&config)).await;
        crate::db::migrate(&pool, &config.schema, migrations).await?;
        let nats = crate::nats::connect(&config).await;
        let jetstream = jetstream::new(nats.clone());
        ensure_stream(&jetstream, &config).await?;
        let grpc_listener = bind(config.bind_address, config.grpc_port, "gRPC").await?;
        let http_listener =
            bind(config.metrics_bind_address, config.metrics_port, "metrics").await?;
        Ok(Self {
            config,
            pool,
            nats,
            jetstream,
            grpc_listener,
            http_listener,
            tls,
            tasks: Vec::new(),
            earlier_contract: None,
            plain_http: crate::grpc::PlainHttpLayer::default(),
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], self.config.grpc_port)))
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], self.config.metrics_port)))
    }

    /// This service's outbox relay, configured from the settings.
    pub fn relay(&self) -> Relay {
        Relay::new(
            self.pool.clone(),
            self.jetstream.clone(),
            RelayConfig {
                earlier_contract: self.earlier_contract,
                ..RelayConfig::from_kernel(&self.config)
            },
        )
    }

    /// Publishes `contract` beside the current one until its retirement date.
    pub fn publish_earlier_contract(&mut self, contract: EarlierContract) {
        self.earlier_contract = Some(contract);
    }

    /// Runs `task` beside the server until shutdown; if it ends on its own, the
    /// whole service stops and says which task ended and why.
    pub fn add_task<F, Fut>(&mut self, name: &str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.push((
            name.to_owned(),
            Box::new(move |token| Box::pin(task(token))),
        ));
    }

    /// Serves `router` for the requests whose path starts with `prefix` on the
    /// gRPC port, as plain HTTP (grpc/plain_http.rs): links a browser follows.
    pub fn serve_plain_http(&mut self, prefixes: &'static [&'static str], router: axum::Router) {
        self.plain_http = crate::grpc::PlainHttpLayer::new(prefixes, router);
    }

    pub fn add_relay(&mut self) {
        let relay = self.relay();
        self.add_task("outbox relay", move |token| relay.run(token));
    }

    /// The authenticator of a service other than identity: callers' tokens verified
    /// against identity's keys (`IDENTITY_URL`), and identity's revocations followed.
    pub fn identity_authenticator(
        &mut self,
    ) -> anyhow::Result<Arc<crate::auth::BearerAuthenticator>> {
        let jwks = crate::auth::IdentityJwks::new(&self.config.identity_url, &self.config.tls)?;
        let verifier = crate::auth::TokenVerifier::new(Arc::new(jwks));
        self.follow_revocations(verifier.revocations());
        Ok(Arc::new(crate::auth::BearerAuthenticator::new(Arc::new(
            verifier,
        ))))
    }

    /// Follows identity's revocations into `revocations` (a token verifier's).
    pub fn follow_revocations(&mut self, revocations: crate::auth::Revocations) {
        let jetstream = self.jetstream.clone();
        let namespace = self.config.namespace.clone();
        self.add_task("revocations", move |token| {
            crate::auth::follow_revocations(jetstream, namespace, revocations, token)
        });
    }

    pub fn add_consumer<P: Projection>(&mut self, projection: Arc<P>, source: ConsumerSource) {
        let name = format!("consumer {}", projection.name());
        let runtime = ConsumerRuntime::new(
            self.pool.clone(),
            self.jetstream.clone(),
            projection,
            source,
            self.config.consumer.clone(),
        );
        self.add_task(&name, move |token| runtime.run(token));
    }

    /// Serves `routes` (the service's gRPC services) plus health and reflection
    /// until `shutdown` is cancelled or a task ends; then stops accepting, lets
    /// in-flight RPCs finish, and waits for the relay's last flush.
    pub async fn run(
        self,
        routes: Routes,
        service_names: &[&str],
        authenticator: Option<Arc<dyn Authenticator>>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let readiness = Readiness::new(
            reporter.clone(),
            service_names
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
        );
        readiness.set(false).await;

        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(lienlac_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building the reflection service")?;
        let routes = routes.add_service(health_service).add_service(reflection);

        // Background tasks stop after the server has finished its in-flight RPCs, so
        // the relay's last flush publishes what those RPCs committed.
        let background = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for (name, task) in self.tasks {
            let token = background.clone();
            tasks.spawn(async move { (name, task(token).await) });
        }
        let watchdog = readiness::watch(
            readiness.clone(),
            self.pool.clone(),
            self.nats.clone(),
            background.clone(),
        );
        tasks.spawn(async move { ("readiness".to_owned(), watchdog.await) });
        let retention = crate::retention::run(
            self.pool.clone(),
            self.config.retention.clone(),
            background.clone(),
        );
        tasks.spawn(async move { ("retention".to_owned(), retention.await) });
        let http = http::serve(self.http_listener, readiness.clone(), background.clone());
        tasks.spawn(async move { ("metrics endpoint".to_owned(), http.await) });

        tracing::info!(
            service = self.config.service.name,
            grpc = %self.grpc_listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            "serving"
        );
        let mut server = tonic::transport::Server::builder();
        match &self.tls {
            Some(identity) => {
                server = server
                    .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity.clone()))
                    .context("configuring TLS")?;
            }
            None => tracing::warn!(
                service = self.config.service.name,
                "gRPC is served in plaintext, fit for development only: set LIENLAC_TLS_CERT_FILE and LIENLAC_TLS_KEY_FILE"
            ),
        }
        let server = server
            .accept_http1(true)
            .layer(self.plain_http)
            .layer(GrpcTraceLayer::new(KnownMethods::of_contract()))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(AuthLayer::new(authenticator))
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY, small responses wait on the peer's delayed ACK (~40 ms).
                TcpIncoming::from(self.grpc_listener)
                    .with_nodelay(Some(true))
                    .with_keepalive(Some(Duration::from_secs(60))),
                shutdown.clone().cancelled_owned(),
            );
        tokio::pin!(server);

        let outcome = tokio::select! {
                result = &mut server => result.context("gRPC server failed"),
                Some(joined) = tasks.join_next() => {
                    let (name, result) = joined.context("a background task panicked")?;
                    let error = match result {
                        Ok(()) => anyhow::anyhow!("{name} stopped unexpectedly"),
                        Err(error) => error.context(format!("{name} failed")),
                    };
                    tracing::error!(error = ?error, "stopping the service");
                    Err(error)
                }
        };
        readiness.set(false).await;
        shutdown.cancel();
        if outcome.is_err() {
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut server).await;
        }
        background.cancel();
        let drained = tokio::time::timeout(Duration::from_secs(15), async {
            while let Some(joined) = tasks.join_next().await {
                if let Ok((name, Err(error))) = joined {
                    tracing::warn!(task = %name, error = ?error, "task failed while stopping");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("background tasks did not stop within 15 s");
        }
        tracing::info!(service = self.config.service.name, "stopped");
        outcome
    }
}

async fn bind(address: std::net::IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(address, port);
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the {what} port {address}"))
}

/// All of a service binary after reading its settings: telemetry (JSON logs, OTLP
/// when `otlp_endpoint` is set), build, run until SIGTERM/SIGINT, flush traces.
pub async fn run_main<App, Run, RunFut>(
    service: crate::config::ServiceId,
    otlp_endpoint: Option<String>,
    build: impl Future<Output = anyhow::Result<App>>,
    run: Run,
) -> anyhow::Result<()>
where
    Run: FnOnce(App, CancellationToken) -> RunFut,
    RunFut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let telemetry = crate::telemetry::init(&crate::telemetry::TelemetrySettings {
        service_name: format!("lienlac-{}", service.name),
        otlp_endpoint,
        json_logs: true,
    })?;
    let app = build.await?;
    let outcome = run_until_signal(|shutdown| run(app, shutdown)).await;
    telemetry.shutdown().await;
    outcome
}

/// Runs a service until it stops on its own or a signal arrives; on SIGTERM or
/// SIGINT the service is asked to stop gracefully and awaited. Logs why it ended.
pub async fn run_until_signal<F, Fut>(run: F) -> anyhow::Result<()>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let shutdown = CancellationToken::new();
    let mut service = tokio::spawn(run(shutdown.clone()));
    let outcome = tokio::select! {
        joined = &mut service => joined,
        signal = shutdown_signal() => {
            tracing::info!(signal, "stopping gracefully");
            shutdown.cancel();
            service.await
        }
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::error!(error = ?error, "service failed");
            Err(error)
        }
        Err(panic) => Err(anyhow::anyhow!("service task failed: {panic}")),
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C), naming the signal.
pub async fn shutdown_signal() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

/// Marks every named service (and the server as a whole, "") in the health service.
async fn set_health(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

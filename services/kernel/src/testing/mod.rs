//! The test harness (feature `testing`): each test gets its own world, a namespace
//! `t<random>` that names its Postgres schemas (`<namespace>_<service>`) and
//! prefixes its JetStream streams and subjects, so tests run in parallel against
//! one Postgres and one NATS. Dropping the world removes its schemas and streams.

pub mod otlp;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use async_nats::jetstream;
use futures::TryStreamExt as _;
use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tracing_subscriber::Layer as _;

use crate::config::{KernelConfig, NatsCredentials, ServiceId};

/// Where tests find Postgres: `LIENLAC_TEST_DATABASE_URL`, else this. The harness
/// cleans up as this user; each service under test connects to the same server and
/// database as its own role (`lienlac_<service>`, without a password: trusted on
/// loopback, or in `~/.pgpass`), as in production.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/lienlac_test";

/// `url` with its user (and password) replaced by `user`.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{user}@{host}{path}")
}

pub struct TestWorld {
    pub namespace: String,
    database_url: String,
    nats_url: String,
    nats_credentials: NatsCredentials,
}

/// Where tests find NATS: `LIENLAC_TEST_NATS_URL`, `LIENLAC_TEST_NATS_USER` and
/// `LIENLAC_TEST_NATS_PASSWORD`, else the project-local nats-server that
/// `deploy/local/stack.sh up` starts, as its `operator` user (test namespaces are
/// made up per test, so no service user's rights could cover them).
fn test_nats() -> (String, NatsCredentials) {
    let port = std::env::var("LIENLAC_NATS_PORT").unwrap_or_else(|_| "4322".to_owned());
    let url = std::env::var("LIENLAC_TEST_NATS_URL")
        .unwrap_or_else(|_| format!("nats://127.0.0.1:{port}"));
    let password = std::env::var("LIENLAC_TEST_NATS_PASSWORD")
        .ok()
        .or_else(|| {
            // The checkout's .local/, found upward from the package under test
            // when the test runs, so that a test binary built elsewhere still
            // finds this checkout's passwords.
            let start = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::current_dir().ok())?;
            let file = start
                .ancestors()
                .map(|dir| dir.join(".local/nats/credentials.env"))
                .find(|file| file.exists())?;
            std::fs::read_to_string(file)
                .ok()?
                .lines()
                .find_map(|line| {
                    line.strip_prefix("OPERATOR_NATS_PASSWORD=")
                        .map(str::to_owned)
                })
        });
    let credentials = NatsCredentials {
        user: Some(
            std::env::var("LIENLAC_TEST_NATS_USER").unwrap_or_else(|_| "operator".to_owned()),
        ),
        password: password.map(SecretString::from),
        ..NatsCredentials::default()
    };
    (url, credentials)
}

impl Default for TestWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl TestWorld {
    pub fn new() -> Self {
        init_tracing();
        let id = uuid::Uuid::now_v7().simple().to_string();
        let (nats_url, nats_credentials) = test_nats();
        Self {
            namespace: format!("t{}", &id[16..]),
            database_url: std::env::var("LIENLAC_TEST_DATABASE_URL")
                .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned()),
            nats_url,
            nats_credentials,
        }
    }

    /// Settings for `service` in this world: own schema, namespaced streams, free
    /// ports on loopback, and short timings so tests don't wait.
    pub fn config(&self, service: ServiceId) -> KernelConfig {
        let mut config = KernelConfig::defaults(service);
        config.database_url = SecretString::from(as_user(
            &self.database_url,
            &crate::config::database_role(service),
        ));
        config.nats_url = self.nats_url.clone();
        config.nats_credentials = self.nats_credentials.clone();
        config.schema = format!("{}_{}", self.namespace, service.name);
        config.namespace = self.namespace.clone();
        config.db_max_connections = 10;
        config.bind_address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        config.grpc_port = 0;
        config.metrics_port = 0;
        config.stream.max_age = Duration::from_secs(3600);
        config.relay.poll_interval = Duration::from_millis(10);
        config.consumer.retry_initial = Duration::from_millis(10);
        config.consumer.max_attempts = 3;
        config.consumer.gap_wait = Duration::from_millis(500);
        config
    }

    /// A migrated pool for `service` (kernel tables plus `migrations`).
    pub async fn pool(&self, service: ServiceId, migrations: &Migrator) -> PgPool {
        let config = self.config(service);
        crate::db::ensure_database(&config)
            .await
            .expect("test database can be created");
        let pool = crate::db::connect(&config)
            .await
            .expect("Postgres for tests");
        crate::db::migrate(&pool, &config.schema, migrations)
            .await
            .expect("migrations apply");
        pool
    }

    /// A connection as the test database's administrator, for what no service's
    /// role may do (a CHECKPOINT before a measurement).
    pub async fn admin(&self) -> sqlx::PgConnection {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("the test database as its administrator")
    }

    /// A NATS connection as this world's services make it.
    pub async fn nats(&self) -> async_nats::Client {
        connect_as(&self.nats_url, &self.nats_credentials)
            .await
            .expect("NATS for tests (deploy/local/stack.sh up)")
    }

    /// The command line's NATS settings for this world (`LIENLAC_NATS_URL`,
    /// `LIENLAC_NATS_USER`, `LIENLAC_NATS_PASSWORD`), for tests that run it.
    pub fn nats_env(&self) -> Vec<(&'static str, String)> {
        use secrecy::ExposeSecret as _;
        let mut env = vec![("LIENLAC_NATS_URL", self.nats_url.clone())];
        if let Some(user) = &self.nats_credentials.user {
            env.push(("LIENLAC_NATS_USER", user.clone()));
        }
        if let Some(password) = &self.nats_credentials.password {
            env.push(("LIENLAC_NATS_PASSWORD", password.expose_secret().to_owned()));
        }
        env
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.nats().await)
    }

    async fn clean_up(
        namespace: String,
        database_url: String,
        nats_url: String,
        nats_credentials: NatsCredentials,
    ) {
        if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&database_url)
            .await
        {
            let schemas: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
            )
            .bind(format!("{namespace}_"))
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            if let Ok(mut conn) = pool.acquire().await {
                for schema in schemas {
                    let _ = crate::db::drop_schema(&mut conn, &schema).await;
                }
            }
        }
        if let Ok(client) = connect_as(&nats_url, &nats_credentials).await {
            let jetstream = jetstream::new(client);
            let prefix = format!("{}_", namespace.to_ascii_uppercase());
            let names: Vec<String> = jetstream
                .stream_names()
                .try_collect()
                .await
                .unwrap_or_default();
            for name in names.into_iter().filter(|name| name.starts_with(&prefix)) {
                let _ = jetstream.delete_stream(&name).await;
            }
        }
    }
}

impl Drop for TestWorld {
    fn drop(&mut self) {
        let (namespace, database_url, nats_url, nats_credentials) = (
            self.namespace.clone(),
            self.database_url.clone(),
            self.nats_url.clone(),
            self.nats_credentials.clone(),
        );
        // Drop may run inside a Tokio runtime, which cannot block: clean up from a
        // thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(Self::clean_up(
                    namespace,
                    database_url,
                    nats_url,
                    nats_credentials,
                ));
            }
        })
        .join();
    }
}

/// A CA and a certificate for 127.0.0.1 and localhost that it signed, as PEM files
/// (`ca.pem`, `cert.pem`, `key.pem`) in `dir`.
pub fn test_pki(dir: &std::path::Path) -> crate::config::TlsSettings {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("a self-signed CA");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("certificate parameters");
    let key = KeyPair::generate().expect("certificate key");
    let cert = leaf
        .signed_by(&key, &ca)
        .expect("a certificate signed by the CA");
    std::fs::create_dir_all(dir).expect("the certificates' directory");
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("cert.pem", cert.pem()),
        ("key.pem", key.serialize_pem()),
    ] {
        std::fs::write(dir.join(name), pem).expect("a certificate file");
    }
    crate::config::TlsSettings {
        cert_file: Some(dir.join("cert.pem")),
        key_file: Some(dir.join("key.pem")),
        ca_file: Some(dir.join("ca.pem")),
    }
}

/// Installs tracing for tests once per process: span and trace ids exist (so
/// events carry `traceparent` as in production, without exporting anything), and
/// logs reach the test output when `TEST_LOG` is set.
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    static PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let settings = crate::telemetry::TelemetrySettings {
            service_name: "lienlac-test".to_owned(),
            otlp_endpoint: None,
            json_logs: false,
        };
        let Ok(provider) = crate::telemetry::tracer_provider(&settings) else {
            return;
        };
        let logs = std::env::var_os("TEST_LOG").is_some().then(|| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
        });
        let _ = tracing_subscriber::registry()
            .with(crate::telemetry::otel_layer(&provider))
            .with(logs)
            .try_init();
        let _ = PROVIDER.set(provider);
    });
}

async fn connect_as(
    url: &str,
    credentials: &NatsCredentials,
) -> anyhow::Result<async_nats::Client> {
    Ok(crate::nats::options(credentials)
        .await?
        .max_reconnects(Some(3))
        .connect(url)
        .await?)
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh client-made request id.
/// A caller who is a person holding one role over the scope `id`, for access
/// rules' table tests.
pub fn caller_with(
    role: crate::auth::Role,
    scope: crate::auth::ScopeKind,
    id: uuid::Uuid,
) -> crate::auth::Caller {
    crate::auth::Caller {
        account_id: uuid::Uuid::now_v7(),
        person_id: Some(uuid::Uuid::now_v7()),
        session: None,
        bindings: vec![crate::auth::Binding {
            role,
            scope,
            id: Some(id),
            district: None,
            school: None,
        }],
    }
}

pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `message` with `authorization: Bearer <token>`; no header for an empty token.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if !token.is_empty()
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A lazily connecting channel to a service spawned at `addr`.
pub fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from(
        http::Uri::try_from(format!("http://{addr}")).expect("a socket address makes a URI"),
    )
    .connect_lazy()
}

#[cfg(test)]
mod tests {
    use super::as_user;

    #[test]
    fn a_service_connects_to_the_test_database_as_its_own_role() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/lienlac_test",
                "postgres://lienlac_identity@127.0.0.1:5432/lienlac_test",
            ),
            (
                "postgres://admin:secret@db:5432/t?sslmode=require",
                "postgres://lienlac_identity@db:5432/t?sslmode=require",
            ),
            (
                "postgresql://db/lienlac_test",
                "postgresql://lienlac_identity@db/lienlac_test",
            ),
        ] {
            assert_eq!(as_user(url, "lienlac_identity"), expected, "{url}");
        }
    }
}

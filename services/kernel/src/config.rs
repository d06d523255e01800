//! Settings shared by every service, read from environment variables with defaults
//! that work on a fresh machine (docs/configuration.md). A bad variable stops
//! start-up with its name; tests change fields on the struct instead of the environment.

use std::time::Duration;

use secrecy::SecretString;

mod env;

pub use env::{Env, parse_duration};

/// A lienlac service: its name (schema, stream and subject token) and default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceId {
    pub name: &'static str,
    pub grpc_port: u16,
    pub metrics_port: u16,
    /// The version of its event contract that its subscribers read (`v2`): the
    /// package `lienlac.<service>.<contract>` and the subjects
    /// `lienlac.<service>.<contract>.…` (docs/events.md).
    pub contract: &'static str,
}

impl ServiceId {
    pub const IDENTITY: Self = Self::new("identity", 50051, 9101).with_contract("v2");
    pub const ATTENDANCE: Self = Self::new("attendance", 50052, 9102).with_contract("v2");
    pub const MESSAGING: Self = Self::new("messaging", 50053, 9103);
    pub const REPORTING: Self = Self::new("reporting", 50054, 9104);
    pub const SYNC: Self = Self::new("sync", 50055, 9105);

    pub const fn new(name: &'static str, grpc_port: u16, metrics_port: u16) -> Self {
        Self {
            name,
            grpc_port,
            metrics_port,
            contract: "v1",
        }
    }

    pub const fn with_contract(mut self, contract: &'static str) -> Self {
        self.contract = contract;
        self
    }

    /// `LIENLAC_ATTENDANCE`: the JetStream stream this service publishes to.
    pub fn stream_name(&self) -> String {
        format!("LIENLAC_{}", self.name.to_ascii_uppercase())
    }

    /// `lienlac.attendance`: the first tokens of every subject it publishes, in
    /// every version of its contract.
    pub fn subject_prefix(&self) -> String {
        format!("lienlac.{}", self.name)
    }

    /// `lienlac.attendance.v2`: the subjects of its current contract.
    pub fn subject_root(&self) -> String {
        format!("lienlac.{}.{}", self.name, self.contract)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

/// How the publishing service's JetStream stream is provisioned.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub replicas: usize,
    pub max_age: Duration,
    pub duplicate_window: Duration,
}

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Events published per round trip of acknowledgements.
    pub batch_size: i64,
    /// How often an idle relay looks for newly committed events.
    pub poll_interval: Duration,
    /// How long the relay waits for JetStream's acknowledgement of a publish
    /// before it sends again: a publish that went to a node as it died is never
    /// acknowledged.
    pub ack_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Messages fetched and projected in one transaction.
    pub batch_size: usize,
    /// Handler attempts before an event goes to the dead-letter table.
    pub max_attempts: u32,
    pub retry_initial: Duration,
    /// How long an event that arrives ahead of its predecessor waits for it,
    /// beyond the acknowledgement wait (after which a dead replica's
    /// unacknowledged predecessor is delivered again).
    pub gap_wait: Duration,
    /// How long JetStream waits for a delivered event's acknowledgement before it
    /// delivers the event again, to this replica or another: a replica that died
    /// holding a batch hands it over this soon. A replica still projecting a batch
    /// says so every half of it.
    pub ack_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct KernelConfig {
    pub service: ServiceId,
    pub database_url: SecretString,
    /// Postgres schema that holds every table of this service.
    pub schema: String,
    pub db_max_connections: u32,
    pub nats_url: String,
    pub nats_credentials: NatsCredentials,
    /// Prepended to stream names and subjects (`LIENLAC_NAMESPACE`): empty in
    /// production, unique per test, `bench` for the load generator's own system.
    pub namespace: String,
    pub stream: StreamSettings,
    pub relay: RelaySettings,
    pub consumer: ConsumerSettings,
    pub retention: crate::retention::RetentionSettings,
    /// Address both ports bind to; `0.0.0.0` serves every interface.
    pub bind_address: std::net::IpAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` listen: loopback unless an
    /// operator opens them to a scraper.
    pub metrics_bind_address: std::net::IpAddr,
    pub grpc_port: u16,
    pub metrics_port: u16,
    pub otlp_endpoint: Option<String>,
    /// Where other services reach identity (its JWKS, for token verification).
    pub identity_url: String,
    pub tls: TlsSettings,
}

/// How a service proves itself to NATS: a user and password, an nkey seed or a
/// credentials file (for an operator-mode server), and the CA that signed the
/// server's certificate when NATS speaks TLS.
#[derive(Debug, Clone, Default)]
pub struct NatsCredentials {
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub nkey_seed: Option<SecretString>,
    pub creds_file: Option<std::path::PathBuf>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// TLS for gRPC: the certificate chain and key the service's port serves (PEM),
/// and the CA it trusts when it calls another service over `https://`.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
    pub ca_file: Option<std::path::PathBuf>,
}

impl TlsSettings {
    /// The server's identity, read from its files; `None` serves plaintext.
    pub fn server_identity(&self) -> anyhow::Result<Option<tonic::transport::Identity>> {
        use anyhow::Context as _;
        let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) else {
            return Ok(None);
        };
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        Ok(Some(tonic::transport::Identity::from_pem(cert, key)))
    }

    /// A client endpoint for `url`, over TLS with the configured CA for `https://`.
    pub fn endpoint(&self, url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
        use anyhow::Context as _;
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?;
        if !url.starts_with("https://") {
            return Ok(endpoint);
        }
        let ca = self
            .ca_file
            .as_ref()
            .context("LIENLAC_TLS_CA_FILE is needed for an https:// address")?;
        let ca = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        Ok(endpoint.tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca)),
        )?)
    }
}

/// The Postgres role a service connects as unless configured otherwise: one role
/// per service, owner of that service's schemas and of nothing else
/// (`deploy/local/stack.sh` creates them; docs/security.md).
pub fn database_role(service: ServiceId) -> String {
    format!("lienlac_{}", service.name)
}

/// `postgres://lienlac_<service>@127.0.0.1:5432/lienlac`.
pub fn default_database_url(service: ServiceId) -> String {
    format!(
        "postgres://{}@127.0.0.1:5432/lienlac",
        database_role(service)
    )
}

pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

impl KernelConfig {
    /// Defaults for `service`, as a fresh machine runs it.
    pub fn defaults(service: ServiceId) -> Self {
        Self {
            service,
            database_url: SecretString::from(default_database_url(service)),
            schema: service.name.to_owned(),
            db_max_connections: 16,
            nats_url: DEFAULT_NATS_URL.to_owned(),
            nats_credentials: NatsCredentials::default(),
            namespace: String::new(),
            stream: StreamSettings {
                replicas: 1,
                max_age: Duration::from_secs(400 * 24 * 3600),
                duplicate_window: Duration::from_secs(120),
            },
            relay: RelaySettings {
                batch_size: 500,
                poll_interval: Duration::from_millis(20),
                ack_timeout: Duration::from_secs(2),
            },
            consumer: ConsumerSettings {
                batch_size: 200,
                max_attempts: 5,
                retry_initial: Duration::from_millis(50),
                gap_wait: Duration::from_secs(2),
                ack_wait: Duration::from_secs(5),
            },
            retention: crate::retention::RetentionSettings::default(),
            bind_address: std::net::IpAddr::from([0, 0, 0, 0]),
            metrics_bind_address: std::net::IpAddr::from([127, 0, 0, 1]),
            grpc_port: service.grpc_port,
            metrics_port: service.metrics_port,
            otlp_endpoint: None,
            identity_url: "http://127.0.0.1:50051".to_owned(),
            tls: TlsSettings::default(),
        }
    }

    pub fn from_env(service: ServiceId) -> Result<Self, ConfigError> {
        Self::from_lookup(service, |name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so that parsing is testable without the
    /// process environment.
    pub fn from_lookup(
        service: ServiceId,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let upper = service.name.to_ascii_uppercase();
        let env = Env(&lookup);
        let mut config = Self::defaults(service);
        if let Some(url) = env
            .text(&format!("{upper}_DATABASE_URL"))
            .or_else(|| env.text("DATABASE_URL"))
        {
            config.database_url = SecretString::from(url);
        }
        if let Some(url) = env.text("NATS_URL") {
            config.nats_url = url;
        }
        config.nats_credentials = NatsCredentials {
            user: env
                .text(&format!("{upper}_NATS_USER"))
                .or_else(|| env.text("NATS_USER")),
            password: env
                .text(&format!("{upper}_NATS_PASSWORD"))
                .or_else(|| env.text("NATS_PASSWORD"))
                .map(SecretString::from),
            nkey_seed: env
                .text(&format!("{upper}_NATS_NKEY_SEED"))
                .map(SecretString::from),
            creds_file: env
                .text(&format!("{upper}_NATS_CREDS_FILE"))
                .map(std::path::PathBuf::from),
            ca_file: env.text("NATS_CA_FILE").map(std::path::PathBuf::from),
        };
        if let Some(namespace) = env.text("LIENLAC_NAMESPACE") {
            // The namespace becomes a subject token and a stream-name prefix.
            crate::db::check_identifier(&namespace).map_err(|reason| ConfigError {
                name: "LIENLAC_NAMESPACE".to_owned(),
                reason,
            })?;
            config.namespace = namespace;
        }
        if let Some(schema) = env.text(&format!("{upper}_DB_SCHEMA")) {
            config.schema = schema;
        }
        crate::db::check_identifier(&config.schema).map_err(|reason| ConfigError {
            name: format!("{upper}_DB_SCHEMA"),
            reason,
        })?;
        env.parse(
            &format!("{upper}_DB_MAX_CONNECTIONS"),
            &mut config.db_max_connections,
        )?;
        env.parse("LIENLAC_BIND_ADDRESS", &mut config.bind_address)?;
        env.parse(
            "LIENLAC_METRICS_BIND_ADDRESS",
            &mut config.metrics_bind_address,
        )?;
        env.parse(&format!("{upper}_GRPC_PORT"), &mut config.grpc_port)?;
        env.parse(&format!("{upper}_METRICS_PORT"), &mut config.metrics_port)?;
        env.parse("LIENLAC_STREAM_REPLICAS", &mut config.stream.replicas)?;
        env.duration("LIENLAC_STREAM_MAX_AGE", &mut config.stream.max_age)?;
        env.duration(
            "LIENLAC_STREAM_DUPLICATE_WINDOW",
            &mut config.stream.duplicate_window,
        )?;
        env.parse("LIENLAC_RELAY_BATCH_SIZE", &mut config.relay.batch_size)?;
        env.duration(
            "LIENLAC_RELAY_POLL_INTERVAL",
            &mut config.relay.poll_interval,
        )?;
        env.duration("LIENLAC_RELAY_ACK_TIMEOUT", &mut config.relay.ack_timeout)?;
        env.parse(
            "LIENLAC_CONSUMER_BATCH_SIZE",
            &mut config.consumer.batch_size,
        )?;
        env.parse(
            "LIENLAC_CONSUMER_MAX_ATTEMPTS",
            &mut config.consumer.max_attempts,
        )?;
        env.duration("LIENLAC_CONSUMER_GAP_WAIT", &mut config.consumer.gap_wait)?;
        env.duration("LIENLAC_CONSUMER_ACK_WAIT", &mut config.consumer.ack_wait)?;
        if config.consumer.ack_wait < Duration::from_secs(1) {
            return Err(ConfigError {
                name: "LIENLAC_CONSUMER_ACK_WAIT".to_owned(),
                reason: "must be at least 1s".to_owned(),
            });
        }
        env.duration("LIENLAC_RETENTION_INBOX", &mut config.retention.inbox)?;
        env.duration("LIENLAC_RETENTION_REQUESTS", &mut config.retention.requests)?;
        env.duration(
            "LIENLAC_RETENTION_DATA_ACCESS",
            &mut config.retention.data_access,
        )?;
        config.retention.check()?;
        config.otlp_endpoint = env.text("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(url) = env.text("IDENTITY_URL") {
            config.identity_url = url;
        }
        config.tls = TlsSettings {
            cert_file: env
                .text("LIENLAC_TLS_CERT_FILE")
                .map(std::path::PathBuf::from),
            key_file: env
                .text("LIENLAC_TLS_KEY_FILE")
                .map(std::path::PathBuf::from),
            ca_file: env
                .text("LIENLAC_TLS_CA_FILE")
                .map(std::path::PathBuf::from),
        };
        if config.tls.cert_file.is_some() != config.tls.key_file.is_some() {
            return Err(ConfigError {
                name: "LIENLAC_TLS_KEY_FILE".to_owned(),
                reason: "LIENLAC_TLS_CERT_FILE and LIENLAC_TLS_KEY_FILE go together".to_owned(),
            });
        }
        if config.identity_url.starts_with("https://") && config.tls.ca_file.is_none() {
            return Err(ConfigError {
                name: "LIENLAC_TLS_CA_FILE".to_owned(),
                reason: "is required to reach IDENTITY_URL over https".to_owned(),
            });
        }
        Ok(config)
    }

    /// The stream this service publishes to, with the namespace applied.
    pub fn stream_name(&self) -> String {
        stream_name_in(&self.namespace, self.service)
    }

    /// `lienlac.<service>.<contract>` with the namespace applied.
    pub fn subject_root(&self) -> String {
        subject_root_in(&self.namespace, self.service)
    }

    /// `lienlac.<service>` with the namespace applied: every version's subjects.
    pub fn subject_prefix(&self) -> String {
        subject_prefix_in(&self.namespace, self.service)
    }
}

/// The stream of `service` seen from a namespace (a test's prefix, or none).
pub fn stream_name_in(namespace: &str, service: ServiceId) -> String {
    if namespace.is_empty() {
        service.stream_name()
    } else {
        format!(
            "{}_{}",
            namespace.to_ascii_uppercase(),
            service.stream_name()
        )
    }
}

pub fn subject_root_in(namespace: &str, service: ServiceId) -> String {
    namespaced(namespace, service.subject_root())
}

pub fn subject_prefix_in(namespace: &str, service: ServiceId) -> String {
    namespaced(namespace, service.subject_prefix())
}

fn namespaced(namespace: &str, subject: String) -> String {
    if namespace.is_empty() {
        subject
    } else {
        format!("{namespace}.{subject}")
    }
}

#[cfg(test)]
mod tests;

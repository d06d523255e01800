//! lienlac's shared kernel: what every service stands on.
//!
//! - [`event_store`]: append-only event streams in the service's own Postgres schema,
//!   optimistic concurrency, idempotent requests, reads in commit order;
//!   [`write_model`]: the tables a service projects inline from its own events, and
//!   their rebuild.
//! - [`outbox`]: the relay that publishes committed events to JetStream with
//!   CloudEvents headers, and stream provisioning.
//! - [`consumer`]: durable pull consumers that project events exactly once in effect;
//!   [`copy`]: binary COPY for rebuilds that load a read model in bulk.
//! - [`bootstrap`], [`config`], [`db`]: settings, connections, migrations, the gRPC
//!   server with health, reflection and gRPC-Web, `/metrics`, graceful shutdown.
//! - [`telemetry`], [`grpc`]: tracing, OTLP export and W3C context propagation
//!   through gRPC metadata and NATS headers.

pub mod access_log;
pub mod auth;
pub mod bootstrap;
pub mod command;
pub mod config;
pub mod consumer;
pub mod copy;
pub mod csv;
pub mod dates;
pub mod db;
pub mod error;
pub mod event_store;
pub mod grpc;
pub mod nats;
pub mod outbox;
pub mod retention;
pub mod retry;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod write_model;

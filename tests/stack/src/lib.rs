//! Attendance and reporting started in a test world, each verifying tokens against
//! the identity service at `identity` (see `lienlac_test_support::start_identity`),
//! until `stop`. The services' own tests keep their own set-up: depending on this
//! crate would compile them twice.

#![allow(clippy::unwrap_used)] // a test set-up fails the test by panicking

use std::net::SocketAddr;

use kernel::config::ServiceId;
use kernel::testing::TestWorld;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Starts attendance; returns its gRPC address and the pool of its schema.
pub async fn start_attendance(
    world: &TestWorld,
    stop: &CancellationToken,
    identity: SocketAddr,
) -> (SocketAddr, PgPool) {
    let mut config = world.config(ServiceId::ATTENDANCE);
    config.identity_url = format!("http://{identity}");
    let app = attendance::Application::build(attendance::Settings::defaults(config))
        .await
        .unwrap();
    let (addr, pool) = (app.grpc_addr(), app.pool().clone());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    (addr, pool)
}

/// Starts reporting; returns its gRPC address and the pool of its schema.
pub async fn start_reporting(
    world: &TestWorld,
    stop: &CancellationToken,
    identity: SocketAddr,
) -> (SocketAddr, PgPool) {
    let mut config = world.config(ServiceId::REPORTING);
    config.identity_url = format!("http://{identity}");
    let app = reporting::Application::build(reporting::Settings::defaults(config))
        .await
        .unwrap();
    let (addr, pool) = (app.grpc_addr(), app.pool().clone());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    (addr, pool)
}

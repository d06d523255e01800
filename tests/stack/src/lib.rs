//! Attendance, messaging, reporting and sync (beside the city database
//! simulator) started in a test world, each verifying tokens against the identity
//! service at `identity` (see `lienlac_test_support::start_identity`), until
//! `stop`; or identity, attendance, messaging and reporting with a school, as a
//! school day starts. The services' own tests keep their own set-up: depending on
//! this crate would compile them twice.

#![allow(clippy::unwrap_used)] // a test set-up fails the test by panicking

use std::net::SocketAddr;

use kernel::config::ServiceId;
use kernel::testing::TestWorld;
use lienlac_test_support::{
    MESSAGING_SECRET, SYNC_SECRET, School, start_identity, wait_until_attendance_knows,
};
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

/// Starts reporting, asking the other services at these addresses (messaging's
/// default when none runs); returns its gRPC address and the pool of its schema.
pub async fn start_reporting(
    world: &TestWorld,
    stop: &CancellationToken,
    identity: SocketAddr,
    attendance: SocketAddr,
    messaging: Option<SocketAddr>,
) -> (SocketAddr, PgPool) {
    let mut config = world.config(ServiceId::REPORTING);
    config.identity_url = format!("http://{identity}");
    let mut settings = reporting::Settings::defaults(config);
    settings.attendance_url = format!("http://{attendance}");
    if let Some(messaging) = messaging {
        settings.messaging_url = format!("http://{messaging}");
    }
    let app = reporting::Application::build(settings).await.unwrap();
    let (addr, pool) = (app.grpc_addr(), app.pool().clone());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    (addr, pool)
}

/// Starts messaging, its settings changed by `change`; returns its gRPC address.
pub async fn start_messaging(
    world: &TestWorld,
    stop: &CancellationToken,
    identity: SocketAddr,
    change: impl FnOnce(&mut messaging::Settings),
) -> SocketAddr {
    let mut config = world.config(ServiceId::MESSAGING);
    config.identity_url = format!("http://{identity}");
    let mut settings = messaging::Settings::defaults(config);
    settings.attachments_dir =
        std::env::temp_dir().join(format!("{}-attachments", world.namespace));
    settings.delivery.service_secret = Some(MESSAGING_SECRET.to_owned().into());
    change(&mut settings);
    let app = messaging::Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    addr
}

/// The city database simulator serving the demo's unit from its files
/// (tools/citydb-sim/data/demo), until `stop`.
pub async fn start_city_database(stop: &CancellationToken) -> citydb_sim::Simulator {
    let files =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/citydb-sim/data/demo");
    let year = school::dates::school_year_of(school::dates::local_today());
    let city = citydb_sim::files::load(&files, &year).unwrap();
    citydb_sim::Simulator::start(
        city,
        citydb_sim::Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            client_id: citydb_sim::DEFAULT_CLIENT_ID.to_owned(),
            client_secret: CITY_DATABASE_SECRET.to_owned(),
            token_lifetime: std::time::Duration::from_secs(3600),
            faults: citydb_sim::Faults::default(),
        },
        stop.clone(),
    )
    .await
    .unwrap()
}

const CITY_DATABASE_SECRET: &str = "city-database-test-secret";

/// Starts sync, mirroring `city_database` and sending month-end totals to it
/// within a second; returns its gRPC address.
pub async fn start_sync(
    world: &TestWorld,
    stop: &CancellationToken,
    identity: SocketAddr,
    city_database: &citydb_sim::Simulator,
) -> SocketAddr {
    let mut config = world.config(ServiceId::SYNC);
    config.identity_url = format!("http://{identity}");
    let mut settings = sync::Settings::defaults(config);
    settings.service_secret = Some(SYNC_SECRET.to_owned().into());
    settings.citydb = Some(sync::config::CityDbSettings::new(
        &city_database.url(),
        citydb_sim::DEFAULT_CLIENT_ID,
        CITY_DATABASE_SECRET.to_owned().into(),
    ));
    settings.push_every = std::time::Duration::from_millis(500);
    settings.drop_dir = std::env::temp_dir().join(format!("{}-sync-drop", world.namespace));
    settings.schedule = sync::Schedule {
        incremental_every: None,
        nightly_at: None,
    };
    let app = sync::Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    addr
}

/// Identity, attendance, messaging and reporting running, with a school that attendance
/// already knows (its first class and the class's three students).
pub struct SchoolDay {
    pub identity: SocketAddr,
    pub attendance: SocketAddr,
    pub messaging: SocketAddr,
    pub reporting: SocketAddr,
    pub school: School,
}

pub async fn start_school_day(world: &TestWorld, stop: &CancellationToken) -> SchoolDay {
    start_school_day_with(world, stop, |_| {}).await
}

/// [`start_school_day`] with messaging's settings changed by `change`.
pub async fn start_school_day_with(
    world: &TestWorld,
    stop: &CancellationToken,
    change: impl FnOnce(&mut messaging::Settings),
) -> SchoolDay {
    let identity = start_identity(world, stop).await;
    let (attendance, attendance_pool) = start_attendance(world, stop, identity).await;
    let messaging = start_messaging(world, stop, identity, change).await;
    let (reporting, _) = start_reporting(world, stop, identity, attendance, Some(messaging)).await;
    let school = School::create(identity).await;
    wait_until_attendance_knows(&attendance_pool, &school.class_id, 3).await;
    SchoolDay {
        identity,
        attendance,
        messaging,
        reporting,
        school,
    }
}

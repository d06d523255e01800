//! `lienlac bench rollcall` against identity, attendance and reporting running
//! in-process: a small synthetic district, two mornings of roll calls, every one
//! accepted and measured, the baselines measured, the figures written.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use kernel::config::ServiceId;
use kernel::testing::TestWorld;
use lienlac_test_stack::{start_attendance, start_reporting};
use lienlac_test_support::{ADMIN_PASSWORD, start_identity};
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;

use common::{Terminal, text};

#[tokio::test(flavor = "multi_thread")]
async fn a_small_district_takes_two_mornings_of_roll_calls_and_every_one_is_measured() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let (attendance, _) = start_attendance(&world, &stop, identity).await;
    let (reporting, _) = start_reporting(&world, &stop, identity, attendance, None).await;
    let terminal = Terminal::new(&world.namespace, "bench", identity)
        .with_attendance(attendance)
        .with_reporting(reporting)
        .with_nats(world.nats_env());
    let login = terminal
        .run(&["login", "admin"], Some(ADMIN_PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));

    let config = world.config(ServiceId::ATTENDANCE);
    let output = terminal.config_home.join("rollcall.json");
    let run = [
        "bench",
        "rollcall",
        "--schools",
        "3",
        "--classes-per-school",
        "2",
        "--students-per-class",
        "4",
        "--concurrency",
        "3",
        "--sessions",
        "2",
        "--baseline-seconds",
        "1",
        "--nats",
        &config.nats_url,
        "--namespace",
        &world.namespace,
        "--database-url",
        config.database_url.expose_secret(),
        "--attendance-schema",
        &config.schema,
        "--output",
        output.to_str().unwrap(),
    ];
    let bench = terminal.run(&run, None).await;
    assert!(bench.status.success(), "{}", text(&bench.stderr));
    let table = text(&bench.stdout);
    assert!(table.contains("roll calls/s"), "{table}");

    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(figures["rollcalls"], 12, "{figures}");
    assert_eq!(figures["marks"], 48, "{figures}");
    assert_eq!(figures["errors"], 0, "{figures}");
    // Two schools are watched: eight of the twelve roll calls have a lag.
    assert_eq!(figures["lag_samples"], 8, "{figures}");
    for measured in [
        "rollcalls_per_s",
        "marks_per_s",
        "submit_p50_ms",
        "submit_p99_ms",
        "lag_p99_ms",
        "raw_pg_tx_per_s",
        "raw_js_pub_per_s",
        "ratio_vs_raw_pg",
    ] {
        assert!(
            figures[measured].as_f64().unwrap() > 0.0,
            "{measured}: {figures}"
        );
    }
    assert!(figures["lag_p50_ms"].as_f64().unwrap() <= figures["lag_p99_ms"].as_f64().unwrap());

    // The same district again: its mornings are taken, and the bench says so.
    let again = terminal.run(&run, None).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already has roll calls"),
        "{}",
        text(&again.stderr)
    );
    stop.cancel();
}

//! `lienlac sync` as the operator and a district's officer drive it, against
//! identity and sync running in-process beside the city database simulator
//! serving the demo's unit: a dry run's plan (on screen and as a file), the run
//! that applies it with the source's row errors, the district's runs and its
//! drift. (The demo's seed test reads a school's month-end pushes.)

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use kernel::testing::TestWorld;
use lienlac_test_stack::{start_city_database, start_sync};
use lienlac_test_support::{ADMIN_PASSWORD, start_identity};
use tokio_util::sync::CancellationToken;

use common::{Terminal, text};

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_plans_and_applies_a_mirror_and_reads_its_runs_and_drift() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let city_database = start_city_database(&stop).await;
    let sync = start_sync(&world, &stop, identity, &city_database).await;
    let operator = Terminal::new(&world.namespace, "operator", identity).with_sync(sync);
    let login = operator
        .run(&["login", "admin"], Some(ADMIN_PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));

    // A dry run: every change on screen (the first ones) and in the file.
    let plan_file = operator.config_home.join("plan.csv");
    let plan = operator
        .run(
            &[
                "sync",
                "plan",
                "--unit",
                "79-XTTH",
                "--out",
                plan_file.to_str().unwrap(),
            ],
            None,
        )
        .await;
    let shown = text(&plan.stdout);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert!(
        shown.contains("dry run (full, citydb) of 79-XTTH: completed"),
        "{shown}"
    );
    assert!(shown.contains("create_district 1"), "{shown}");
    assert!(shown.contains("row errors: 2"), "{shown}");
    let written = std::fs::read_to_string(&plan_file).unwrap();
    let students = written
        .lines()
        .filter(|line| line.contains("register_student"))
        .count();
    assert_eq!(students, 1813, "every student but the unreadable one, once");

    // The run itself, as JSON for a script; then nothing is left to do.
    let applied = operator
        .run(&["sync", "apply", "--unit", "79-XTTH", "--json"], None)
        .await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let run: serde_json::Value = serde_json::from_slice(&applied.stdout).unwrap();
    assert_eq!(run["planned"], run["applied"], "{run}");
    let district = run["district_id"].as_str().unwrap().to_owned();
    let again = operator
        .run(&["sync", "plan", "--district", &district], None)
        .await;
    assert!(
        text(&again.stdout).contains("planned: nothing"),
        "{}",
        text(&again.stdout)
    );

    let runs = text(
        &operator
            .run(&["sync", "status", "--district", &district], None)
            .await
            .stdout,
    );
    assert_eq!(
        runs.lines().count(),
        2,
        "the run and the last dry run: {runs}"
    );
    let drift = text(
        &operator
            .run(&["sync", "drift", "--district", &district], None)
            .await
            .stdout,
    );
    assert!(drift.contains(": 0 differences"), "{drift}");

    // A school named wrongly is said so once.
    let pushes = operator
        .run(&["sync", "push-status", "--school", "not-a-uuid"], None)
        .await;
    assert!(!pushes.status.success());
    assert_eq!(
        text(&pushes.stderr).matches("invalid request").count(),
        1,
        "{}",
        text(&pushes.stderr)
    );
    stop.cancel();
}

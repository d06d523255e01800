//! `lienlac attendance` and `leave` as a homeroom teacher and a guardian run them,
//! and `lienlac report` as a principal, against identity, attendance and reporting
//! running in-process on the real Postgres and NATS.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use kernel::testing::{TestWorld, eventually};
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::{PASSWORD, today};
use tokio_util::sync::CancellationToken;

use common::{Terminal, text};

#[tokio::test(flavor = "multi_thread")]
async fn a_teacher_takes_the_roll_call_and_decides_a_leave_and_the_principal_reads_the_day_and_exports_the_sheet()
 {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        identity,
        attendance: attendance_addr,
        reporting: reporting_addr,
        school,
        ..
    } = start_school_day(&world, &stop).await;

    let terminal_of = |who: &str| {
        Terminal::new(&world.namespace, who, identity)
            .with_attendance(attendance_addr)
            .with_reporting(reporting_addr)
    };

    // The homeroom teacher of 1A1 marks two students absent this morning.
    let teacher = terminal_of("teacher");
    let login = teacher
        .run(&["login", &school.homeroom_username], Some(PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let unknown = teacher
        .run(&["attendance", "submit", "--class", "9Z9"], None)
        .await;
    assert!(
        text(&unknown.stderr).contains("no class 9Z9"),
        "{}",
        text(&unknown.stderr)
    );
    let excused = format!("{}:excused", school.students[0]);
    let submitted = teacher
        .run(
            &[
                "attendance",
                "submit",
                "--class",
                "1a1",
                "--absent",
                &excused,
                "--absent",
                &school.students[1],
            ],
            None,
        )
        .await;
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
    let shown = text(&submitted.stdout);
    assert!(shown.contains("morning: 1 of 3 present"), "{shown}");
    assert!(
        shown.contains("Nguyễn Thị Ánh") && shown.contains("absent, excused"),
        "{shown}"
    );
    let again = teacher
        .run(&["attendance", "show", "--class", "1A1", "--json"], None)
        .await;
    let roll_call: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(roll_call["class_id"], school.class_id.as_str());

    // The first student's guardian asks leave for this afternoon; the homeroom
    // teacher approves it.
    let guardian = terminal_of("guardian");
    let login = guardian
        .run(&["login", &school.guardian_username], Some(PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let asked = guardian
        .run(
            &[
                "leave",
                "request",
                "--from",
                &today(),
                "--session",
                "afternoon",
                "--reason",
                "Khám răng",
                "--json",
            ],
            None,
        )
        .await;
    assert!(asked.status.success(), "{}", text(&asked.stderr));
    let asked: serde_json::Value = serde_json::from_slice(&asked.stdout).unwrap();
    let leave_id = asked[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(asked[0]["student_id"], school.students[0].as_str());
    let pending = teacher
        .run(
            &["leave", "list", "--class", "1A1", "--status", "pending"],
            None,
        )
        .await;
    assert!(
        text(&pending.stdout).contains(&leave_id),
        "{}",
        text(&pending.stdout)
    );
    assert!(
        !text(&pending.stdout).contains(&school.students[0]),
        "the student by name and code, not by id: {}",
        text(&pending.stdout)
    );
    let undecided = teacher.run(&["leave", "decide", &leave_id], None).await;
    assert!(
        !undecided.status.success(),
        "--approve or --reject is required"
    );
    let approved = teacher
        .run(
            &[
                "leave",
                "decide",
                &leave_id,
                "--approve",
                "--comment",
                "Đã nhận",
            ],
            None,
        )
        .await;
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let seen = guardian.run(&["leave", "list"], None).await;
    let seen = text(&seen.stdout);
    assert!(
        seen.contains("approved") && seen.contains("Khám răng — Đã nhận"),
        "{seen}"
    );

    let terminal = terminal_of("principal");
    let login = terminal
        .run(&["login", &school.principal_username], Some(PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));

    // Without --school: the principal's own school.
    let summary: serde_json::Value = eventually(
        "the school's day shows the roll call",
        Duration::from_secs(20),
        || async {
            let output = terminal.run(&["report", "school", "--json"], None).await;
            let summary: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let counts = &summary["sessions"][0]["counts"];
            (counts["absent_excused"] == 1 && counts["absent_unexcused"] == 1).then_some(summary)
        },
    )
    .await;
    assert_eq!(summary["school_id"], school.school_id.as_str());
    let table = terminal.run(&["report", "school"], None).await;
    let table = text(&table.stdout);
    assert!(table.starts_with("Trường Tiểu học Tân Thông — "), "{table}");
    assert!(table.contains("no roll call yet: 1A2"), "{table}");
    assert!(table.contains("66.7%"), "two of three absent: {table}");

    let class = terminal
        .run(&["report", "class", "--class", &school.class_id], None)
        .await;
    assert!(
        text(&class.stdout).contains("Nguyễn Thị Ánh, Trần Văn Bình"),
        "{}",
        text(&class.stdout)
    );

    let sheet = terminal.config_home.join("1a1.xlsx");
    let export = terminal
        .run(
            &[
                "report",
                "export",
                "--class",
                &school.class_id,
                "--month",
                &today()[..7],
                "-o",
                sheet.to_str().unwrap(),
            ],
            None,
        )
        .await;
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert!(
        std::fs::read(&sheet).unwrap().starts_with(b"PK"),
        "an XLSX is a zip"
    );

    // A principal does not read the district's figures.
    let refused = terminal
        .run(
            &["report", "district", "--district", &school.district_id],
            None,
        )
        .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).starts_with("lienlac: not allowed"),
        "{}",
        text(&refused.stderr)
    );
    stop.cancel();
}

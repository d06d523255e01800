//! `lienlac message`, `inbox` and `announce` as a homeroom teacher, a guardian and
//! a principal run them, against the services running in-process.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use kernel::testing::{TestWorld, eventually};
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::PASSWORD;
use tokio_util::sync::CancellationToken;

use common::{Terminal, text};

/// The homeroom teacher of 1A1, the guardian and the principal, each signed in at
/// a terminal of their own.
async fn people(world: &TestWorld, day: &SchoolDay) -> [Terminal; 3] {
    let school = &day.school;
    let mut terminals = Vec::new();
    for (who, username) in [
        ("teacher", &school.homeroom_username),
        ("guardian", &school.guardian_username),
        ("principal", &school.principal_username),
    ] {
        let terminal =
            Terminal::new(&world.namespace, who, day.identity).with_messaging(day.messaging);
        let login = terminal.run(&["login", username], Some(PASSWORD)).await;
        assert!(login.status.success(), "{}", text(&login.stderr));
        terminals.push(terminal);
    }
    terminals.try_into().map_err(|_| ()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teacher_writes_to_the_class_group_and_a_principal_announces_and_sees_who_read() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let day = start_school_day(&world, &stop).await;
    let school = &day.school;
    let [teacher, guardian, principal] = people(&world, &day).await;

    // The class group exists once messaging has followed the directory.
    let sent = eventually("the class group", Duration::from_secs(10), || {
        let teacher = &teacher;
        async move {
            let sent = teacher
                .run(
                    &[
                        "message",
                        "send",
                        "--to",
                        "1A1",
                        "--text",
                        "Chào các phụ huynh",
                    ],
                    None,
                )
                .await;
            sent.status.success().then_some(sent)
        }
    })
    .await;
    assert!(
        text(&sent.stdout).contains("sent: message 1"),
        "{}",
        text(&sent.stdout)
    );

    let inbox = guardian.run(&["inbox"], None).await;
    assert!(inbox.status.success(), "{}", text(&inbox.stderr));
    let line = text(&inbox.stdout)
        .lines()
        .find(|line| line.starts_with(&school.class_id))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        line.contains("class group") && line.contains(" 1 "),
        "{}",
        text(&inbox.stdout)
    );
    let read = guardian
        .run(&["message", "list", &school.class_id], None)
        .await;
    assert!(
        text(&read.stdout).contains("Chào các phụ huynh"),
        "{}",
        text(&read.stdout)
    );
    let inbox = guardian.run(&["inbox", "--json"], None).await;
    let inbox: serde_json::Value = serde_json::from_slice(&inbox.stdout).unwrap();
    assert!(
        inbox["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"]["unread"] == 0)
    );

    // The principal asks the class's guardians to confirm; the guardian does.
    let announced = principal
        .run(
            &[
                "announce",
                "send",
                "--class",
                "1A1",
                "--title",
                "Họp phụ huynh",
                "--body",
                "Thứ Bảy, 8 giờ",
                "--confirm",
                "--json",
            ],
            None,
        )
        .await;
    assert!(announced.status.success(), "{}", text(&announced.stderr));
    let announcement: serde_json::Value = serde_json::from_slice(&announced.stdout).unwrap();
    let id = announcement["id"].as_str().unwrap().to_owned();
    assert_eq!(announcement["recipients"], 1);
    let listed = guardian.run(&["announce", "list"], None).await;
    assert!(
        text(&listed.stdout).contains("Họp phụ huynh  [please confirm]"),
        "{}",
        text(&listed.stdout)
    );
    let receipts = principal
        .run(
            &["announce", "receipts", &id, "--missing", "not-confirmed"],
            None,
        )
        .await;
    assert!(
        text(&receipts.stdout).contains("0 of 1 guardians read, 0 confirmed (1 delivered)"),
        "{}",
        text(&receipts.stdout)
    );
    let confirmed = guardian
        .run(&["announce", "read", &id, "--confirm"], None)
        .await;
    assert!(confirmed.status.success(), "{}", text(&confirmed.stderr));
    let receipts = principal.run(&["announce", "receipts", &id], None).await;
    assert!(
        text(&receipts.stdout).contains("1 of 1 guardians read, 1 confirmed"),
        "{}",
        text(&receipts.stdout)
    );
    // A guardian announces nothing.
    let refused = guardian
        .run(
            &[
                "announce", "send", "--class", "1A1", "--title", "x", "--body", "y",
            ],
            None,
        )
        .await;
    assert!(!refused.status.success());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teachers_post_waits_for_the_principal_and_a_timetable_from_a_file_reaches_the_guardian()
{
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let day = start_school_day(&world, &stop).await;
    let [teacher, guardian, principal] = people(&world, &day).await;

    // Messaging knows the class once it has followed the directory.
    let submitted = eventually("the class", Duration::from_secs(10), || {
        let teacher = &teacher;
        async move {
            let sent = teacher
                .run(
                    &[
                        "post",
                        "send",
                        "--class",
                        "1A1",
                        "--title",
                        "Trung thu",
                        "--body",
                        "Lớp rước đèn.",
                        "--json",
                    ],
                    None,
                )
                .await;
            sent.status.success().then_some(sent)
        }
    })
    .await;
    let post: serde_json::Value = serde_json::from_slice(&submitted.stdout).unwrap();
    let post_id = post["id"].as_str().unwrap().to_owned();
    let before = guardian.run(&["post", "list"], None).await;
    assert!(
        text(&before.stdout).contains("no posts"),
        "{}",
        text(&before.stdout)
    );
    let queue = principal.run(&["moderate", "queue"], None).await;
    assert!(
        text(&queue.stdout).contains("Trung thu  [revision 1, waiting for a moderator]"),
        "{}",
        text(&queue.stdout)
    );
    let approved = principal
        .run(&["moderate", "approve", &post_id], None)
        .await;
    assert!(
        text(&approved.stdout).contains("revision 1: published"),
        "{}{}",
        text(&approved.stdout),
        text(&approved.stderr)
    );
    let after = guardian.run(&["post", "list"], None).await;
    assert!(
        text(&after.stdout).contains("Lớp rước đèn."),
        "{}",
        text(&after.stdout)
    );

    let file = std::env::temp_dir().join(format!("{}-timetable.json", world.namespace));
    std::fs::write(
        &file,
        r#"{"slots": [{"day": 1, "period": 1, "subject": "Tiếng Việt", "teacher": "Cô Lan", "room": "P.101"},
                      {"day": 1, "period": 2, "subject": "Toán"}]}"#,
    )
    .unwrap();
    let published = teacher
        .run(
            &[
                "timetable",
                "publish",
                "--class",
                "1A1",
                "--from",
                &lienlac_test_support::today(),
                "--file",
                file.to_str().unwrap(),
            ],
            None,
        )
        .await;
    assert!(
        text(&published.stdout).contains("version 1 published"),
        "{}",
        text(&published.stderr)
    );
    let shown = guardian.run(&["timetable", "show"], None).await;
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("Thứ Hai   tiết 1   Tiếng Việt") && shown.contains("tiết 2   Toán"),
        "{shown}"
    );
    std::fs::remove_file(file).unwrap();
    stop.cancel();
}

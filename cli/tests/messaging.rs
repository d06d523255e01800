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

#[tokio::test(flavor = "multi_thread")]
async fn a_teacher_writes_to_the_class_group_and_a_principal_announces_and_sees_who_read() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        identity,
        messaging,
        school,
        ..
    } = start_school_day(&world, &stop).await;
    let terminal_of = |who: &str, username: &str| {
        let terminal = Terminal::new(&world.namespace, who, identity).with_messaging(messaging);
        let username = username.to_owned();
        async move {
            let login = terminal.run(&["login", &username], Some(PASSWORD)).await;
            assert!(login.status.success(), "{}", text(&login.stderr));
            terminal
        }
    };
    let teacher = terminal_of("teacher", &school.homeroom_username).await;
    let guardian = terminal_of("guardian", &school.guardian_username).await;
    let principal = terminal_of("principal", &school.principal_username).await;

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

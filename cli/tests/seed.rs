//! `lienlac seed demo` against identity, attendance, messaging and sync running
//! in-process beside the city database simulator: the demo district is mirrored
//! from the simulator's files, its accounts sign in and find the school's life
//! there, the month's totals reach the city database, and a second run changes
//! nothing.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use kernel::config::{ServiceId, stream_name_in};
use kernel::testing::TestWorld;
use lienlac_test_stack::{start_attendance, start_city_database, start_messaging, start_sync};
use lienlac_test_support::{ADMIN_PASSWORD, start_identity};
use tokio_util::sync::CancellationToken;

use common::{Terminal, record_suggested_absence, text};

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_seeds_through_the_apis_signs_in_and_seeds_again_without_changes() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let (attendance_addr, _) = start_attendance(&world, &stop, identity).await;
    // Read receipts are published at once, not half a minute later in the middle of
    // the second run.
    let messaging = start_messaging(&world, &stop, identity, |settings| {
        settings.receipts_every = std::time::Duration::from_millis(200);
    })
    .await;
    let city_database = start_city_database(&stop).await;
    let sync = start_sync(&world, &stop, identity, &city_database).await;
    let terminal = Terminal::new(&world.namespace, "seed", identity)
        .with_attendance(attendance_addr)
        .with_messaging(messaging)
        .with_sync(sync);
    let accounts_file = terminal.config_home.join("demo-accounts.csv");
    let seed = [
        "seed",
        "demo",
        "--size",
        "small",
        "--accounts-file",
        accounts_file.to_str().unwrap(),
    ];
    let login = terminal
        .run(&["login", "admin"], Some(ADMIN_PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let first = terminal.run(&seed, None).await;
    assert!(first.status.success(), "{}", text(&first.stderr));

    let listed = std::fs::read_to_string(&accounts_file).unwrap();
    for line in [
        "ht.tanthong,leader,\"Trường Tiểu học Tân Thông\"",
        "vhxh.tanthonghoi,district admin,\"Xã Tân Thông Hội\"",
        "gv.tanthong.1a1,homeroom teacher,",
        "ht.tantien,leader,\"Trường Tiểu học Tân Tiến\"",
        "0900000001,guardian,",
    ] {
        assert!(listed.contains(line), "{line} missing from\n{listed}");
    }

    // The principal and the first guardian sign in with the demo password.
    for (username, role) in [
        ("ht.tanthong", "principal"),
        ("0900000001", "guardian"),
        ("vhxh.tanthonghoi", "district_admin"),
    ] {
        let person = Terminal::new(&world.namespace, username, identity);
        let login = person.run(&["login", username], Some("lienlac-demo")).await;
        assert!(
            login.status.success(),
            "{username}: {}",
            text(&login.stderr)
        );
        let whoami = person.run(&["whoami"], None).await;
        assert!(
            text(&whoami.stdout).contains(role),
            "{username}: {}",
            text(&whoami.stdout)
        );
    }
    let teacher =
        Terminal::new(&world.namespace, "teacher", identity).with_attendance(attendance_addr);
    teacher
        .run(&["login", "gv.tanthong.1a1"], Some("lienlac-demo"))
        .await;
    let history = teacher
        .run(
            &[
                "attendance",
                "show",
                "--class",
                "1A1",
                "--date",
                &yesterday_school_day(),
            ],
            None,
        )
        .await;
    assert!(history.status.success(), "{}", text(&history.stderr));
    assert!(
        text(&history.stdout).contains("of 36 present"),
        "1A1 as the city database lists it (38 rows, one student listed twice, one born on 30 February): {}",
        text(&history.stdout)
    );

    // The previous month, closed by the homeroom teacher, reached the city database.
    let principal_sync =
        Terminal::new(&world.namespace, "principal-sync", identity).with_sync(sync);
    principal_sync
        .run(&["login", "ht.tanthong"], Some("lienlac-demo"))
        .await;
    let month = previous_month();
    let mut pushed = String::new();
    for _ in 0..60 {
        let status = principal_sync
            .run(&["sync", "push-status", "--month", &month], None)
            .await;
        pushed = text(&status.stdout);
        if pushed.contains("1A1    sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(pushed.contains("1A1    sent"), "{pushed}");
    let officer = Terminal::new(&world.namespace, "officer", identity).with_sync(sync);
    officer
        .run(&["login", "vhxh.tanthonghoi"], Some("lienlac-demo"))
        .await;
    let runs = text(&officer.run(&["sync", "status"], None).await.stdout);
    assert!(
        runs.contains("run (full, citydb) of 79-XTTH: completed"),
        "{runs}"
    );

    // The demo's first step, as `make run` prints it: the first student of 1A1,
    // the demo guardian's child, absent.
    record_suggested_absence(&teacher, &first.stdout).await;

    // The demo guardian's notice and week, and the principal's moderation queue.
    let guardian = Terminal::new(&world.namespace, "guardian", identity).with_messaging(messaging);
    guardian
        .run(&["login", "0900000001"], Some("lienlac-demo"))
        .await;
    let mut told = String::new();
    for _ in 0..50 {
        told = text(&guardian.run(&["notices"], None).await.stdout);
        if told.contains("(lớp 1A1) vắng buổi sáng") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(told.contains("Thông báo: em "), "{told}");
    for (command, expected) in [
        (&["timetable", "show"][..], "tiết 1"),
        (&["menu", "show"][..], "Bữa trưa"),
        (&["plan", "show"][..], "Phép cộng trong phạm vi 10"),
        (&["post", "list"][..], "Lớp 1A1 tham quan Thảo Cầm Viên"),
        (
            &["post", "list"][..],
            "tham-quan-thao-cam-vien.jpg: image/jpeg",
        ),
        (&["post", "list"][..], "Lễ khai giảng năm học mới"),
        (
            &["announce", "list"][..],
            "Họp phụ huynh đầu năm  [confirmed]",
        ),
        (&["inbox"][..], "class group"),
    ] {
        let shown = guardian.run(command, None).await;
        assert!(
            text(&shown.stdout).contains(expected),
            "{command:?}: {}{}",
            text(&shown.stdout),
            text(&shown.stderr)
        );
    }
    let principal =
        Terminal::new(&world.namespace, "principal", identity).with_messaging(messaging);
    principal
        .run(&["login", "ht.tanthong"], Some("lienlac-demo"))
        .await;
    let queue = principal.run(&["moderate", "queue"], None).await;
    assert!(
        text(&queue.stdout).contains("Ảnh lớp ngày khai giảng"),
        "{}",
        text(&queue.stdout)
    );

    // A second run replays the first answers: no event is published.
    let jetstream = world.jetstream().await;
    let events = |service| {
        let jetstream = jetstream.clone();
        let name = stream_name_in(&world.namespace, service);
        async move {
            jetstream
                .get_stream(name)
                .await
                .unwrap()
                .get_info()
                .await
                .unwrap()
                .state
                .messages
        }
    };
    let counts = || async {
        (
            events(ServiceId::IDENTITY).await,
            events(ServiceId::ATTENDANCE).await,
            events(ServiceId::MESSAGING).await,
        )
    };
    // The first run's absences are still turning into notices for a while.
    let mut before = counts().await;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = counts().await;
        if now == before {
            break;
        }
        before = now;
    }
    let second = terminal.run(&seed, None).await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after = counts().await;
    assert_eq!(
        after.0 - before.0,
        0,
        "the second run published identity events"
    );
    assert_eq!(
        after.1, before.1,
        "the second run published attendance events"
    );
    assert_eq!(
        after.2, before.2,
        "the second run published messaging events"
    );
    stop.cancel();
}

/// `YYYY-MM` of the month before this one, in Việt Nam.
fn previous_month() -> String {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap();
    let today = time::OffsetDateTime::now_utc().to_offset(offset).date();
    let last = today.replace_day(1).unwrap().previous_day().unwrap();
    format!("{:04}-{:02}", last.year(), last.month() as u8)
}

/// The last weekday before today, in Việt Nam.
fn yesterday_school_day() -> String {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap();
    let mut day = time::OffsetDateTime::now_utc().to_offset(offset).date();
    loop {
        day = day.previous_day().unwrap();
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            return day.to_string();
        }
    }
}

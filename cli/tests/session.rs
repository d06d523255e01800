//! `lienlac login`, `whoami` and `logout` as a person runs them, against identity
//! running in-process on the real Postgres and NATS.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use kernel::testing::TestWorld;
use lienlac_test_support::{ADMIN_PASSWORD, start_identity};
use tokio_util::sync::CancellationToken;

use common::{Terminal, text};

fn credentials(terminal: &Terminal) -> serde_json::Value {
    let path = terminal
        .config_home
        .join("lienlac")
        .join("credentials.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_signs_in_shows_who_is_signed_in_refreshes_and_signs_out() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let terminal = Terminal::new(&world.namespace, "admin", identity);

    let before = terminal.run(&["whoami"], None).await;
    assert!(!before.status.success());
    assert!(
        text(&before.stderr).contains("lienlac login"),
        "{}",
        text(&before.stderr)
    );

    let wrong = terminal
        .run(&["login", "admin"], Some("not the password"))
        .await;
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("not signed in or the session has ended"),
        "{}",
        text(&wrong.stderr)
    );

    let login = terminal
        .run(&["login", "admin"], Some(ADMIN_PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert_eq!(text(&login.stdout).trim(), "signed in as admin");
    let path = terminal
        .config_home
        .join("lienlac")
        .join("credentials.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "only the user reads the session");

    let whoami = terminal.run(&["whoami"], None).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let shown = text(&whoami.stdout);
    assert!(shown.starts_with("admin (account "), "{shown}");
    assert!(shown.contains("operator"), "{shown}");

    // An access token about to expire is refreshed before the call.
    let mut stored = credentials(&terminal);
    let old_refresh = stored["refresh_token"].clone();
    stored["access_expires_at"] = 0.into();
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let json = terminal.run(&["whoami", "--json"], None).await;
    assert!(json.status.success(), "{}", text(&json.stderr));
    let me: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(me["account"]["username"], "admin");
    assert_ne!(credentials(&terminal)["refresh_token"], old_refresh);

    let logout = terminal.run(&["logout"], None).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(!path.exists());
    let after = terminal.run(&["whoami"], None).await;
    assert!(!after.status.success());

    let mut nowhere = Terminal::new(&world.namespace, "nowhere", identity);
    nowhere.identity_url = "http://127.0.0.1:9".into();
    let unreachable = nowhere.run(&["login", "admin"], Some(ADMIN_PASSWORD)).await;
    assert!(
        text(&unreachable.stderr).contains("cannot reach"),
        "{}",
        text(&unreachable.stderr)
    );
    stop.cancel();
}

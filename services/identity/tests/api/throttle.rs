//! Sign-in attempts are limited per username and per client address, and password
//! hashing queues for a bounded time: a flood is told to retry, not served slower
//! and slower.

use std::time::Duration;

use identity::config::Rate;
use lienlac_proto::identity::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn guesses_at_one_username_are_limited_whatever_the_password() {
    let app = TestApp::spawn_in(kernel::testing::TestWorld::new(), |settings| {
        settings.sign_in_per_username = Rate {
            burst: 3,
            refill_every: Duration::from_secs(3600),
        };
    })
    .await;
    for _ in 0..3 {
        let wrong = app.login("admin", "wrong-password").await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    for password in ["wrong-password", ADMIN_PASSWORD] {
        let limited = app.login(" Admin ", password).await.unwrap_err();
        assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
        let retry = limited.get_details_retry_info().expect("a retry delay");
        assert!(retry.retry_delay.unwrap() > Duration::from_secs(60));
    }
    let elsewhere = app.login("0912000000", "wrong-password").await.unwrap_err();
    assert_eq!(
        elsewhere.code(),
        Code::Unauthenticated,
        "another username has its own limit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_address_spraying_many_usernames_is_limited_on_every_sign_in_path() {
    let app = TestApp::spawn_in(kernel::testing::TestWorld::new(), |settings| {
        settings.sign_in_per_address = Rate {
            burst: 4,
            refill_every: Duration::from_secs(3600),
        };
    })
    .await;
    for n in 0..4 {
        let wrong = app
            .login(&format!("09120000{n:02}"), "wrong-password")
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let mut auth = app.auth(None);
    let refused = [
        app.login("0912000099", "wrong-password").await.unwrap_err(),
        auth.activate_account(pb::ActivateAccountRequest {
            username: "0912000098".to_owned(),
            activation_code: "0000-0000-0000".to_owned(),
            new_password: "hoa sen trắng 7".to_owned(),
        })
        .await
        .unwrap_err(),
        auth.refresh(pb::RefreshRequest {
            refresh_token: "made-up".to_owned(),
        })
        .await
        .unwrap_err(),
    ];
    for status in refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_sign_ins_waits_a_bounded_time_for_hashing_then_is_told_to_retry() {
    let app = TestApp::spawn_in(kernel::testing::TestWorld::new(), |settings| {
        settings.hashing_concurrency = 1;
        settings.hashing_queue_deadline = Duration::from_millis(20);
        settings.argon2.memory_kib = 8 * 1024;
        settings.argon2.iterations = 2;
    })
    .await;
    let attempts = (0..40).map(|n| {
        let app = &app;
        async move {
            app.login(&format!("09130000{n:02}"), "wrong-password")
                .await
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let busy = outcomes
        .iter()
        .filter(
            |outcome| matches!(outcome, Err(status) if status.code() == Code::ResourceExhausted),
        )
        .count();
    let answered = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(status) if status.code() == Code::Unauthenticated))
        .count();
    assert!(busy > 0, "some were told to retry");
    assert!(answered > 0, "some were answered");
    assert_eq!(busy + answered, 40, "nothing else: {outcomes:?}");
    // Once the flood is over, sign-in works.
    app.login("admin", ADMIN_PASSWORD).await.unwrap();
}

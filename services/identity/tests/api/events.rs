//! Identity's events on the contract: published to JetStream under
//! `lienlac.identity.v2.<district>.<school>.<EventName>`, free of secrets and of
//! personal data.

use std::time::Duration;

use kernel::testing::eventually;
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v2 as public;
use prost::Message as _;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn directory_and_account_events_reach_jetstream_on_their_subjects() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school = school_fixture(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;
    accounts_for(
        &app,
        &admin,
        &school.school_id,
        std::slice::from_ref(&school.guardian_id),
    )
    .await;

    let jetstream = app.world.jetstream().await;
    let stream_name = app.settings.kernel.stream_name();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE published_type IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let stream = eventually("every event published", Duration::from_secs(20), || {
        let jetstream = jetstream.clone();
        let name = stream_name.clone();
        async move {
            let stream = jetstream.get_stream(&name).await.ok()?;
            let info = stream.get_info().await.ok()?;
            (info.state.messages as i64 >= stored).then_some(stream)
        }
    })
    .await;
    let root = app.settings.kernel.subject_root();
    let mut seen = Vec::new();
    for sequence in 1..=stored as u64 {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let name = message.subject.rsplit('.').next().unwrap().to_owned();
        if name == "StudentRegistered" {
            assert_eq!(
                message.subject.as_str(),
                format!(
                    "{root}.{district_id}.{}.StudentRegistered",
                    school.school_id
                )
            );
            let event = public::StudentRegistered::decode(message.payload.clone()).unwrap();
            assert_eq!(event.school_id, school.school_id);
            let payload = String::from_utf8_lossy(&message.payload);
            assert!(
                !payload.contains("Nguyễn") && !payload.contains("Trần"),
                "the public event carries no name"
            );
        }
        if name == "DistrictCreated" {
            assert_eq!(
                message.subject.as_str(),
                format!("{root}.{district_id}._.DistrictCreated")
            );
        }
        seen.push(name);
    }
    for expected in [
        "RoleGranted",
        "DistrictCreated",
        "SchoolCreated",
        "ClassCreated",
        "StudentRegistered",
        "StudentEnrolled",
        "GuardianRegistered",
        "GuardianLinked",
        "StaffRegistered",
        "AccountIssued",
        "AccountActivated",
        "AccountSignedIn",
    ] {
        assert!(
            seen.iter().any(|name| name == expected),
            "{expected} missing from {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_is_recorded_once_per_day_and_no_event_holds_a_secret() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school = school_fixture(&mut directory, &district_id, "Trường A").await;
    let issued = app
        .auth(Some(&admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: school.school_id.clone(),
            kinds: vec![pb::PersonKind::Guardian as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let account = &issued.accounts[0];
    let pair = app
        .auth(None)
        .activate_account(pb::ActivateAccountRequest {
            username: account.username.clone(),
            activation_code: account.activation_code.clone(),
            new_password: PASSWORD.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        app.login(&account.username, PASSWORD).await.unwrap();
    }
    let events = app.stored_events().await;
    let sign_ins = events
        .iter()
        .filter(|(event_type, data)| {
            event_type == "AccountSignedIn" && data.contains(&account.account_id)
        })
        .count();
    assert_eq!(sign_ins, 1);
    for (event_type, data) in &events {
        for secret in [
            PASSWORD,
            ADMIN_PASSWORD,
            account.activation_code.as_str(),
            pair.access_token.as_str(),
            pair.refresh_token.as_str(),
        ] {
            assert!(!data.contains(secret), "{event_type} holds a secret");
        }
        assert!(
            !data.contains("argon2"),
            "{event_type} holds a password hash"
        );
    }
}

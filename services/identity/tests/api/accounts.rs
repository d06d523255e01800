//! Accounts over gRPC: bulk issue, activation, sign-in, lockout, refresh rotation,
//! password changes and resets, locks, and who am I.

use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;

struct School {
    app: TestApp,
    admin: String,
    fixture: SchoolFixture,
}

async fn school() -> School {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let fixture = school_fixture(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;
    School {
        app,
        admin,
        fixture,
    }
}

async fn issue_guardians(s: &School, csv: bool) -> pb::IssueAccountsResponse {
    s.app
        .auth(Some(&s.admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: s.fixture.school_id.clone(),
            kinds: vec![pb::PersonKind::Guardian as i32],
            csv,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn issue_staff_account(s: &School) -> String {
    s.app
        .auth(Some(&s.admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: s.fixture.school_id.clone(),
            kinds: vec![pb::PersonKind::Staff as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accounts
        .remove(0)
        .username
}

async fn activate(
    app: &TestApp,
    account: &pb::IssuedAccount,
) -> Result<pb::TokenPair, tonic::Status> {
    app.auth(None)
        .activate_account(pb::ActivateAccountRequest {
            username: account.username.clone(),
            activation_code: account.activation_code.clone(),
            new_password: PASSWORD.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn guardians_get_phone_usernames_and_one_time_codes_printable_as_csv() {
    let s = school().await;
    let issued = issue_guardians(&s, true).await;
    assert_eq!(issued.accounts.len(), 1);
    let account = &issued.accounts[0];
    assert!(
        account.username.starts_with("09") && account.username.len() == 10,
        "{}",
        account.username
    );
    assert_eq!(account.activation_code.len(), 14);
    let csv = String::from_utf8(issued.csv.clone()).unwrap();
    assert!(
        csv.starts_with('\u{feff}'),
        "a BOM for spreadsheet programs"
    );
    assert!(csv.contains("Họ và tên,Tên đăng nhập,Mã kích hoạt"));
    assert!(csv.contains(&format!(
        "Nguyễn Văn Cường,{},{}",
        account.username, account.activation_code
    )));

    let again = issue_guardians(&s, false).await;
    assert!(again.accounts.is_empty());
    assert_eq!(
        again.skipped_person_ids,
        vec![s.fixture.guardian_id.clone()]
    );

    let pair = activate(&s.app, account).await.unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 15 * 60);
    let reused = activate(&s.app, account).await.unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated, "a code works once");
    let login = s.app.login(&account.username, PASSWORD).await.unwrap();
    assert!(!login.access_token.is_empty());
    // Any usual form of the phone number signs in.
    let international = format!("+84 {}", &account.username[1..]);
    s.app.login(&international, PASSWORD).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_issue_returns_the_accounts_without_their_codes() {
    let s = school().await;
    let request = pb::IssueAccountsRequest {
        request_id: rid(),
        school_id: s.fixture.school_id.clone(),
        kinds: vec![
            pb::PersonKind::Guardian as i32,
            pb::PersonKind::Staff as i32,
        ],
        ..Default::default()
    };
    let first = s
        .app
        .auth(Some(&s.admin))
        .issue_accounts(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.accounts.len(), 2);
    let retry = s
        .app
        .auth(Some(&s.admin))
        .issue_accounts(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.accounts.len(), 2);
    assert!(retry.accounts.iter().all(|a| a.activation_code.is_empty()));
    let stored: String =
        sqlx::query_scalar("SELECT response::text FROM requests WHERE command = 'IssueAccounts'")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    for account in &first.accounts {
        assert!(
            !stored.contains(&account.activation_code),
            "no code is kept in clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_username_and_a_wrong_password_get_the_same_answer() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    activate(&s.app, &account).await.unwrap();
    let unknown = s.app.login("0999999999", PASSWORD).await.unwrap_err();
    let wrong = s
        .app
        .login(&account.username, "wrong-password")
        .await
        .unwrap_err();
    let issued_only = issue_staff_account(&s).await;
    let not_activated = s.app.login(&issued_only, PASSWORD).await.unwrap_err();
    for status in [&unknown, &wrong, &not_activated] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "wrong username or password");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_passwords_lock_the_account_and_the_lock_answers_alike_whatever_the_password() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    activate(&s.app, &account).await.unwrap();
    for _ in 0..5 {
        let status = s
            .app
            .login(&account.username, "wrong-password")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let right = s.app.login(&account.username, PASSWORD).await.unwrap_err();
    let wrong = s
        .app
        .login(&account.username, "wrong-password")
        .await
        .unwrap_err();
    for status in [&right, &wrong] {
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("locked"), "{}", status.message());
    }
    assert_eq!(
        right.message(),
        wrong.message(),
        "the answer on a locked account does not tell whether the password was right"
    );
    let locks =
        |events: Vec<(String, String)>| events.iter().filter(|(t, _)| t == "AccountLocked").count();
    assert_eq!(locks(s.app.stored_events().await), 1);

    // Guesses during the lock count: four more make five, and the lock starts again.
    for _ in 0..4 {
        s.app
            .login(&account.username, "wrong-password")
            .await
            .unwrap_err();
    }
    assert_eq!(locks(s.app.stored_events().await), 2);

    s.app
        .auth(Some(&s.admin))
        .unlock_account(pb::UnlockAccountRequest {
            request_id: rid(),
            account_id: account.account_id.clone(),
        })
        .await
        .unwrap();
    s.app.login(&account.username, PASSWORD).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_answers_alike_for_an_unknown_username_an_activated_account_and_a_wrong_code() {
    let s = school().await;
    let mut directory = s.app.directory(&s.admin);
    let second = register_guardian(&mut directory, &s.fixture.school_id, "Trần Thị Em").await;
    link(&mut directory, &second, &s.fixture.other_student_id).await;
    let mut issued = issue_guardians(&s, false).await.accounts;
    let (activated, pending) = (issued.remove(0), issued.remove(0));
    activate(&s.app, &activated).await.unwrap();
    let attempt = |username: &str, code: &str| {
        let mut auth = s.app.auth(None);
        let request = pb::ActivateAccountRequest {
            username: username.to_owned(),
            activation_code: code.to_owned(),
            new_password: PASSWORD.to_owned(),
        };
        async move { auth.activate_account(request).await.unwrap_err() }
    };
    let answers = [
        attempt("0999999998", &pending.activation_code).await,
        attempt(&activated.username, &activated.activation_code).await,
        attempt(&pending.username, "0000-0000-0000").await,
    ];
    for status in &answers {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "wrong username or activation code");
    }
    activate(&s.app, &pending).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_codes_are_stored_keyed_with_the_server_secret() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let (stored, keyed): (Vec<u8>, bool) = sqlx::query_as(
        "SELECT activation_code_hash, activation_code_keyed FROM credentials WHERE account_id = $1::uuid",
    )
    .bind(&account.account_id)
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert!(keyed);
    let normalized = account.activation_code.replace('-', "");
    let bare = <sha2::Sha256 as sha2::Digest>::digest(normalized.as_bytes());
    assert_ne!(stored, bare.to_vec(), "not a bare SHA-256 of the code");
    activate(&s.app, &account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lockout_ends_after_its_configured_time() {
    let world = kernel::testing::TestWorld::new();
    let app = TestApp::spawn_in(world, |settings| {
        settings.lockout_attempts = 2;
        settings.lockout_duration = std::time::Duration::from_secs(1);
    })
    .await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let fixture = school_fixture(&mut directory, &district_id, "Trường A").await;
    let accounts = accounts_for(
        &app,
        &admin,
        &fixture.school_id,
        std::slice::from_ref(&fixture.guardian_id),
    )
    .await;
    let username = username_of(&app, &accounts[0].0).await;
    for _ in 0..2 {
        app.login(&username, "wrong-password").await.unwrap_err();
    }
    assert_eq!(
        app.login(&username, PASSWORD).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.login(&username, PASSWORD).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_a_reused_refresh_token_ends_the_whole_sign_in() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let first = activate(&s.app, &account).await.unwrap();
    let mut auth = s.app.auth(None);
    let second = auth
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.refresh_token, first.refresh_token);
    let reuse = auth
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code(), Code::Unauthenticated);
    let after = auth
        .refresh(pb::RefreshRequest {
            refresh_token: second.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::Unauthenticated, "the family is revoked");

    let other = s.app.login(&account.username, PASSWORD).await.unwrap();
    auth.logout(pb::LogoutRequest {
        refresh_token: other.refresh_token.clone(),
    })
    .await
    .unwrap();
    let logged_out = auth
        .refresh(pb::RefreshRequest {
            refresh_token: other.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(logged_out.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_change_and_a_reset_issues_a_new_activation_code() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let pair = activate(&s.app, &account).await.unwrap();
    let mut own = s.app.auth(Some(&pair.access_token));
    let short = own
        .change_password(pb::ChangePasswordRequest {
            current_password: PASSWORD.to_owned(),
            new_password: "short".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::InvalidArgument);
    own.change_password(pb::ChangePasswordRequest {
        current_password: PASSWORD.to_owned(),
        new_password: "a-new-password".to_owned(),
    })
    .await
    .unwrap();
    s.app
        .login(&account.username, "a-new-password")
        .await
        .unwrap();
    assert_eq!(
        s.app
            .login(&account.username, PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    let reset = s
        .app
        .auth(Some(&s.admin))
        .reset_password(pb::ResetPasswordRequest {
            request_id: rid(),
            account_id: account.account_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(reset.activation_code, account.activation_code);
    assert_eq!(
        s.app
            .login(&account.username, "a-new-password")
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    activate(&s.app, &reset).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_account_cannot_sign_in_or_refresh_until_unlocked() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let pair = activate(&s.app, &account).await.unwrap();
    let locked = s
        .app
        .auth(Some(&s.admin))
        .lock_account(pb::LockAccountRequest {
            request_id: rid(),
            account_id: account.account_id.clone(),
            reason: "mất điện thoại".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locked.status, pb::AccountStatus::Locked as i32);
    assert_eq!(
        s.app
            .login(&account.username, PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let refresh = s
        .app
        .auth(None)
        .refresh(pb::RefreshRequest {
            refresh_token: pair.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(refresh.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn who_am_i_shows_the_person_and_the_roles_that_follow_from_the_directory() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let pair = activate(&s.app, &account).await.unwrap();
    let me = s
        .app
        .auth(Some(&pair.access_token))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.person.unwrap().id, s.fixture.guardian_id);
    assert_eq!(me.roles.len(), 1);
    assert_eq!(me.roles[0].role, pb::Role::Guardian as i32);
    assert_eq!(me.roles[0].scope_id, s.fixture.student_id);

    let operator = s
        .app
        .auth(Some(&s.admin))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(operator.account.unwrap().username, "admin");
    assert_eq!(operator.roles[0].role, pb::Role::Operator as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staff_member_who_is_also_a_guardian_has_one_account_with_both_roles() {
    let s = school().await;
    let mut directory = s.app.directory(&s.admin);
    directory
        .link_guardian(pb::LinkGuardianRequest {
            request_id: rid(),
            guardian_id: s.fixture.staff_id.clone(),
            student_id: s.fixture.other_student_id.clone(),
            relation: pb::Relation::Father as i32,
        })
        .await
        .unwrap();
    let accounts = accounts_for(
        &s.app,
        &s.admin,
        &s.fixture.school_id,
        std::slice::from_ref(&s.fixture.staff_id),
    )
    .await;
    let me = s
        .app
        .auth(Some(&accounts[0].1))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    let roles: Vec<i32> = me.roles.iter().map(|r| r.role).collect();
    assert!(roles.contains(&(pb::Role::Staff as i32)), "{roles:?}");
    assert!(roles.contains(&(pb::Role::Guardian as i32)), "{roles:?}");
    // As a guardian they see their own child, and as staff the school's others.
    let mut own = s.app.directory(&accounts[0].1);
    own.get_person(pb::GetPersonRequest {
        person_id: s.fixture.other_student_id.clone(),
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_can_choose_a_username_and_a_taken_or_malformed_one_is_refused() {
    let s = school().await;
    let issue = |person_ids: Vec<String>, usernames: Vec<(&str, &str)>| {
        let mut auth = s.app.auth(Some(&s.admin));
        let request = pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: s.fixture.school_id.clone(),
            person_ids,
            usernames: usernames
                .into_iter()
                .map(|(person, name)| (person.to_owned(), name.to_owned()))
                .collect(),
            ..Default::default()
        };
        async move { auth.issue_accounts(request).await }
    };
    let staff = s.fixture.staff_id.clone();
    let guardian = s.fixture.guardian_id.clone();

    for name in ["ht", "0912345678", ".ht", "hiệu.trưởng", "a b"] {
        let refused = issue(vec![staff.clone()], vec![(&staff, name)])
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name}");
        assert!(
            refused.message().contains("usernames"),
            "{}",
            refused.message()
        );
    }
    let unlisted = issue(vec![staff.clone()], vec![(&guardian, "ph.tanthong")])
        .await
        .unwrap_err();
    assert_eq!(unlisted.code(), Code::InvalidArgument);

    let issued = issue(vec![staff.clone()], vec![(&staff, "HT.TanThong")])
        .await
        .unwrap()
        .into_inner()
        .accounts
        .remove(0);
    assert_eq!(issued.username, "ht.tanthong");
    activate(&s.app, &issued).await.unwrap();
    s.app.login("HT.TanThong", PASSWORD).await.unwrap();

    let taken = issue(vec![guardian.clone()], vec![(&guardian, "ht.tanthong")])
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert!(
        taken.message().contains("ht.tanthong"),
        "{}",
        taken.message()
    );
    // Nothing was issued by the refused request: the guardian still gets one.
    let guardian_account = issue(vec![guardian.clone()], vec![])
        .await
        .unwrap()
        .into_inner();
    assert_eq!(guardian_account.accounts.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_every_other_sign_in_and_keeps_this_one() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let phone = activate(&s.app, &account).await.unwrap();
    let laptop = s.app.login(&account.username, PASSWORD).await.unwrap();
    s.app
        .auth(Some(&laptop.access_token))
        .change_password(pb::ChangePasswordRequest {
            current_password: PASSWORD.to_owned(),
            new_password: "hoa sen trắng 7".to_owned(),
        })
        .await
        .unwrap();
    let mut auth = s.app.auth(None);
    let ended = auth
        .refresh(pb::RefreshRequest {
            refresh_token: phone.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);
    auth.refresh(pb::RefreshRequest {
        refresh_token: laptop.refresh_token,
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_password_that_is_common_or_the_phone_number_is_refused() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let pair = activate(&s.app, &account).await.unwrap();
    let mut own = s.app.auth(Some(&pair.access_token));
    let international = format!("+84{}", &account.username[1..]);
    for refused in [
        "matkhau123",
        "01011990",
        international.as_str(),
        &"x1".repeat(65),
    ] {
        let status = own
            .change_password(pb::ChangePasswordRequest {
                current_password: PASSWORD.to_owned(),
                new_password: refused.to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{refused}");
        assert_eq!(violated_fields(&status), ["new_password"], "{refused}");
    }
    let too_long = s
        .app
        .login(&account.username, &"x".repeat(129))
        .await
        .unwrap_err();
    assert_eq!(
        too_long.code(),
        Code::InvalidArgument,
        "sign-in bounds the password too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let app = TestApp::spawn_in(kernel::testing::TestWorld::new(), |settings| {
        settings.session_ttl = std::time::Duration::from_secs(2);
    })
    .await;
    let first = app.login("admin", ADMIN_PASSWORD).await.unwrap();
    let mut auth = app.auth(None);
    let second = auth
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token,
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ended = auth
        .refresh(pb::RefreshRequest {
            refresh_token: second.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accounts_sheet_keeps_a_name_that_looks_like_a_formula_as_text() {
    let s = school().await;
    let mut directory = s.app.directory(&s.admin);
    let guardian = register_guardian(
        &mut directory,
        &s.fixture.school_id,
        "=HYPERLINK(\"http://x\")",
    )
    .await;
    link(&mut directory, &guardian, &s.fixture.other_student_id).await;
    let sheet = s
        .app
        .auth(Some(&s.admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: s.fixture.school_id.clone(),
            person_ids: vec![guardian],
            csv: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .csv;
    let text = String::from_utf8(sheet).unwrap();
    assert!(
        text.lines().nth(1).unwrap().starts_with("\"'=HYPERLINK("),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issue_listing_more_people_than_the_cap_is_refused_unread() {
    let s = school().await;
    let people: Vec<String> = (0..1001).map(|_| rid()).collect();
    let refused = s
        .app
        .auth(Some(&s.admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: s.fixture.school_id.clone(),
            person_ids: people,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["person_ids"]);
}

/// Whether `token` still answers `WhoAmI`.
async fn still_signed_in(app: &TestApp, token: &str) -> Result<(), tonic::Status> {
    app.auth(Some(token))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_by_an_administrator_ends_the_accounts_access_tokens_within_seconds() {
    let s = school().await;
    let account = issue_guardians(&s, false).await.accounts.remove(0);
    let pair = activate(&s.app, &account).await.unwrap();
    still_signed_in(&s.app, &pair.access_token).await.unwrap();
    s.app
        .auth(Some(&s.admin))
        .lock_account(pb::LockAccountRequest {
            request_id: rid(),
            account_id: account.account_id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    let refused = kernel::testing::eventually(
        "the locked account's token to be refused",
        std::time::Duration::from_secs(10),
        || async {
            still_signed_in(&s.app, &pair.access_token)
                .await
                .err()
                .filter(|status| status.code() == Code::Unauthenticated)
        },
    )
    .await;
    assert!(refused.message().contains("ended"), "{}", refused.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_role_ends_the_tokens_that_carried_it_and_a_new_sign_in_works() {
    let s = school().await;
    let staff = issue_staff_account(&s).await;
    let account_id: String =
        sqlx::query_scalar("SELECT id::text FROM accounts WHERE username = $1")
            .bind(&staff)
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    let issued = s
        .app
        .auth(Some(&s.admin))
        .reset_password(pb::ResetPasswordRequest {
            request_id: rid(),
            account_id: account_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    activate(&s.app, &issued).await.unwrap();
    grant(
        &s.app,
        &s.admin,
        &account_id,
        pb::Role::Teacher,
        pb::ScopeKind::School,
        &s.fixture.school_id,
    )
    .await;
    let with_role = s.app.login(&staff, PASSWORD).await.unwrap().access_token;
    s.app
        .auth(Some(&s.admin))
        .revoke_role(pb::RevokeRoleRequest {
            request_id: rid(),
            account_id: account_id.clone(),
            role: pb::Role::Teacher as i32,
            scope_kind: pb::ScopeKind::School as i32,
            scope_id: s.fixture.school_id.clone(),
        })
        .await
        .unwrap();
    kernel::testing::eventually(
        "the token that carried the role to be refused",
        std::time::Duration::from_secs(10),
        || async {
            still_signed_in(&s.app, &with_role)
                .await
                .err()
                .filter(|status| status.code() == Code::Unauthenticated)
        },
    )
    .await;
    let fresh = s.app.login(&staff, PASSWORD).await.unwrap().access_token;
    still_signed_in(&s.app, &fresh).await.unwrap();
}

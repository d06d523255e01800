//! Account administration as a table: every caller role × every role an account
//! can hold, for `ResetPassword`, `LockAccount` and `UnlockAccount`. A caller
//! administers an account only if they could grant everything it holds, so nobody
//! takes over an account from below.

use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use Persona::*;

const LEADER_GRANTERS: &[Persona] = &[Operator, DistrictAdmin, Principal];
const SCHOOL_ADMINS: &[Persona] = &[Operator, DistrictAdmin, Principal, VicePrincipal, ItOfficer];

/// An account in school A holding `role` over `scope` besides being its staff.
async fn staff_with_role(
    app: &TestApp,
    admin: &str,
    school_id: &str,
    role: pb::Role,
    scope: pb::ScopeKind,
    scope_id: &str,
) -> String {
    let mut directory = app.directory(admin);
    let person = register_staff(&mut directory, school_id, "Người Được Quản Lý").await;
    let account = accounts_for(app, admin, school_id, &[person]).await[0]
        .0
        .clone();
    if role != pb::Role::Staff {
        grant(app, admin, &account, role, scope, scope_id).await;
    }
    account
}

/// A guardian of `children`, with an account issued by school A.
async fn guardian_of(app: &TestApp, admin: &str, school_id: &str, children: &[&str]) -> String {
    let mut directory = app.directory(admin);
    let guardian = register_guardian(&mut directory, school_id, "Phụ Huynh Thử").await;
    for child in children {
        link(&mut directory, &guardian, child).await;
    }
    accounts_for(app, admin, school_id, &[guardian]).await[0]
        .0
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_is_administered_only_by_callers_who_could_grant_every_role_it_holds() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let admin = fixture.token(Operator).to_owned();
    let (district, a) = (&fixture.district_id, &fixture.a);
    let school_role = |role| (role, pb::ScopeKind::School, a.school_id.as_str());
    let rows = [
        (
            "operator",
            (pb::Role::Operator, pb::ScopeKind::Platform, ""),
            &[Operator][..],
        ),
        (
            "district admin",
            (
                pb::Role::DistrictAdmin,
                pb::ScopeKind::District,
                district.as_str(),
            ),
            &[Operator],
        ),
        (
            "district viewer",
            (
                pb::Role::DistrictViewer,
                pb::ScopeKind::District,
                district.as_str(),
            ),
            &[Operator],
        ),
        (
            "principal",
            school_role(pb::Role::Principal),
            LEADER_GRANTERS,
        ),
        (
            "vice principal",
            school_role(pb::Role::VicePrincipal),
            LEADER_GRANTERS,
        ),
        (
            "IT officer",
            school_role(pb::Role::ItOfficer),
            LEADER_GRANTERS,
        ),
        ("teacher", school_role(pb::Role::Teacher), SCHOOL_ADMINS),
        ("staff", school_role(pb::Role::Staff), SCHOOL_ADMINS),
    ];
    let mut targets = Vec::new();
    for (name, (role, scope, scope_id), allowed) in rows {
        let account = staff_with_role(&app, &admin, &a.school_id, role, scope, scope_id).await;
        targets.push((name, account, allowed));
    }
    let homeroom = staff_with_role(
        &app,
        &admin,
        &a.school_id,
        pb::Role::Staff,
        pb::ScopeKind::School,
        "",
    )
    .await;
    let homeroom_person: String =
        sqlx::query_scalar("SELECT person_id::text FROM accounts WHERE id = $1::uuid")
            .bind(&homeroom)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    app.directory(&admin)
        .assign_homeroom_teacher(pb::AssignHomeroomTeacherRequest {
            request_id: rid(),
            class_id: a.other_class_id.clone(),
            staff_id: homeroom_person,
        })
        .await
        .unwrap();
    targets.push(("homeroom teacher", homeroom, SCHOOL_ADMINS));
    let own_school_guardian = guardian_of(&app, &admin, &a.school_id, &[&a.other_student_id]).await;
    targets.push((
        "guardian of a child in school A",
        own_school_guardian,
        SCHOOL_ADMINS,
    ));
    // Linked by school A's administrators to a child of theirs, this guardian still
    // has a child in school B: school A cannot reset the account.
    let two_schools = guardian_of(
        &app,
        &admin,
        &a.school_id,
        &[&a.student_id, &fixture.b.student_id],
    )
    .await;
    targets.push((
        "guardian of children in schools A and B",
        two_schools,
        &[Operator, DistrictAdmin],
    ));

    let mut failures = Vec::new();
    for (target, account, allowed) in &targets {
        for persona in Persona::ALL {
            let mut auth = app.auth(Some(fixture.token(persona)));
            let outcomes = [
                (
                    "ResetPassword",
                    auth.reset_password(pb::ResetPasswordRequest {
                        request_id: rid(),
                        account_id: account.clone(),
                    })
                    .await
                    .map(|_| ()),
                ),
                (
                    "LockAccount",
                    auth.lock_account(pb::LockAccountRequest {
                        request_id: rid(),
                        account_id: account.clone(),
                        reason: String::new(),
                    })
                    .await
                    .map(|_| ()),
                ),
                (
                    "UnlockAccount",
                    auth.unlock_account(pb::UnlockAccountRequest {
                        request_id: rid(),
                        account_id: account.clone(),
                    })
                    .await
                    .map(|_| ()),
                ),
            ];
            let expected = allowed.contains(&persona);
            for (rpc, outcome) in outcomes {
                let ok = match &outcome {
                    Ok(()) => expected,
                    Err(status) => !expected && status.code() == Code::PermissionDenied,
                };
                if !ok {
                    failures.push(format!(
                        "{rpc} of the {target} by {persona:?}: expected {}, got {:?}",
                        if expected { "OK" } else { "PERMISSION_DENIED" },
                        outcome.map_err(|s| (s.code(), s.message().to_owned()))
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

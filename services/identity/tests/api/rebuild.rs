//! Identity's tables are what its events say: after every kind of directory and
//! account command, the tables rebuilt from the event store equal the tables the
//! commands wrote, and the credentials and sessions beside them stay as they were.

use kernel::config::ServiceId;
use lienlac_proto::identity::v1 as pb;
use sqlx::PgPool;
use tonic::Code;

use crate::helpers::*;

const TABLES: [&str; 8] = [
    "role_bindings",
    "accounts",
    "guardianships",
    "enrolments",
    "classes",
    "people",
    "schools",
    "districts",
];

/// Every row of `tables`, as JSON in a stable order.
async fn snapshot(pool: &PgPool, tables: &[&str]) -> Vec<(String, serde_json::Value)> {
    let mut snapshot = Vec::new();
    for table in tables {
        let rows: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]') FROM {table} t"
        )))
        .fetch_one(pool)
        .await
        .unwrap();
        snapshot.push((table.to_string(), rows));
    }
    snapshot
}

#[tokio::test(flavor = "multi_thread")]
async fn identitys_tables_rebuilt_from_the_events_equal_the_ones_the_commands_wrote() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let a = &fixture.a;
    directory
        .transfer_student(pb::TransferStudentRequest {
            request_id: rid(),
            student_id: a.student_id.clone(),
            to_class_id: a.other_class_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    directory
        .withdraw_student(pb::WithdrawStudentRequest {
            request_id: rid(),
            student_id: a.other_student_id.clone(),
            reason: "chuyển trường".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    enroll(&mut directory, &a.other_student_id, &a.class_id).await;
    // A roster with a new guardian and one registered before.
    let suffix = &rid()[24..];
    directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: a.other_class_id.clone(),
            students: vec![pb::NewStudent {
                full_name: "Đỗ Minh Khang".into(),
                birth_date: "2019-04-05".into(),
                gender: pb::Gender::Male as i32,
                external_ref: format!("R{suffix}"),
            }],
            guardians: vec![pb::RosterGuardian {
                full_name: "Đỗ Văn Lâm".into(),
                phone: "0907555123".into(),
                external_ref: format!("PH{suffix}"),
            }],
            links: vec![
                pb::RosterLink {
                    student_ref: format!("R{suffix}"),
                    guardian_ref: format!("PH{suffix}"),
                    relation: pb::Relation::Father as i32,
                    ..Default::default()
                },
                pb::RosterLink {
                    student_ref: format!("R{suffix}"),
                    guardian_id: a.guardian_id.clone(),
                    relation: pb::Relation::Mother as i32,
                    ..Default::default()
                },
            ],
        })
        .await
        .unwrap();
    let taken = directory
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id: a.school_id.clone(),
            full_name: "Trần Văn Bình".into(),
            phone: phone_of(&app, &a.guardian_id).await,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");

    // Accounts: locked and unlocked, locked again, reset, a role revoked.
    let mut auth = app.auth(Some(&admin));
    let teacher = fixture.accounts[&Persona::Teacher].clone();
    let staff = fixture.accounts[&Persona::Staff].clone();
    for account_id in [&teacher, &staff] {
        auth.lock_account(pb::LockAccountRequest {
            request_id: rid(),
            account_id: account_id.clone(),
            reason: "mất điện thoại".into(),
        })
        .await
        .unwrap();
    }
    auth.unlock_account(pb::UnlockAccountRequest {
        request_id: rid(),
        account_id: teacher.clone(),
    })
    .await
    .unwrap();
    auth.reset_password(pb::ResetPasswordRequest {
        request_id: rid(),
        account_id: fixture.accounts[&Persona::Guardian].clone(),
    })
    .await
    .unwrap();
    auth.revoke_role(pb::RevokeRoleRequest {
        request_id: rid(),
        account_id: teacher.clone(),
        role: pb::Role::Teacher as i32,
        scope_kind: pb::ScopeKind::School as i32,
        scope_id: a.school_id.clone(),
    })
    .await
    .unwrap();

    let written = snapshot(&app.pool, &TABLES).await;
    for (table, rows) in &written {
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "{table} has rows"
        );
    }
    let credentials = snapshot(&app.pool, &["credentials", "refresh_tokens"]).await;
    let listed = class_students(&mut directory, &a.class_id).await;

    // Rows that drifted from the events are put back as the events say.
    let schema = app.world.config(ServiceId::IDENTITY).schema;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.guardianships; UPDATE {schema}.people SET full_name = 'X', name_folded = 'x'; \
         UPDATE {schema}.accounts SET locked_by_admin = false, status = 'active'; DELETE FROM {schema}.role_bindings"
    )))
    .execute(&mut app.world.admin().await)
    .await
    .unwrap();
    assert_ne!(snapshot(&app.pool, &TABLES).await, written);

    let denied = app
        .directory(fixture.token(Persona::DistrictAdmin))
        .rebuild_write_model(pb::RebuildWriteModelRequest {})
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let rebuilt = directory
        .rebuild_write_model(pb::RebuildWriteModelRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rebuilt.tables, TABLES);
    assert!(rebuilt.events > 30, "read {} events", rebuilt.events);
    let after = snapshot(&app.pool, &TABLES).await;
    for ((table, before), (_, after)) in written.iter().zip(&after) {
        assert_eq!(before, after, "{table} rebuilt from its events");
    }
    assert_eq!(
        snapshot(&app.pool, &["credentials", "refresh_tokens"]).await,
        credentials
    );

    // The rebuilt tables answer as before: the same class list, the account
    // unlocked lets its person in, the one still locked does not.
    assert_eq!(class_students(&mut directory, &a.class_id).await, listed);
    let teacher_name = username_of(&app, &teacher).await;
    assert!(app.login(&teacher_name, PASSWORD).await.is_ok());
    let staff_name = username_of(&app, &staff).await;
    let refused = app.login(&staff_name, PASSWORD).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}

async fn phone_of(app: &TestApp, person_id: &str) -> String {
    sqlx::query_scalar("SELECT phone FROM people WHERE id = $1::uuid")
        .bind(person_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

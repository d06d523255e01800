//! The directory is what identity's events say: after every kind of directory
//! command, the tables rebuilt from the event store equal the tables the commands
//! wrote, and the accounts that point into them stay as they were.

use kernel::config::ServiceId;
use lienlac_proto::identity::v1 as pb;
use sqlx::PgPool;
use tonic::Code;

use crate::helpers::*;

const TABLES: [&str; 6] = [
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
async fn the_directory_rebuilt_from_the_events_equals_the_one_the_commands_wrote() {
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
        })
        .await
        .unwrap();
    directory
        .withdraw_student(pb::WithdrawStudentRequest {
            request_id: rid(),
            student_id: a.other_student_id.clone(),
            reason: "chuyển trường".into(),
        })
        .await
        .unwrap();
    enroll(&mut directory, &a.other_student_id, &a.class_id).await;
    let taken = directory
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id: a.school_id.clone(),
            full_name: "Trần Văn Bình".into(),
            phone: phone_of(&app, &a.guardian_id).await,
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");

    let written = snapshot(&app.pool, &TABLES).await;
    for (table, rows) in &written {
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "{table} has rows"
        );
    }
    let accounts = snapshot(&app.pool, &["accounts", "role_bindings"]).await;
    let listed = class_students(&mut directory, &a.class_id).await;

    // Rows that drifted from the events are put back as the events say.
    let schema = app.world.config(ServiceId::IDENTITY).schema;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.guardianships; UPDATE {schema}.people SET full_name = 'X', name_folded = 'x'"
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
        snapshot(&app.pool, &["accounts", "role_bindings"]).await,
        accounts
    );

    // The rebuilt directory answers as before.
    assert_eq!(class_students(&mut directory, &a.class_id).await, listed);
}

async fn phone_of(app: &TestApp, person_id: &str) -> String {
    sqlx::query_scalar("SELECT phone FROM people WHERE id = $1::uuid")
        .bind(person_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

//! The kernel's tables that keep rows only for a while: the retention job deletes
//! what is past its period and keeps the rest; the access log records reads
//! without the data read.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::time::Duration;

use kernel::access_log;
use kernel::auth::{Binding, Caller, Role, ScopeKind, Target};
use kernel::config::ServiceId;
use kernel::retention::{RetentionSettings, prune};
use kernel::testing::TestWorld;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use common::MIGRATIONS;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_past_their_retention_are_pruned_and_younger_ones_kept() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    for age in [1, 20, 40, 400] {
        let at = OffsetDateTime::now_utc() - time::Duration::days(age);
        sqlx::query("INSERT INTO inbox (consumer, event_id, handled_at) VALUES ('c', $1, $2)")
            .bind(Uuid::now_v7())
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO requests (caller, request_id, command, response, recorded_at) \
             VALUES ($1, $2, 'Note', '{}', $3)",
        )
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO data_access (student_id, account_id, roles, what, read_at) \
             VALUES ($1, $2, '{principal}', 'test.Read', $3)",
        )
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    let settings = RetentionSettings {
        inbox: 14 * DAY,
        requests: 30 * DAY,
        data_access: 365 * DAY,
        interval: DAY,
    };
    let pruned = prune(&pool, &settings).await.unwrap();
    assert_eq!(
        pruned,
        vec![("inbox", 3), ("requests", 2), ("data_access", 1)]
    );
    assert_eq!(count(&pool, "inbox").await, 1);
    assert_eq!(count(&pool, "requests").await, 2);
    assert_eq!(count(&pool, "data_access").await, 3);
    assert_eq!(
        prune(&pool, &settings).await.unwrap(),
        vec![("inbox", 0), ("requests", 0), ("data_access", 0)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_is_logged_per_student_with_the_readers_roles_over_each() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::REPORTING, &MIGRATIONS).await;
    let (district, school, class) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
    let binding = |role, scope, id| Binding {
        role,
        scope,
        id: Some(id),
        district: None,
        school: None,
    };
    let teacher = Caller {
        account_id: Uuid::now_v7(),
        person_id: Some(Uuid::now_v7()),
        session: None,
        bindings: vec![
            binding(Role::HomeroomTeacher, ScopeKind::Class, class),
            binding(Role::Teacher, ScopeKind::School, school),
        ],
    };
    let in_class = Target::class(district, school, class);
    let elsewhere = Target::class(district, school, Uuid::now_v7());
    access_log::record_in(
        &pool,
        &teacher,
        "test.ListStudents",
        &[
            (mine, in_class.with_student(mine)),
            (other, elsewhere.with_student(other)),
        ],
    )
    .await
    .unwrap();
    let day = OffsetDateTime::now_utc();
    let window = (
        day - time::Duration::hours(1),
        day + time::Duration::hours(1),
    );
    let reads = access_log::reads_of(&pool, mine, window.0, window.1)
        .await
        .unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].roles, vec!["homeroom_teacher", "teacher"]);
    assert_eq!(
        (
            reads[0].account_id,
            reads[0].person_id,
            reads[0].what.as_str()
        ),
        (teacher.account_id, teacher.person_id, "test.ListStudents")
    );
    let reads = access_log::reads_of(&pool, other, window.0, window.1)
        .await
        .unwrap();
    assert_eq!(reads[0].roles, vec!["teacher"]);
    let before = access_log::reads_of(&pool, mine, window.0 - time::Duration::days(1), window.0)
        .await
        .unwrap();
    assert!(before.is_empty());
}

//! Each service connects to Postgres as its own role and owns its schemas alone:
//! attendance's role can neither read, change nor drop identity's tables.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use kernel::config::ServiceId;
use kernel::testing::TestWorld;

use common::MIGRATIONS;

/// insufficient_privilege
const DENIED: &str = "42501";

#[tokio::test]
async fn a_service_cannot_reach_another_services_schema() {
    let world = TestWorld::new();
    let identity = world.pool(ServiceId::IDENTITY, &MIGRATIONS).await;
    let attendance = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let identity_schema = world.config(ServiceId::IDENTITY).schema;

    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&attendance)
        .await
        .unwrap();
    assert_eq!(role, "lienlac_attendance");
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = $1",
    )
    .bind(&identity_schema)
    .fetch_one(&identity)
    .await
    .unwrap();
    assert_eq!(owner, "lienlac_identity");

    for statement in [
        format!("SELECT count(*) FROM {identity_schema}.events"),
        format!("DELETE FROM {identity_schema}.events"),
        format!("CREATE TABLE {identity_schema}.planted (id int)"),
        format!("DROP SCHEMA {identity_schema} CASCADE"),
    ] {
        let error = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&attendance)
            .await
            .expect_err(&statement);
        assert!(
            kernel::db::has_sqlstate(&error, &[DENIED]),
            "{statement}: {error}"
        );
    }
    // Its own schema is its own.
    sqlx::query("SELECT count(*) FROM events")
        .execute(&attendance)
        .await
        .unwrap();
}

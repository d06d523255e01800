//! The directory as attendance needs it (schools, classes, homeroom teachers,
//! enrolment periods, guardianships), projected from identity's events by the
//! consumer `attendance-directory` as every service keeps them
//! (school/src/directory.rs).

use kernel::consumer::{Projection, ReceivedEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::roll_calls::RollCallKey;

pub(crate) struct DirectoryProjection;

pub(crate) const CONSUMER: &str = "attendance-directory";

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        school::directory::project(conn, event).await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE schools, classes, enrolment_periods, guardianships")
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A class as attendance knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ClassRow {
    pub(crate) id: Uuid,
    pub(crate) school_id: Uuid,
    pub(crate) district_id: Uuid,
}

pub(crate) async fn class(
    conn: &mut PgConnection,
    class_id: Uuid,
) -> sqlx::Result<Option<ClassRow>> {
    sqlx::query_as("SELECT id, school_id, district_id FROM classes WHERE id = $1")
        .bind(class_id)
        .fetch_optional(conn)
        .await
}

/// The students enrolled in the class on the roll call's date, by id, each with the
/// approved leave that covers the roll call, if any.
pub(crate) async fn roster(
    conn: &mut PgConnection,
    key: &RollCallKey,
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>)>> {
    sqlx::query_as(
        "SELECT e.student_id, l.id FROM ( \
             SELECT DISTINCT student_id FROM enrolment_periods \
             WHERE class_id = $1 AND from_date <= $2 AND (to_date IS NULL OR to_date > $2)) e \
         LEFT JOIN LATERAL ( \
             SELECT id FROM leaves WHERE student_id = e.student_id AND class_id = $1 AND status = 'approved' \
               AND from_date <= $2 AND to_date >= $2 AND $3 = ANY(sessions) LIMIT 1) l ON true \
         ORDER BY e.student_id",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .fetch_all(conn)
    .await
}

/// The district of a school attendance knows.
pub(crate) async fn school_district(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
        .bind(school_id)
        .fetch_optional(conn)
        .await
}

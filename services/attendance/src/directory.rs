//! The directory as attendance needs it (classes, homeroom teachers, enrolment
//! periods, guardianships), projected from identity's events by the consumer
//! `attendance-directory`.

use kernel::consumer::{Projection, ReceivedEvent};
use lienlac_proto::identity::v1 as identity;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::roll_calls::RollCallKey;
use school::enrolments::uuid as id;

pub(crate) struct DirectoryProjection;

pub(crate) const CONSUMER: &str = "attendance-directory";

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        if school::enrolments::project(conn, event).await?.is_some() {
            return Ok(());
        }
        match event.name() {
            "SchoolCreated" => {
                let school: identity::SchoolCreated = event.decode()?;
                sqlx::query("INSERT INTO schools (id, district_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(id("school_id", &school.school_id)?)
                    .bind(id("district_id", &school.district_id)?)
                    .execute(conn)
                    .await?;
            }
            "ClassCreated" => {
                let class: identity::ClassCreated = event.decode()?;
                sqlx::query(
                    "INSERT INTO classes (id, school_id, district_id, school_year) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(id("class_id", &class.class_id)?)
                .bind(id("school_id", &class.school_id)?)
                .bind(id("district_id", &class.district_id)?)
                .bind(&class.school_year)
                .execute(conn)
                .await?;
            }
            "HomeroomTeacherAssigned" => {
                let assigned: identity::HomeroomTeacherAssigned = event.decode()?;
                sqlx::query("UPDATE classes SET homeroom_teacher_id = $2 WHERE id = $1")
                    .bind(id("class_id", &assigned.class_id)?)
                    .bind(id("staff_id", &assigned.staff_id)?)
                    .execute(conn)
                    .await?;
            }
            "GuardianLinked" => {
                let linked: identity::GuardianLinked = event.decode()?;
                sqlx::query("INSERT INTO guardianships (guardian_id, student_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id("guardian_id", &linked.guardian_id)?)
                    .bind(id("student_id", &linked.student_id)?)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
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

//! The directory as the sync service needs it, projected from identity's public
//! events by the consumer `sync-directory`: the tables every service keeps
//! (school/src/directory.rs), each district's, school's, class's and student's
//! code in the source, for access checks and for naming classes and students to
//! the city database.

use kernel::consumer::{Projection, ReceivedEvent};
use lienlac_proto::identity::v2 as identity;
use school::enrolments::uuid;
use sqlx::PgConnection;

pub(crate) struct DirectoryProjection;

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        "sync-directory"
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        school::directory::project(conn, event).await?;
        match event.name() {
            "DistrictCreated" => {
                let district: identity::DistrictCreated = event.decode()?;
                sqlx::query(
                    "INSERT INTO districts (id, external_ref) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("district_id", &district.district_id)?)
                .bind(&district.external_ref)
                .execute(conn)
                .await?;
            }
            "SchoolCreated" => {
                let school: identity::SchoolCreated = event.decode()?;
                sqlx::query("UPDATE schools SET external_ref = $2 WHERE id = $1")
                    .bind(uuid("school_id", &school.school_id)?)
                    .bind(&school.external_ref)
                    .execute(conn)
                    .await?;
            }
            "ClassCreated" => {
                let class: identity::ClassCreated = event.decode()?;
                sqlx::query("UPDATE classes SET external_ref = $2 WHERE id = $1")
                    .bind(uuid("class_id", &class.class_id)?)
                    .bind(&class.external_ref)
                    .execute(conn)
                    .await?;
            }
            "StudentRegistered" => {
                let student: identity::StudentRegistered = event.decode()?;
                sqlx::query(
                    "INSERT INTO students (id, school_id, external_ref) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("student_id", &student.student_id)?)
                .bind(uuid("school_id", &student.school_id)?)
                .bind(&student.external_ref)
                .execute(conn)
                .await?;
            }
            "ClassRosterImported" => {
                let roster: identity::ClassRosterImported = event.decode()?;
                let mut ids = Vec::with_capacity(roster.students.len());
                let mut refs = Vec::with_capacity(roster.students.len());
                for student in &roster.students {
                    ids.push(uuid("student_id", &student.student_id)?);
                    refs.push(student.external_ref.as_str());
                }
                sqlx::query(
                    "INSERT INTO students (id, school_id, external_ref) \
                     SELECT s.id, $1, s.external_ref FROM unnest($2::uuid[], $3::text[]) AS s(id, external_ref) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("school_id", &roster.school_id)?)
                .bind(&ids)
                .bind(&refs)
                .execute(conn)
                .await?;
            }
            "PersonalDataErased" => {
                let erased: identity::PersonalDataErased = event.decode()?;
                sqlx::query("UPDATE students SET external_ref = '' WHERE id = $1")
                    .bind(uuid("person_id", &erased.person_id)?)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query(
            "TRUNCATE districts, schools, classes, enrolment_periods, guardianships, students",
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

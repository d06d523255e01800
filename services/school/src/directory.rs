//! Identity's directory events as every service that projects them keeps them:
//! schools, classes with their homeroom teacher, who is in which class when
//! ([`crate::enrolments`]) and which guardian has which child. A service that
//! projects the directory keeps at least
//!
//! ```sql
//! CREATE TABLE schools (id uuid PRIMARY KEY, district_id uuid NOT NULL, name text NOT NULL);
//! CREATE TABLE classes (
//!     id uuid PRIMARY KEY, school_id uuid NOT NULL, district_id uuid NOT NULL,
//!     name text NOT NULL, grade integer NOT NULL, school_year text NOT NULL,
//!     homeroom_teacher_id uuid);
//! CREATE TABLE guardianships (
//!     guardian_id uuid NOT NULL, student_id uuid NOT NULL,
//!     PRIMARY KEY (guardian_id, student_id));  -- or (student_id, guardian_id)
//! ```
//!
//! (its own columns beside these need defaults) and the `enrolment_periods` of
//! [`crate::enrolments`]; it projects the rest of what it needs itself.

use kernel::consumer::ReceivedEvent;
use lienlac_proto::identity::v2 as identity;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::enrolments::{self, Change, uuid};

/// What a directory event changed in the shared tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    /// A school or class created, or a class's homeroom teacher assigned.
    Structure,
    Enrolment(Change),
    GuardianLinked {
        guardian: Uuid,
        student: Uuid,
    },
    GuardianUnlinked {
        guardian: Uuid,
        student: Uuid,
    },
    /// A class's roster imported: its students enrolled (new periods opened) and
    /// their guardianships, `(guardian, student)`.
    RosterImported {
        students: Vec<Uuid>,
        links: Vec<(Uuid, Uuid)>,
    },
}

/// Applies `event` to the shared tables; `None` when they do not hold what it
/// says. Redelivered events change nothing more.
pub async fn project(
    conn: &mut PgConnection,
    event: &ReceivedEvent,
) -> anyhow::Result<Option<DirectoryChange>> {
    if let Some(change) = enrolments::project(conn, event).await? {
        return Ok(Some(DirectoryChange::Enrolment(change)));
    }
    let change = match event.name() {
        "SchoolCreated" => {
            let school: identity::SchoolCreated = event.decode()?;
            sqlx::query(
                "INSERT INTO schools (id, district_id, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(uuid("school_id", &school.school_id)?)
            .bind(uuid("district_id", &school.district_id)?)
            .bind(&school.name)
            .execute(conn)
            .await?;
            DirectoryChange::Structure
        }
        "ClassCreated" => {
            let class: identity::ClassCreated = event.decode()?;
            sqlx::query(
                "INSERT INTO classes (id, school_id, district_id, name, grade, school_year) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(uuid("class_id", &class.class_id)?)
            .bind(uuid("school_id", &class.school_id)?)
            .bind(uuid("district_id", &class.district_id)?)
            .bind(&class.name)
            .bind(class.grade)
            .bind(&class.school_year)
            .execute(conn)
            .await?;
            DirectoryChange::Structure
        }
        "HomeroomTeacherAssigned" => {
            let assigned: identity::HomeroomTeacherAssigned = event.decode()?;
            sqlx::query("UPDATE classes SET homeroom_teacher_id = $2 WHERE id = $1")
                .bind(uuid("class_id", &assigned.class_id)?)
                .bind(uuid("staff_id", &assigned.staff_id)?)
                .execute(conn)
                .await?;
            DirectoryChange::Structure
        }
        "GuardianLinked" => {
            let linked: identity::GuardianLinked = event.decode()?;
            let guardian = uuid("guardian_id", &linked.guardian_id)?;
            let student = uuid("student_id", &linked.student_id)?;
            sqlx::query(
                "INSERT INTO guardianships (guardian_id, student_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(guardian)
            .bind(student)
            .execute(conn)
            .await?;
            DirectoryChange::GuardianLinked { guardian, student }
        }
        "ClassRosterImported" => {
            let roster: identity::ClassRosterImported = event.decode()?;
            let students = roster
                .students
                .iter()
                .map(|s| uuid("student_id", &s.student_id))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let links = roster
                .links
                .iter()
                .map(|l| {
                    Ok((
                        uuid("guardian_id", &l.guardian_id)?,
                        uuid("student_id", &l.student_id)?,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            enrolments::open_roster_periods(
                conn,
                &students,
                uuid("class_id", &roster.class_id)?,
                &roster.school_year,
            )
            .await?;
            let (guardians, linked): (Vec<Uuid>, Vec<Uuid>) = links.iter().copied().unzip();
            sqlx::query(
                "INSERT INTO guardianships (guardian_id, student_id) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
            )
            .bind(&guardians)
            .bind(&linked)
            .execute(conn)
            .await?;
            DirectoryChange::RosterImported { students, links }
        }
        "GuardianUnlinked" => {
            let unlinked: identity::GuardianUnlinked = event.decode()?;
            let guardian = uuid("guardian_id", &unlinked.guardian_id)?;
            let student = uuid("student_id", &unlinked.student_id)?;
            sqlx::query("DELETE FROM guardianships WHERE guardian_id = $1 AND student_id = $2")
                .bind(guardian)
                .bind(student)
                .execute(conn)
                .await?;
            DirectoryChange::GuardianUnlinked { guardian, student }
        }
        _ => return Ok(None),
    };
    Ok(Some(change))
}

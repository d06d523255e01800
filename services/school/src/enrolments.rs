//! Identity's enrolment events as periods: which class a student was in on which
//! school date. Every service that projects the directory keeps a table
//!
//! ```sql
//! CREATE TABLE enrolment_periods (
//!     student_id uuid NOT NULL, class_id uuid NOT NULL, school_year text NOT NULL,
//!     from_date date NOT NULL, to_date date,
//!     PRIMARY KEY (student_id, class_id, from_date));
//! ```
//!
//! where a student is in the class on the dates `[from_date, to_date)`, `to_date`
//! NULL while it lasts, and feeds it with [`project`].
//!
//! A first enrolment covers the whole school year; a transfer or withdrawal takes
//! effect on its `effective_date` (a move the city database reports late is
//! dated when it happened), or, in events from before effective dates and for a
//! re-enrolment, on the local date identity recorded it.

use lienlac_proto::identity::v2 as identity;
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::dates;
use kernel::consumer::ReceivedEvent;

/// What an enrolment event did to a student's periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Enrolled or transferred: a new period opened in a class.
    Opened { student: Uuid },
    /// Withdrawn: the open period closed.
    Closed { student: Uuid },
}

/// Applies `event` if it is a `StudentEnrolled`, `StudentTransferred` or
/// `StudentWithdrawn`; `None` when it is none of them.
pub async fn project(
    conn: &mut PgConnection,
    event: &ReceivedEvent,
) -> anyhow::Result<Option<Change>> {
    let change = match event.name() {
        "StudentEnrolled" => {
            let enrolled: identity::StudentEnrolled = event.decode()?;
            let student = uuid("student_id", &enrolled.student_id)?;
            let earlier: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM enrolment_periods WHERE student_id = $1 AND school_year = $2)",
            )
            .bind(student)
            .bind(&enrolled.school_year)
            .fetch_one(&mut *conn)
            .await?;
            let from = if earlier {
                recorded_on(event)?
            } else {
                dates::school_year_start(&enrolled.school_year)
                    .ok_or_else(|| anyhow::anyhow!("school year {:?}", enrolled.school_year))?
            };
            let class = uuid("class_id", &enrolled.class_id)?;
            open_period(conn, student, class, &enrolled.school_year, from).await?;
            Change::Opened { student }
        }
        "StudentTransferred" => {
            let moved: identity::StudentTransferred = event.decode()?;
            let student = uuid("student_id", &moved.student_id)?;
            let on = effective_on(&moved.effective_date, event)?;
            close_period(conn, student, &moved.school_year, on).await?;
            let class = uuid("to_class_id", &moved.to_class_id)?;
            open_period(conn, student, class, &moved.school_year, on).await?;
            Change::Opened { student }
        }
        "StudentWithdrawn" => {
            let withdrawn: identity::StudentWithdrawn = event.decode()?;
            let student = uuid("student_id", &withdrawn.student_id)?;
            let on = effective_on(&withdrawn.effective_date, event)?;
            close_period(conn, student, &withdrawn.school_year, on).await?;
            Change::Closed { student }
        }
        _ => return Ok(None),
    };
    Ok(Some(change))
}

/// A UUID field of an event, or an error naming it.
pub fn uuid(field: &str, value: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(value).map_err(|_| anyhow::anyhow!("{field} {value:?} is not a UUID"))
}

/// A UUID field of an event that may be absent (`""`).
pub fn optional_uuid(field: &str, value: &str) -> anyhow::Result<Option<Uuid>> {
    if value.is_empty() {
        Ok(None)
    } else {
        uuid(field, value).map(Some)
    }
}

/// A move's effective date, or the date it was recorded when it has none.
fn effective_on(effective_date: &str, event: &ReceivedEvent) -> anyhow::Result<Date> {
    match effective_date {
        "" => recorded_on(event),
        text => kernel::dates::parse(text)
            .ok_or_else(|| anyhow::anyhow!("effective_date {text:?} is not a date")),
    }
}

/// The local school date on which the publisher recorded the event.
pub fn recorded_on(event: &ReceivedEvent) -> anyhow::Result<Date> {
    let at =
        time::OffsetDateTime::parse(&event.time, &time::format_description::well_known::Rfc3339)
            .map_err(|e| anyhow::anyhow!("ce-time {:?}: {e}", event.time))?;
    Ok(dates::local_date(at))
}

/// A class's roster imported (`ClassRosterImported`): its students, new to the
/// directory, are in the class for the whole school year, as a first enrolment
/// each would say.
pub async fn open_roster_periods(
    conn: &mut PgConnection,
    students: &[Uuid],
    class: Uuid,
    school_year: &str,
) -> anyhow::Result<()> {
    let from = dates::school_year_start(school_year)
        .ok_or_else(|| anyhow::anyhow!("school year {school_year:?}"))?;
    sqlx::query(
        "INSERT INTO enrolment_periods (student_id, class_id, school_year, from_date) \
         SELECT s.id, $2, $3, $4 FROM unnest($1::uuid[]) AS s(id) \
         ON CONFLICT (student_id, class_id, from_date) DO UPDATE SET to_date = NULL",
    )
    .persistent(false)
    .bind(students)
    .bind(class)
    .bind(school_year)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(())
}

async fn open_period(
    conn: &mut PgConnection,
    student: Uuid,
    class: Uuid,
    school_year: &str,
    from: Date,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO enrolment_periods (student_id, class_id, school_year, from_date) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (student_id, class_id, from_date) DO UPDATE SET to_date = NULL",
    )
    .bind(student)
    .bind(class)
    .bind(school_year)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(())
}

async fn close_period(
    conn: &mut PgConnection,
    student: Uuid,
    school_year: &str,
    on: Date,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE enrolment_periods SET to_date = greatest(from_date, $3) \
         WHERE student_id = $1 AND school_year = $2 AND to_date IS NULL",
    )
    .bind(student)
    .bind(school_year)
    .bind(on)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a student was last: the class of their latest period, in its school and
/// district (from the shared `classes` table, crate::directory); `None` for a
/// student never enrolled.
pub async fn latest_class(
    conn: &mut PgConnection,
    student: Uuid,
) -> Result<Option<kernel::auth::Target>, sqlx::Error> {
    let class: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.id, c.school_id, c.district_id FROM enrolment_periods p \
         JOIN classes c ON c.id = p.class_id WHERE p.student_id = $1 \
         ORDER BY p.from_date DESC LIMIT 1",
    )
    .bind(student)
    .fetch_optional(conn)
    .await?;
    Ok(class.map(|(class, school, district)| {
        kernel::auth::Target::class(district, school, class).with_student(student)
    }))
}

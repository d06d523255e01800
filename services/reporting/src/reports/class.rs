//! A class's roll calls over a period: counts and each student's mark.

use std::collections::HashMap;

use kernel::error::AppResult;
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use lienlac_proto::reporting::v1 as pb;
use sqlx::PgPool;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Counts, status};
use crate::access::ClassScope;
use crate::peers::Peers;
use school::names::names_of;
use school::peers::Reader;

#[derive(sqlx::FromRow)]
struct RollCallRow {
    date: Date,
    session: i16,
    submitted_at: OffsetDateTime,
    present: i32,
    absent_excused: i32,
    absent_unexcused: i32,
    late: i32,
}

pub(crate) async fn class_attendance(
    pool: &PgPool,
    (peers, reader): (&Peers, &Reader),
    class: &ClassScope,
    from: Date,
    to: Date,
) -> AppResult<pb::ClassAttendance> {
    let roll_calls: Vec<RollCallRow> = sqlx::query_as(
        "SELECT date, session, submitted_at, present, absent_excused, absent_unexcused, late \
         FROM roll_calls WHERE class_id = $1 AND date BETWEEN $2 AND $3 ORDER BY date, session",
    )
    .bind(class.id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let marks: Vec<(Date, i16, Uuid, i16)> = sqlx::query_as(
        "SELECT date, session, student_id, status FROM marks WHERE class_id = $1 AND date BETWEEN $2 AND $3",
    )
    .bind(class.id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let periods: Vec<(Uuid, Date, Option<Date>)> = sqlx::query_as(
        "SELECT student_id, from_date, to_date FROM enrolment_periods \
         WHERE class_id = $1 AND from_date <= $3 AND (to_date IS NULL OR to_date > $2)",
    )
    .bind(class.id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut students: Vec<Uuid> = periods.iter().map(|(id, _, _)| *id).collect();
    students.extend(marks.iter().map(|(_, _, id, _)| *id));
    students.sort_unstable();
    students.dedup();
    let named = names_of(peers.directory(), reader, &students).await?;
    let name_of = |id: &Uuid| {
        named
            .get(id)
            .map(|n| n.full_name.as_str())
            .unwrap_or_default()
    };
    let mut roster: Vec<(Uuid, &str, Date, Option<Date>)> = periods
        .into_iter()
        .map(|(id, from, to)| (id, name_of(&id), from, to))
        .collect();
    roster.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    let mut marked: HashMap<(Date, i16), HashMap<Uuid, AttendanceStatus>> = HashMap::new();
    for (date, session, student, stored) in marks {
        marked
            .entry((date, session))
            .or_default()
            .insert(student, status(stored));
    }

    let roll_calls = roll_calls
        .into_iter()
        .map(|row| {
            let mut exceptions = marked.remove(&(row.date, row.session)).unwrap_or_default();
            let mut students: Vec<pb::StudentMark> = roster
                .iter()
                .filter(|(_, _, from, to)| *from <= row.date && to.is_none_or(|to| to > row.date))
                .map(|(id, name, _, _)| pb::StudentMark {
                    student_id: id.to_string(),
                    full_name: (*name).to_owned(),
                    status: exceptions.remove(id).unwrap_or(AttendanceStatus::Present) as i32,
                })
                .collect();
            // Marked in the roll call though no longer on the roster as reports know it.
            students.extend(exceptions.into_iter().map(|(id, status)| pb::StudentMark {
                student_id: id.to_string(),
                full_name: name_of(&id).to_owned(),
                status: status as i32,
            }));
            let counts = Counts {
                present: row.present.into(),
                absent_excused: row.absent_excused.into(),
                absent_unexcused: row.absent_unexcused.into(),
                late: row.late.into(),
            };
            pb::ClassRollCall {
                date: kernel::dates::format(row.date),
                session: Session::try_from(i32::from(row.session)).unwrap_or_default() as i32,
                counts: Some(counts.to_proto()),
                marks: students,
                submitted_at: kernel::dates::rfc3339(row.submitted_at),
            }
        })
        .collect();
    Ok(pb::ClassAttendance {
        class_id: class.id.to_string(),
        school_id: class.school_id.to_string(),
        class_name: class.name.clone(),
        roll_calls,
    })
}

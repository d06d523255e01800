//! One student's absences over a period, per month, and the school year's total
//! against the absence limit.

use std::collections::BTreeMap;

use kernel::error::AppResult;
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use lienlac_proto::reporting::v1 as pb;
use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

use super::{Counts, status};
use crate::Settings;

pub(crate) async fn student_absences(
    pool: &PgPool,
    settings: &Settings,
    student_id: Uuid,
    full_name: String,
    from: Date,
    to: Date,
) -> AppResult<pb::StudentAbsences> {
    let rows: Vec<(Date, i16, i16, Uuid)> = sqlx::query_as(
        "SELECT date, session, status, class_id FROM marks \
         WHERE student_id = $1 AND date BETWEEN $2 AND $3 ORDER BY date, session",
    )
    .bind(student_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let school_year = school::dates::school_year_of(to);
    let year_start = school::dates::school_year_start(&school_year).unwrap_or(to);
    let year_absent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM marks WHERE student_id = $1 AND date BETWEEN $2 AND $3 AND status IN ($4, $5)",
    )
    .bind(student_id)
    .bind(year_start)
    .bind(to)
    .bind(AttendanceStatus::AbsentExcused as i16)
    .bind(AttendanceStatus::AbsentUnexcused as i16)
    .fetch_one(pool)
    .await?;

    // `YYYY-MM` keys sort as the months do.
    let mut months: BTreeMap<String, Counts> = BTreeMap::new();
    let mut sessions = Vec::with_capacity(rows.len());
    for (date, session, stored, class_id) in rows {
        let status = status(stored);
        months
            .entry(kernel::dates::month_of(date))
            .or_default()
            .count(status);
        sessions.push(pb::AbsentSession {
            date: kernel::dates::format(date),
            session: Session::try_from(i32::from(session)).unwrap_or_default() as i32,
            status: status as i32,
            class_id: class_id.to_string(),
        });
    }
    let year_absent = year_absent as i32;
    let standing = if year_absent > settings.absence_limit {
        pb::AbsenceStanding::OverLimit
    } else if year_absent >= settings.absence_warn_from {
        pb::AbsenceStanding::Warning
    } else {
        pb::AbsenceStanding::WithinLimit
    };
    Ok(pb::StudentAbsences {
        student_id: student_id.to_string(),
        full_name,
        months: months
            .into_iter()
            .map(|(month, counts)| pb::MonthAbsences {
                month,
                absent_excused_sessions: counts.absent_excused as i32,
                absent_unexcused_sessions: counts.absent_unexcused as i32,
                late_count: counts.late as i32,
            })
            .collect(),
        sessions,
        school_year,
        school_year_absent_sessions: year_absent,
        absence_limit: settings.absence_limit,
        warn_from: settings.absence_warn_from,
        standing: standing as i32,
    })
}

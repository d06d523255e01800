//! The school calendar as attendance keeps it: closure days (no roll calls) and
//! class months, which close with their per-student totals and reopen only by the
//! principal.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{Aggregate as _, EventMeta, ExpectedVersion, NewEvent, RequestKey, load};
use kernel::write_model::append_and_project;
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus;
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::Ctx;
use crate::contract::{self, AttendanceEvent};
use crate::directory::ClassRow;
use crate::directory::known_class;
use crate::write_model::AttendanceTables;

mod closure_rules;
mod month_rules;

use closure_rules::{CalendarCommand, CalendarContext, CalendarEvent, SchoolCalendar};
use kernel::dates;
use month_rules::{ClassMonth, MonthCommand, MonthContext, MonthEvent};

/// The first day of `YYYY-MM`.
fn month_start(month: &str) -> Option<Date> {
    dates::parse_month(month).map(|(first, _)| first)
}

/// Whether the class takes roll calls on the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Calendar {
    Open,
    /// The school declared the day closed.
    ClosureDay {
        reason: String,
    },
    /// The class's month is closed (until the principal reopens it).
    MonthClosed,
}

/// Whether the class takes roll calls on `date`: a closure day, a closed month or
/// open. It locks the class's month row (creating it open if new), so a change and a
/// closing of the same month never interleave.
pub(crate) async fn lock_month(
    conn: &mut PgConnection,
    class: &ClassRow,
    date: Date,
) -> AppResult<Calendar> {
    let month = dates::month_of(date);
    let (closed, closure): (bool, Option<String>) = sqlx::query_as(
        "WITH month AS ( \
             INSERT INTO months (class_id, month, closed) VALUES ($3, $4, false) \
             ON CONFLICT (class_id, month) DO UPDATE SET closed = months.closed RETURNING closed) \
         SELECT (SELECT closed FROM month), \
                (SELECT reason FROM closures WHERE school_id = $1 AND from_date <= $2 AND to_date >= $2 LIMIT 1)",
    )
    .bind(class.school_id)
    .bind(date)
    .bind(class.id)
    .bind(&month)
    .fetch_one(&mut *conn)
    .await?;
    Ok(match (closure, closed) {
        (Some(reason), _) => Calendar::ClosureDay { reason },
        (None, true) => Calendar::MonthClosed,
        (None, false) => Calendar::Open,
    })
}

/// The class's month as its events made it, with its stream's version; its row
/// locked first, so that a change and a closing of the month never interleave.
async fn load_month(
    tx: &mut PgConnection,
    class_id: Uuid,
    month: &str,
) -> AppResult<(ClassMonth, i64)> {
    sqlx::query("SELECT 1 FROM months WHERE class_id = $1 AND month = $2 FOR UPDATE")
        .bind(class_id)
        .bind(month)
        .execute(&mut *tx)
        .await?;
    Ok(load::<ClassMonth>(tx, &month_stream(class_id, month))
        .await
        .map_err(anyhow::Error::from)?)
}

fn month_stream(class_id: Uuid, month: &str) -> String {
    format!("class_month:{class_id}:{month}")
}

async fn append_month_event<M: AttendanceEvent>(
    tx: &mut PgConnection,
    class_id: Uuid,
    month: &str,
    version: i64,
    meta: &EventMeta,
    event: &M,
) -> AppResult<()> {
    append_and_project(
        tx,
        &AttendanceTables,
        &month_stream(class_id, month),
        ExpectedVersion::from_loaded(version),
        &[stored_form(event)?],
        meta,
    )
    .await?;
    Ok(())
}

fn stored_form<M: AttendanceEvent>(event: &M) -> AppResult<NewEvent> {
    Ok(contract::new_event(event).map_err(anyhow::Error::from)?)
}

fn meta(caller: &Caller, district: Uuid, school: Uuid) -> EventMeta {
    EventMeta::for_command(Some(caller.account_id.to_string())).in_tenant(district, Some(school))
}

pub(crate) struct NewClosure {
    pub(crate) school_id: Uuid,
    pub(crate) from: Date,
    pub(crate) to: Date,
    pub(crate) reason: String,
}

pub(crate) async fn declare_closure(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    closure: NewClosure,
) -> AppResult<pb::Closure> {
    let district =
        crate::directory::school_district(&mut *ctx.pool.acquire().await?, closure.school_id)
            .await?
            .ok_or(AppError::NotFound("school"))?;
    caller.require(
        &[Role::Principal],
        &Target::school(district, closure.school_id),
    )?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let stream = format!("school_calendar:{}", closure.school_id);
            let (calendar, version) = load::<SchoolCalendar>(tx, &stream)
                .await
                .map_err(anyhow::Error::from)?;
            let first_roll_call: Option<Date> = sqlx::query_scalar(
                "SELECT min(r.date) FROM roll_calls r WHERE r.school_id = $1 AND r.date BETWEEN $2 AND $3",
            )
            .bind(closure.school_id)
            .bind(closure.from)
            .bind(closure.to)
            .fetch_one(&mut *tx)
            .await?;
            let command = CalendarCommand::DeclareClosure {
                from: closure.from,
                to: closure.to,
                reason: closure.reason.clone(),
            };
            let mut stored = Vec::new();
            for CalendarEvent::ClosureDeclared { from, to, reason } in
                calendar.decide(&command, &CalendarContext { first_roll_call })?
            {
                stored.push(stored_form(&pb::SchoolClosureDeclared {
                    school_id: closure.school_id.to_string(),
                    from_date: from.to_string(),
                    to_date: to.to_string(),
                    reason,
                    declared_by: by.account_id.to_string(),
                })?);
            }
            let meta = meta(&by, district, closure.school_id);
            append_and_project(tx, &AttendanceTables, &stream, ExpectedVersion::from_loaded(version), &stored, &meta).await?;
            Ok(pb::Closure {
                school_id: closure.school_id.to_string(),
                from_date: closure.from.to_string(),
                to_date: closure.to.to_string(),
                reason: closure.reason,
            })
        })
    })
    .await
}

/// Each student's absences and lates in the class's roll calls of the month.
async fn totals(
    conn: &mut PgConnection,
    class_id: Uuid,
    month: &str,
) -> AppResult<Vec<pb::StudentMonthTotals>> {
    let start =
        month_start(month).ok_or_else(|| AppError::Rejected(format!("{month} is not a month")))?;
    let rows: Vec<(Uuid, i64, i64, i64)> = sqlx::query_as(
        "SELECT student_id, count(*) FILTER (WHERE status = $3), count(*) FILTER (WHERE status = $4), \
                count(*) FILTER (WHERE status = $5) \
         FROM marks WHERE class_id = $1 AND date >= $2 AND date < ($2 + interval '1 month')::date \
         GROUP BY student_id ORDER BY student_id",
    )
    .bind(class_id)
    .bind(start)
    .bind(AttendanceStatus::AbsentExcused as i16)
    .bind(AttendanceStatus::AbsentUnexcused as i16)
    .bind(AttendanceStatus::Late as i16)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(student, excused, unexcused, late)| pb::StudentMonthTotals {
                student_id: student.to_string(),
                absent_excused_sessions: excused as i32,
                absent_unexcused_sessions: unexcused as i32,
                late_count: late as i32,
            },
        )
        .collect())
}

pub(crate) async fn close_month(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    class_id: Uuid,
    month: String,
) -> AppResult<pb::MonthSummary> {
    let class = known_class(ctx, class_id).await?;
    let target = Target::class(class.district_id, class.school_id, class.id);
    caller.require(&[Role::HomeroomTeacher, Role::Principal], &target)?;
    let first_day =
        month_start(&month).ok_or_else(|| AppError::Rejected(format!("{month} is not a month")))?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (state, version) = load_month(tx, class_id, &month).await?;
            let context = MonthContext {
                first_day,
                today: school::dates::local_today(),
            };
            let amended = match state.decide(&MonthCommand::Close, &context)?.as_slice() {
                [MonthEvent::Closed { amended }] => *amended,
                _ => return Err(anyhow::anyhow!("closing a month decides one closing").into()),
            };
            let totals = totals(tx, class_id, &month).await?;
            let event = pb::MonthClosed {
                class_id: class_id.to_string(),
                school_id: class.school_id.to_string(),
                month: month.clone(),
                totals: totals.clone(),
                closed_by: by.account_id.to_string(),
                amended,
            };
            append_month_event(
                tx,
                class_id,
                &month,
                version,
                &meta(&by, class.district_id, class.school_id),
                &event,
            )
            .await?;
            Ok(pb::MonthSummary {
                class_id: class_id.to_string(),
                school_id: class.school_id.to_string(),
                month,
                closed: true,
                totals,
            })
        })
    })
    .await
}

pub(crate) async fn reopen_month(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    class_id: Uuid,
    month: String,
    reason: String,
) -> AppResult<pb::MonthSummary> {
    let class = known_class(ctx, class_id).await?;
    caller.require(
        &[Role::Principal],
        &Target::class(class.district_id, class.school_id, class.id),
    )?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (state, version) = load_month(tx, class_id, &month).await?;
            let context = MonthContext {
                first_day: month_start(&month).unwrap_or(time::Date::MIN),
                today: school::dates::local_today(),
            };
            state.decide(&MonthCommand::Reopen, &context)?;
            let event = pb::MonthReopened {
                class_id: class_id.to_string(),
                school_id: class.school_id.to_string(),
                month: month.clone(),
                reason,
                reopened_by: by.account_id.to_string(),
            };
            append_month_event(
                tx,
                class_id,
                &month,
                version,
                &meta(&by, class.district_id, class.school_id),
                &event,
            )
            .await?;
            let totals = totals(tx, class_id, &month).await?;
            Ok(pb::MonthSummary {
                class_id: class_id.to_string(),
                school_id: class.school_id.to_string(),
                month,
                closed: false,
                totals,
            })
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_written_year_dash_month() {
        assert_eq!(
            dates::month_of(time::macros::date!(2025 - 10 - 02)),
            "2025-10"
        );
        assert_eq!(
            month_start("2025-10"),
            Some(time::macros::date!(2025 - 10 - 01))
        );
        assert_eq!(month_start("2025-13"), None);
        assert_eq!(month_start("2025-1"), None);
    }
}

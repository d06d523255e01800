//! Leave requests (xin phép): a guardian asks, the homeroom teacher or principal
//! decides, and an approved leave excuses the sessions it covers: pre-filled in
//! roll calls still to be taken, corrected in those already taken. A request's own
//! rules are in `rules.rs`.

use kernel::access_log;
use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{Aggregate as _, EventMeta, ExpectedVersion, RequestKey, load};
use kernel::write_model::append_and_project;
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::{LeaveStatus, Session};
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::Ctx;
use crate::contract;
use crate::directory::{self, ClassRow};
use crate::roll_calls::{RollCallKey, commands};
use crate::write_model::{AttendanceTables, kept, leave_status, leave_status_text};

mod rules;

use rules::{Leave, LeaveCommand, LeaveEvent};

pub(crate) struct NewLeave {
    pub(crate) student_id: Uuid,
    pub(crate) from: Date,
    pub(crate) to: Date,
    pub(crate) sessions: Vec<Session>,
    pub(crate) reason: String,
}

#[derive(sqlx::FromRow)]
struct LeaveRow {
    id: Uuid,
    student_id: Uuid,
    class_id: Uuid,
    school_id: Uuid,
    district_id: Uuid,
    from_date: Date,
    to_date: Date,
    sessions: Vec<i16>,
    reason: String,
    status: String,
    requested_by: Uuid,
    decided_by: Option<Uuid>,
    comment: String,
}

const LEAVE_COLUMNS: &str = "id, student_id, class_id, school_id, district_id, from_date, to_date, sessions, reason, status, requested_by, decided_by, comment";

impl From<LeaveRow> for pb::LeaveRequest {
    fn from(row: LeaveRow) -> Self {
        pb::LeaveRequest {
            id: row.id.to_string(),
            student_id: row.student_id.to_string(),
            class_id: row.class_id.to_string(),
            school_id: row.school_id.to_string(),
            from_date: row.from_date.to_string(),
            to_date: row.to_date.to_string(),
            sessions: row.sessions.iter().map(|s| i32::from(*s)).collect(),
            reason: row.reason,
            status: leave_status(&row.status) as i32,
            requested_by: row.requested_by.to_string(),
            decided_by: row.decided_by.map(|id| id.to_string()).unwrap_or_default(),
            comment: row.comment,
        }
    }
}

async fn leave(conn: &mut PgConnection, leave_id: Uuid) -> AppResult<LeaveRow> {
    let sql = format!("SELECT {LEAVE_COLUMNS} FROM leaves WHERE id = $1");
    let row: Option<LeaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(leave_id)
        .fetch_optional(conn)
        .await?;
    row.ok_or(AppError::NotFound("leave request"))
}

/// The class the student is in on `date`.
async fn class_of(conn: &mut PgConnection, student_id: Uuid, date: Date) -> AppResult<ClassRow> {
    let class: Option<Uuid> = sqlx::query_scalar(
        "SELECT class_id FROM enrolment_periods WHERE student_id = $1 AND from_date <= $2 \
         AND (to_date IS NULL OR to_date > $2) LIMIT 1",
    )
    .bind(student_id)
    .bind(date)
    .fetch_optional(&mut *conn)
    .await?;
    let class = class.ok_or_else(|| {
        AppError::Rejected(format!(
            "the student is not enrolled in any class on {date}"
        ))
    })?;
    directory::class(conn, class)
        .await?
        .ok_or(AppError::NotFound("class"))
}

fn class_target(class: &ClassRow) -> Target {
    Target::class(class.district_id, class.school_id, class.id)
}

/// The event stream of one leave request.
fn stream_id(leave_id: Uuid) -> String {
    format!("leave:{leave_id}")
}

fn meta(caller: &Caller, district: Uuid, school: Uuid) -> EventMeta {
    EventMeta::for_command(Some(caller.account_id.to_string())).in_tenant(district, Some(school))
}

pub(crate) async fn request(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewLeave,
) -> AppResult<pb::LeaveRequest> {
    let class = class_of(&mut *ctx.pool.acquire().await?, new.student_id, new.from).await?;
    let target = class_target(&class);
    if !(caller.holds(&[Role::Guardian], &target.with_student(new.student_id))
        || caller.holds(&[Role::HomeroomTeacher], &target))
    {
        return Err(tonic::Status::permission_denied(
            "leave is requested by the student's guardian or homeroom teacher",
        )
        .into());
    }
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = pb::LeaveRequested {
                leave_id: id.to_string(),
                student_id: new.student_id.to_string(),
                class_id: class.id.to_string(),
                school_id: class.school_id.to_string(),
                from_date: new.from.to_string(),
                to_date: new.to.to_string(),
                sessions: new.sessions.iter().map(|s| *s as i32).collect(),
                requested_by: by.account_id.to_string(),
            };
            let stored = contract::new_event(&event)
                .map_err(anyhow::Error::from)?
                .keeping(kept::REASON, &new.reason)
                .map_err(anyhow::Error::from)?;
            let meta = meta(&by, class.district_id, class.school_id);
            append_and_project(
                tx,
                &AttendanceTables,
                &stream_id(id),
                ExpectedVersion::NoStream,
                &[stored],
                &meta,
            )
            .await?;
            Ok(leave(tx, id).await?.into())
        })
    })
    .await
}

pub(crate) async fn decide(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    leave_id: Uuid,
    approve: bool,
    comment: String,
) -> AppResult<pb::LeaveRequest> {
    let row = leave(&mut *ctx.pool.acquire().await?, leave_id).await?;
    let target = Target::class(row.district_id, row.school_id, row.class_id);
    caller.require(&[Role::HomeroomTeacher, Role::Principal], &target)?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            // Deciding one request at a time without writing yet: a transaction's id
            // is taken at its first write, and this one must take it after reading
            // the roll calls it excuses, so that it replays after them
            // (kernel/src/event_store/read.rs).
            kernel::db::lock_until_commit(tx, &stream_id(leave_id)).await?;
            let row = leave(tx, leave_id).await?;
            let stream = stream_id(leave_id);
            let (state, version) = load::<Leave>(tx, &stream)
                .await
                .map_err(anyhow::Error::from)?;
            for decided in state.decide(&LeaveCommand::Decide { approve }, &())? {
                let LeaveEvent::Decided { approved } = decided else {
                    continue;
                };
                if approved {
                    excuse_taken_roll_calls(tx, &row, &by).await?;
                }
                let event = pb::LeaveDecided {
                    leave_id: leave_id.to_string(),
                    student_id: row.student_id.to_string(),
                    class_id: row.class_id.to_string(),
                    school_id: row.school_id.to_string(),
                    approved,
                    decided_by: by.account_id.to_string(),
                };
                let stored = contract::new_event(&event)
                    .map_err(anyhow::Error::from)?
                    .keeping(kept::COMMENT, &comment)
                    .map_err(anyhow::Error::from)?;
                let meta = meta(&by, row.district_id, row.school_id);
                let expected = ExpectedVersion::from_loaded(version);
                append_and_project(tx, &AttendanceTables, &stream, expected, &[stored], &meta)
                    .await?;
            }
            Ok(leave(tx, leave_id).await?.into())
        })
    })
    .await
}

/// Excuses the student in every roll call of the leave already taken (the roll
/// call's rules decide each one: `roll_calls/rules.rs`).
async fn excuse_taken_roll_calls(
    tx: &mut PgConnection,
    row: &LeaveRow,
    by: &Caller,
) -> AppResult<()> {
    let class = directory::class(tx, row.class_id)
        .await?
        .ok_or(AppError::NotFound("class"))?;
    let taken: Vec<(Date, i16)> = sqlx::query_as(
        "SELECT date, session FROM roll_calls \
         WHERE class_id = $1 AND date BETWEEN $2 AND $3 AND session = ANY($4) ORDER BY date, session",
    )
    .bind(row.class_id)
    .bind(row.from_date)
    .bind(row.to_date)
    .bind(&row.sessions)
    .fetch_all(&mut *tx)
    .await?;
    for (date, session) in taken {
        let key = RollCallKey {
            class_id: row.class_id,
            date,
            session: Session::try_from(i32::from(session)).unwrap_or(Session::Unspecified),
        };
        commands::excuse(tx, &class, key, row.student_id, row.id, by.account_id).await?;
    }
    Ok(())
}

/// The leave requests of `student` in `classes` (made by `requested_by` only, when
/// given), oldest first.
pub(crate) async fn of_student(
    conn: &mut PgConnection,
    student: Uuid,
    classes: &[Uuid],
    requested_by: Option<Uuid>,
) -> AppResult<Vec<pb::LeaveRequest>> {
    let sql = format!(
        "SELECT {LEAVE_COLUMNS} FROM leaves WHERE student_id = $1 AND class_id = ANY($2) \
         AND ($3::uuid IS NULL OR requested_by = $3) ORDER BY created_at"
    );
    let rows: Vec<LeaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(student)
        .bind(classes)
        .bind(requested_by)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(pb::LeaveRequest::from).collect())
}

pub(crate) enum Whose {
    Class(Uuid),
    Student(Uuid),
}

pub(crate) async fn list(
    ctx: &Ctx,
    caller: &Caller,
    whose: Whose,
    status: LeaveStatus,
) -> AppResult<Vec<pb::LeaveRequest>> {
    let mut conn = ctx.pool.acquire().await?;
    let staff = [
        Role::HomeroomTeacher,
        Role::Principal,
        Role::VicePrincipal,
        Role::ItOfficer,
    ];
    let (filter_sql, id, only_own) = match whose {
        Whose::Class(class_id) => {
            let class = directory::class(&mut conn, class_id)
                .await?
                .ok_or(AppError::NotFound("class"))?;
            caller.require(&staff, &class_target(&class))?;
            ("class_id = $1", class_id, false)
        }
        Whose::Student(student_id) => {
            let class = class_of(&mut conn, student_id, school::dates::local_today()).await?;
            let target = class_target(&class);
            let as_guardian = caller.holds(&[Role::Guardian], &target.with_student(student_id));
            if !caller.holds(&staff, &target) && !as_guardian {
                return Err(tonic::Status::permission_denied(
                    "you may not see this student's leave requests",
                )
                .into());
            }
            (
                "student_id = $1",
                student_id,
                !caller.holds(&staff, &target),
            )
        }
    };
    let sql = format!(
        "SELECT {LEAVE_COLUMNS} FROM leaves WHERE {filter_sql} AND ($2::text IS NULL OR status = $2) \
         AND (NOT $3 OR requested_by = $4) ORDER BY created_at DESC"
    );
    let rows: Vec<LeaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(leave_status_text(status))
        .bind(only_own)
        .bind(caller.account_id)
        .fetch_all(&mut *conn)
        .await?;
    let read: Vec<(Uuid, Target)> = rows
        .iter()
        .map(|row| {
            let class = Target::class(row.district_id, row.school_id, row.class_id);
            (row.student_id, class.with_student(row.student_id))
        })
        .collect();
    access_log::record(&mut conn, caller, "attendance.ListLeaveRequests", &read).await?;
    Ok(rows.into_iter().map(pb::LeaveRequest::from).collect())
}

//! Attendance's tables as inline projections of its own events: a command writes
//! its rows only through [`AttendanceTables`] (kernel/src/write_model.rs), and a
//! rebuild runs every stored event through it again. The directory tables come
//! from identity's events instead (`directory.rs`).

use kernel::auth::{Caller, Role, Target};
use kernel::dates;
use kernel::error::AppResult;
use kernel::write_model::{self, Fact, InlineProjection};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::LeaveStatus;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::Ctx;

/// Fields the stored events keep beyond their published form.
pub(crate) mod kept {
    /// MarkCorrected: the roll call's version after the command that corrected it.
    pub(crate) const ROLL_CALL_VERSION: &str = "roll_call_version";
    /// LeaveRequested: the guardian's reason.
    pub(crate) const REASON: &str = "reason";
    /// LeaveDecided: the decider's comment.
    pub(crate) const COMMENT: &str = "comment";
}

pub(crate) struct AttendanceTables;

/// Operators: the write model projected again from the event store.
pub(crate) async fn rebuild(ctx: &Ctx, caller: &Caller) -> AppResult<pb::WriteModelRebuilt> {
    caller.require(&[Role::Operator], &Target::platform())?;
    let events = write_model::rebuild(&ctx.pool, &AttendanceTables).await?;
    tracing::info!(events, "attendance write model rebuilt");
    Ok(pb::WriteModelRebuilt {
        events,
        tables: AttendanceTables::TABLES
            .iter()
            .map(|t| t.to_string())
            .collect(),
    })
}

impl InlineProjection for AttendanceTables {
    const TABLES: &'static [&'static str] =
        &["marks", "roll_calls", "months", "closures", "leaves"];

    async fn apply(&self, conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
        match fact.event_type {
            "RollCallSubmitted" => roll_call_submitted(conn, fact).await,
            "MarkCorrected" => mark_corrected(conn, fact).await,
            "SchoolClosureDeclared" => closure_declared(conn, fact).await,
            "MonthClosed" => month_closed(conn, fact).await,
            "MonthReopened" => month_reopened(conn, fact).await,
            "LeaveRequested" => leave_requested(conn, fact).await,
            "LeaveDecided" => leave_decided(conn, fact).await,
            _ => Ok(()),
        }
    }
}

/// The roll call, every mark, and its class's month (open) if new.
async fn roll_call_submitted(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::RollCallSubmitted = fact.decode()?;
    let date = date(&event.date)?;
    let mut students = Vec::with_capacity(event.marks.len());
    let mut leaves = Vec::with_capacity(event.marks.len());
    for mark in &event.marks {
        students.push(mark.student_id.parse::<Uuid>()?);
        leaves.push(school::enrolments::optional_uuid(
            "leave_id",
            &mark.leave_id,
        )?);
    }
    let statuses: Vec<i16> = event.marks.iter().map(|m| m.status as i16).collect();
    let notes: Vec<&str> = event.marks.iter().map(|m| m.note.as_str()).collect();
    sqlx::query(
        "WITH roll_call AS ( \
             INSERT INTO roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_at, submitted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)), \
         month AS ( \
             INSERT INTO months (class_id, month, closed, updated_at) VALUES ($1, $13, false, $14) \
             ON CONFLICT (class_id, month) DO NOTHING) \
         INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) \
         SELECT $1, $2, $3, m.student_id, m.status, m.note, m.leave_id \
         FROM UNNEST($9::uuid[], $10::smallint[], $11::text[], $12::uuid[]) AS m(student_id, status, note, leave_id)",
    )
    .bind(event.class_id.parse::<Uuid>()?)
    .bind(date)
    .bind(event.session as i16)
    .bind(event.school_id.parse::<Uuid>()?)
    .bind(district(fact)?)
    .bind(timestamp(&event.taken_at)?)
    .bind(timestamp(&event.submitted_at)?)
    .bind(event.submitted_by.parse::<Uuid>()?)
    .bind(&students)
    .bind(&statuses)
    .bind(&notes)
    .bind(&leaves)
    .bind(dates::month_of(date))
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The student's new mark, and the roll call's version after the command.
async fn mark_corrected(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::MarkCorrected = fact.decode()?;
    // Events recorded before the version was kept each came from their own command.
    let version: Option<i64> = fact.kept(kept::ROLL_CALL_VERSION)?;
    sqlx::query(
        "WITH roll_call AS ( \
             UPDATE roll_calls SET version = coalesce($8, version + 1) \
             WHERE class_id = $1 AND date = $2 AND session = $3) \
         INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (class_id, date, session, student_id) DO UPDATE SET status = $5, note = $6, leave_id = $7",
    )
    .bind(event.class_id.parse::<Uuid>()?)
    .bind(date(&event.date)?)
    .bind(event.session as i16)
    .bind(event.student_id.parse::<Uuid>()?)
    .bind(event.to as i16)
    .bind(&event.note)
    .bind(school::enrolments::optional_uuid("leave_id", &event.leave_id)?)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A closure is named by the event that declared it.
async fn closure_declared(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::SchoolClosureDeclared = fact.decode()?;
    sqlx::query(
        "INSERT INTO closures (id, school_id, from_date, to_date, reason, declared_by, declared_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(fact.event_id)
    .bind(event.school_id.parse::<Uuid>()?)
    .bind(date(&event.from_date)?)
    .bind(date(&event.to_date)?)
    .bind(&event.reason)
    .bind(event.declared_by.parse::<Uuid>()?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn month_closed(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::MonthClosed = fact.decode()?;
    sqlx::query(
        "INSERT INTO months (class_id, month, closed, times_closed, updated_at) VALUES ($1, $2, true, 1, $3) \
         ON CONFLICT (class_id, month) DO UPDATE SET closed = true, times_closed = months.times_closed + 1, updated_at = $3",
    )
    .bind(event.class_id.parse::<Uuid>()?)
    .bind(&event.month)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn month_reopened(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::MonthReopened = fact.decode()?;
    sqlx::query(
        "UPDATE months SET closed = false, updated_at = $3 WHERE class_id = $1 AND month = $2",
    )
    .bind(event.class_id.parse::<Uuid>()?)
    .bind(&event.month)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn leave_requested(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::LeaveRequested = fact.decode()?;
    let sessions: Vec<i16> = event.sessions.iter().map(|s| *s as i16).collect();
    let reason: String = fact.required(kept::REASON)?;
    sqlx::query(
        "INSERT INTO leaves (id, student_id, class_id, school_id, district_id, from_date, to_date, sessions, reason, status, requested_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(event.leave_id.parse::<Uuid>()?)
    .bind(event.student_id.parse::<Uuid>()?)
    .bind(event.class_id.parse::<Uuid>()?)
    .bind(event.school_id.parse::<Uuid>()?)
    .bind(district(fact)?)
    .bind(date(&event.from_date)?)
    .bind(date(&event.to_date)?)
    .bind(&sessions)
    .bind(reason)
    .bind(leave_status_text(LeaveStatus::Pending))
    .bind(event.requested_by.parse::<Uuid>()?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn leave_decided(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::LeaveDecided = fact.decode()?;
    let comment: String = fact.required(kept::COMMENT)?;
    let status = leave_status_text(if event.approved {
        LeaveStatus::Approved
    } else {
        LeaveStatus::Rejected
    });
    sqlx::query("UPDATE leaves SET status = $2, decided_by = $3, comment = $4 WHERE id = $1")
        .bind(event.leave_id.parse::<Uuid>()?)
        .bind(status)
        .bind(event.decided_by.parse::<Uuid>()?)
        .bind(comment)
        .execute(conn)
        .await?;
    Ok(())
}

fn district(fact: &Fact<'_>) -> anyhow::Result<Uuid> {
    fact.district_id
        .ok_or_else(|| anyhow::anyhow!("{} {} has no district", fact.event_type, fact.event_id))
}

fn date(text: &str) -> anyhow::Result<Date> {
    dates::parse(text).ok_or_else(|| anyhow::anyhow!("{text:?} is not a date"))
}

fn timestamp(text: &str) -> anyhow::Result<OffsetDateTime> {
    Ok(OffsetDateTime::parse(
        text,
        &time::format_description::well_known::Rfc3339,
    )?)
}

/// A leave's status as the `leaves` table writes it.
pub(crate) fn leave_status_text(status: LeaveStatus) -> Option<&'static str> {
    match status {
        LeaveStatus::Pending => Some("pending"),
        LeaveStatus::Approved => Some("approved"),
        LeaveStatus::Rejected => Some("rejected"),
        LeaveStatus::Unspecified => None,
    }
}

/// A leave's status as the `leaves` table holds it.
pub(crate) fn leave_status(text: &str) -> LeaveStatus {
    match text {
        "approved" => LeaveStatus::Approved,
        "rejected" => LeaveStatus::Rejected,
        _ => LeaveStatus::Pending,
    }
}

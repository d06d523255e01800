//! Writing what a roll call's rules decided: the facts appended to the roll call's
//! stream, and the same facts in the tables the reads answer from, in the command's
//! transaction. This is the one place a roll call's events and rows are written.

use kernel::error::AppResult;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, append};
use lienlac_proto::attendance::v1 as pb;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules::RollCallEvent;
use super::{RollCallKey, StudentMark};
use crate::directory::ClassRow;

/// Who decided, and when the roll call was taken (a phone offline sends it later).
pub(crate) struct Recorded {
    pub(crate) by: Uuid,
    pub(crate) taken_at: Option<OffsetDateTime>,
}

/// Appends `events` after `version` and writes them into `roll_calls` and `marks`.
pub(crate) async fn record(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    events: &[RollCallEvent],
    version: i64,
    recorded: &Recorded,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Postgres keeps microseconds: the answer says what a later read will say.
    let now = to_micros(OffsetDateTime::now_utc());
    let (date, school) = (key.date.to_string(), class.school_id.to_string());
    let mut published = Vec::with_capacity(events.len());
    let mut corrected = false;
    for event in events {
        match event {
            RollCallEvent::Submitted { marks } => {
                let taken_at = to_micros(recorded.taken_at.unwrap_or(now));
                insert_roll_call(tx, class, key, marks, taken_at, now, recorded.by).await?;
                published.push(published_form(&pb::RollCallSubmitted {
                    class_id: key.class_id.to_string(),
                    school_id: school.clone(),
                    date: date.clone(),
                    session: key.session as i32,
                    marks: marks.iter().map(StudentMark::to_proto).collect(),
                    taken_at: kernel::dates::rfc3339(taken_at),
                    submitted_at: kernel::dates::rfc3339(now),
                    submitted_by: recorded.by.to_string(),
                })?);
            }
            RollCallEvent::AbsenceRecorded { mark } => {
                published.push(published_form(&pb::StudentAbsenceRecorded {
                    student_id: mark.student_id.to_string(),
                    class_id: key.class_id.to_string(),
                    school_id: school.clone(),
                    date: date.clone(),
                    session: key.session as i32,
                    status: mark.status as i32,
                    note: mark.note.clone(),
                })?);
            }
            RollCallEvent::MarkCorrected { from, to, reason } => {
                upsert_mark(tx, key, to).await?;
                corrected = true;
                published.push(published_form(&pb::MarkCorrected {
                    student_id: to.student_id.to_string(),
                    class_id: key.class_id.to_string(),
                    school_id: school.clone(),
                    date: date.clone(),
                    session: key.session as i32,
                    from: *from as i32,
                    to: to.status as i32,
                    reason: reason.clone(),
                    corrected_by: recorded.by.to_string(),
                    note: to.note.clone(),
                    leave_id: to.leave_id.map(|id| id.to_string()).unwrap_or_default(),
                })?);
            }
        }
    }
    if corrected {
        sqlx::query("UPDATE roll_calls SET version = version + 1 WHERE class_id = $1 AND date = $2 AND session = $3")
            .bind(key.class_id)
            .bind(key.date)
            .bind(key.session as i16)
            .execute(&mut *tx)
            .await?;
    }
    let meta = EventMeta::for_command(Some(recorded.by.to_string()))
        .in_tenant(class.district_id, Some(class.school_id));
    append(
        tx,
        &key.stream_id(),
        ExpectedVersion::from_loaded(version),
        &published,
        &meta,
    )
    .await?;
    Ok(())
}

/// The roll call and every mark, in one statement.
async fn insert_roll_call(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    marks: &[StudentMark],
    taken_at: OffsetDateTime,
    submitted_at: OffsetDateTime,
    by: Uuid,
) -> AppResult<()> {
    let students: Vec<Uuid> = marks.iter().map(|m| m.student_id).collect();
    let statuses: Vec<i16> = marks.iter().map(|m| m.status as i16).collect();
    let notes: Vec<&str> = marks.iter().map(|m| m.note.as_str()).collect();
    let leaves: Vec<Option<Uuid>> = marks.iter().map(|m| m.leave_id).collect();
    sqlx::query(
        "WITH roll_call AS ( \
             INSERT INTO roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_at, submitted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)) \
         INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) \
         SELECT $1, $2, $3, m.student_id, m.status, m.note, m.leave_id \
         FROM UNNEST($9::uuid[], $10::smallint[], $11::text[], $12::uuid[]) AS m(student_id, status, note, leave_id)",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .bind(class.school_id)
    .bind(class.district_id)
    .bind(taken_at)
    .bind(submitted_at)
    .bind(by)
    .bind(&students)
    .bind(&statuses)
    .bind(&notes)
    .bind(&leaves)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_mark(
    tx: &mut PgConnection,
    key: &RollCallKey,
    mark: &StudentMark,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (class_id, date, session, student_id) DO UPDATE SET status = $5, note = $6, leave_id = $7",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .bind(mark.student_id)
    .bind(mark.status as i16)
    .bind(&mark.note)
    .bind(mark.leave_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn published_form<M>(message: &M) -> AppResult<NewEvent>
where
    M: prost::Message + prost::Name + serde::Serialize,
{
    Ok(NewEvent::from_message(message).map_err(anyhow::Error::from)?)
}

fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

//! Writing what a roll call's rules decided: the facts appended to the roll call's
//! stream, projected into the tables the reads answer from in the command's
//! transaction. This is the one place a roll call's events are written.

use kernel::error::AppResult;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent};
use kernel::write_model::append_and_project;
use lienlac_proto::attendance::v1 as pb;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules::RollCallEvent;
use super::{RollCallKey, StudentMark};
use crate::contract::{self, AttendanceEvent};
use crate::directory::ClassRow;
use crate::write_model::{AttendanceTables, kept};

/// Who decided, and when the roll call was taken (a phone offline sends it later).
pub(crate) struct Recorded {
    pub(crate) by: Uuid,
    pub(crate) taken_at: Option<OffsetDateTime>,
}

/// Appends `events` after `version`; the write model projects them into
/// `roll_calls` and `marks` (`write_model.rs`). A first submission answers with the
/// roll call as the tables now hold it, without reading it back.
pub(crate) async fn record(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    events: &[RollCallEvent],
    version: i64,
    recorded: &Recorded,
) -> AppResult<Option<pb::RollCall>> {
    if events.is_empty() {
        return Ok(None);
    }
    // Postgres keeps microseconds: the answer says what a later read will say.
    let now = to_micros(OffsetDateTime::now_utc());
    let (date, school) = (key.date.to_string(), class.school_id.to_string());
    let corrected_version = match events
        .iter()
        .any(|e| matches!(e, RollCallEvent::MarkCorrected { .. }))
    {
        true => Some(roll_call_version(tx, key).await? + 1),
        false => None,
    };
    let mut stored = Vec::with_capacity(events.len());
    let mut taken = None;
    for event in events {
        stored.push(match event {
            RollCallEvent::Submitted { marks } => {
                let submitted = pb::RollCallSubmitted {
                    class_id: key.class_id.to_string(),
                    school_id: school.clone(),
                    date: date.clone(),
                    session: key.session as i32,
                    marks: marks.iter().map(StudentMark::to_proto).collect(),
                    taken_at: kernel::dates::rfc3339(to_micros(recorded.taken_at.unwrap_or(now))),
                    submitted_at: kernel::dates::rfc3339(now),
                    submitted_by: recorded.by.to_string(),
                };
                let event = published_form(&submitted)?;
                taken = Some(submitted);
                event
            }
            RollCallEvent::AbsenceRecorded { mark } => {
                published_form(&pb::StudentAbsenceRecorded {
                    student_id: mark.student_id.to_string(),
                    class_id: key.class_id.to_string(),
                    school_id: school.clone(),
                    date: date.clone(),
                    session: key.session as i32,
                    status: mark.status as i32,
                    note: mark.note.clone(),
                })?
            }
            RollCallEvent::MarkCorrected { from, to, reason } => {
                published_form(&pb::MarkCorrected {
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
                })?
                .keeping(kept::ROLL_CALL_VERSION, corrected_version)
                .map_err(anyhow::Error::from)?
            }
        });
    }
    let meta = EventMeta::for_command(Some(recorded.by.to_string()))
        .in_tenant(class.district_id, Some(class.school_id));
    append_and_project(
        tx,
        &AttendanceTables,
        &key.stream_id(),
        ExpectedVersion::from_loaded(version),
        &stored,
        &meta,
    )
    .await?;
    Ok(taken.map(|submitted| pb::RollCall {
        class_id: submitted.class_id,
        school_id: submitted.school_id,
        date: submitted.date,
        session: submitted.session,
        marks: submitted.marks,
        taken_at: submitted.taken_at,
        submitted_at: submitted.submitted_at,
        submitted_by: submitted.submitted_by,
        version: 1,
    }))
}

/// The version of a roll call already taken (each command that changes it adds one).
async fn roll_call_version(tx: &mut PgConnection, key: &RollCallKey) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT version FROM roll_calls WHERE class_id = $1 AND date = $2 AND session = $3",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .fetch_one(&mut *tx)
    .await?)
}

fn published_form<M: AttendanceEvent>(message: &M) -> AppResult<NewEvent> {
    Ok(contract::new_event(message).map_err(anyhow::Error::from)?)
}

/// In UTC, to the microsecond, as Postgres gives it back.
fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

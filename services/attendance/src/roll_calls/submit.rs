//! Submitting a roll call. The first submission records every enrolled student's
//! mark (students not listed are present) and publishes `RollCallSubmitted` plus a
//! `StudentAbsenceRecorded` per absent student; a later submission of the same roll
//! call is a correction of what changed, one `MarkCorrected` per student.

use std::collections::HashMap;

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::RequestKey;
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, append, stream_version};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RollCallKey, StudentMark, is_absence, read};
use crate::Ctx;
use crate::directory::{self, ClassRow};
use kernel::dates;

pub(crate) struct Submission {
    pub(crate) key: RollCallKey,
    pub(crate) marks: Vec<StudentMark>,
    pub(crate) taken_at: Option<OffsetDateTime>,
}

/// May take a class's roll call: its homeroom teacher, or the school's leaders and
/// IT officer.
pub(crate) fn require_roll_call_taker(caller: &Caller, class: &ClassRow) -> AppResult<()> {
    let target = Target::class(class.district_id, class.school_id, class.id);
    if caller.holds(&[Role::HomeroomTeacher], &target)
        || caller.holds(
            &[Role::Principal, Role::VicePrincipal, Role::ItOfficer],
            &target,
        )
    {
        Ok(())
    } else {
        Err(tonic::Status::permission_denied(
            "only the class's homeroom teacher or the school's principal, vice principal or IT officer takes its roll call",
        )
        .into())
    }
}

/// Whether the caller may change marks of `date` that were already taken: the
/// principal while the month is open, the homeroom teacher within the window.
pub(crate) fn may_correct(
    caller: &Caller,
    class: &ClassRow,
    date: time::Date,
    window: std::time::Duration,
) -> bool {
    let target = Target::class(class.district_id, class.school_id, class.id);
    let window_days = (window.as_secs() / 86_400) as i64;
    let within_window = date >= school::dates::local_today() - time::Duration::days(window_days);
    caller.holds(&[Role::Principal], &target)
        || (within_window
            && caller.holds(
                &[Role::HomeroomTeacher, Role::VicePrincipal, Role::ItOfficer],
                &target,
            ))
}

/// The class as attendance knows it. A class's school and district never change,
/// so a class once found is kept in memory.
pub(crate) async fn known_class(ctx: &Ctx, class_id: Uuid) -> AppResult<ClassRow> {
    if let Some(class) = ctx
        .classes
        .read()
        .ok()
        .and_then(|known| known.get(&class_id).cloned())
    {
        return Ok(class);
    }
    let mut conn = ctx.pool.acquire().await?;
    let class = directory::class(&mut conn, class_id)
        .await?
        .ok_or(AppError::NotFound("class"))?;
    if let Ok(mut known) = ctx.classes.write() {
        known.insert(class_id, class.clone());
    }
    Ok(class)
}

pub(crate) async fn submit(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    submission: Submission,
) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, submission.key.class_id).await?;
    require_roll_call_taker(caller, &class)?;
    let by = caller.account_id;
    let by_caller = caller.clone();
    let window = ctx.settings.correction_window;
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let key = submission.key;
            crate::calendar::ensure_open(tx, &class, key.date).await?;
            // Each enrolled student, with the approved leave covering this roll call.
            let roster = directory::roster(tx, &key).await?;
            if let Some(stranger) = submission
                .marks
                .iter()
                .find(|m| roster.binary_search_by_key(&m.student_id, |(s, _)| *s).is_err())
            {
                return Err(AppError::Rejected(format!(
                    "student {} is not enrolled in this class on {}",
                    stranger.student_id, key.date
                )));
            }
            let listed: HashMap<Uuid, &StudentMark> =
                submission.marks.iter().map(|m| (m.student_id, m)).collect();
            let marks: Vec<StudentMark> = roster
                .iter()
                .map(|(student, leave)| match (listed.get(student), leave) {
                    (Some(mark), _) => (*mark).clone(),
                    (None, Some(leave)) => crate::leaves::excused_by(*student, *leave),
                    (None, None) => StudentMark {
                        student_id: *student,
                        status: AttendanceStatus::Present,
                        note: String::new(),
                        leave_id: None,
                    },
                })
                .collect();
            let meta = EventMeta::for_command(Some(by.to_string()))
                .in_tenant(class.district_id, Some(class.school_id));
            if let Some(roll_call) =
                first_submission(tx, &class, &key, &marks, submission.taken_at, by, &meta).await?
            {
                return Ok(roll_call);
            }
            // Taken already: this submission corrects it.
            let current = read::marks_for_update(tx, &key)
                .await?
                .ok_or(AppError::NotFound("roll call"))?;
            if !may_correct(&by_caller, &class, key.date, window) {
                return Err(tonic::Status::permission_denied(
                    "this roll call was taken more than the correction window ago; ask the principal to correct it",
                )
                .into());
            }
            correction(tx, &class, &key, &marks, &current, by, &meta).await?;
            read::roll_call(tx, &key)
                .await?
                .ok_or(AppError::NotFound("roll call"))
        })
    })
    .await
}

/// Records the roll call if nobody has yet, in one statement with its marks, and
/// appends its events; `None` when it was taken already.
async fn first_submission(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    marks: &[StudentMark],
    taken_at: Option<OffsetDateTime>,
    by: Uuid,
    meta: &EventMeta,
) -> AppResult<Option<pb::RollCall>> {
    // Postgres keeps microseconds: the answer says what a later read will say.
    let now = to_micros(OffsetDateTime::now_utc());
    let taken_at = to_micros(taken_at.unwrap_or(now));
    let students: Vec<Uuid> = marks.iter().map(|m| m.student_id).collect();
    let statuses: Vec<i16> = marks.iter().map(|m| m.status as i16).collect();
    let notes: Vec<&str> = marks.iter().map(|m| m.note.as_str()).collect();
    let leaves: Vec<Option<Uuid>> = marks.iter().map(|m| m.leave_id).collect();
    let recorded: bool = sqlx::query_scalar(
        "WITH roll_call AS ( \
             INSERT INTO roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_at, submitted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING 1), \
         student_marks AS ( \
             INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) \
             SELECT $1, $2, $3, m.student_id, m.status, m.note, m.leave_id \
             FROM UNNEST($9::uuid[], $10::smallint[], $11::text[], $12::uuid[]) AS m(student_id, status, note, leave_id) \
             WHERE EXISTS (SELECT 1 FROM roll_call) RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM roll_call)",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .bind(class.school_id)
    .bind(class.district_id)
    .bind(taken_at)
    .bind(now)
    .bind(by)
    .bind(&students)
    .bind(&statuses)
    .bind(&notes)
    .bind(&leaves)
    .fetch_one(&mut *tx)
    .await?;
    if !recorded {
        return Ok(None);
    }

    let (date, school) = (key.date.to_string(), class.school_id.to_string());
    let submitted = pb::RollCallSubmitted {
        class_id: key.class_id.to_string(),
        school_id: school.clone(),
        date: date.clone(),
        session: key.session as i32,
        marks: marks.iter().map(to_proto).collect(),
        taken_at: dates::rfc3339(taken_at),
        submitted_at: dates::rfc3339(now),
        submitted_by: by.to_string(),
    };
    let mut events = vec![NewEvent::from_message(&submitted).map_err(anyhow::Error::from)?];
    for mark in marks.iter().filter(|m| is_absence(m.status)) {
        let absence = pb::StudentAbsenceRecorded {
            student_id: mark.student_id.to_string(),
            class_id: key.class_id.to_string(),
            school_id: school.clone(),
            date: date.clone(),
            session: key.session as i32,
            status: mark.status as i32,
            note: mark.note.clone(),
        };
        events.push(NewEvent::from_message(&absence).map_err(anyhow::Error::from)?);
    }
    append(
        tx,
        &key.stream_id(),
        ExpectedVersion::NoStream,
        &events,
        meta,
    )
    .await?;
    Ok(Some(pb::RollCall {
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

async fn correction(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    marks: &[StudentMark],
    current: &[StudentMark],
    by: Uuid,
    meta: &EventMeta,
) -> AppResult<()> {
    let before: HashMap<Uuid, &StudentMark> = current.iter().map(|m| (m.student_id, m)).collect();
    let changed: Vec<(&StudentMark, AttendanceStatus)> = marks
        .iter()
        .filter_map(|mark| {
            let from = before
                .get(&mark.student_id)
                .map_or(AttendanceStatus::Present, |m| m.status);
            let note_changed = before
                .get(&mark.student_id)
                .is_some_and(|m| m.note != mark.note);
            (from != mark.status || note_changed).then_some((mark, from))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let mut events = Vec::with_capacity(changed.len());
    for (mark, from) in &changed {
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
        let corrected = pb::MarkCorrected {
            student_id: mark.student_id.to_string(),
            class_id: key.class_id.to_string(),
            school_id: class.school_id.to_string(),
            date: key.date.to_string(),
            session: key.session as i32,
            from: *from as i32,
            to: mark.status as i32,
            reason: "resubmitted".to_owned(),
            corrected_by: by.to_string(),
            note: mark.note.clone(),
        };
        events.push(NewEvent::from_message(&corrected).map_err(anyhow::Error::from)?);
    }
    sqlx::query("UPDATE roll_calls SET version = version + 1 WHERE class_id = $1 AND date = $2 AND session = $3")
        .bind(key.class_id)
        .bind(key.date)
        .bind(key.session as i16)
        .execute(&mut *tx)
        .await?;
    let version = stream_version(tx, &key.stream_id()).await?;
    append(
        tx,
        &key.stream_id(),
        ExpectedVersion::from_loaded(version),
        &events,
        meta,
    )
    .await?;
    Ok(())
}

fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

pub(crate) fn to_proto(mark: &StudentMark) -> pb::Mark {
    pb::Mark {
        student_id: mark.student_id.to_string(),
        status: mark.status as i32,
        note: mark.note.clone(),
        leave_id: mark.leave_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

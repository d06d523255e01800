//! Submitting a roll call. The first submission records every enrolled student's
//! mark (students not listed are present) and publishes `RollCallSubmitted` plus a
//! `StudentAbsenceRecorded` per absent student; a later submission of the same roll
//! call is a correction of what changed, one `MarkCorrected` per student.

use std::collections::HashMap;

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, append, stream_version};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RollCallKey, StudentMark, is_absence, read};
use crate::Ctx;
use crate::dates;
use crate::directory::{self, ClassRow};

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
    let within_window = date >= dates::local_today() - time::Duration::days(window_days);
    caller.holds(&[Role::Principal], &target)
        || (within_window
            && caller.holds(
                &[Role::HomeroomTeacher, Role::VicePrincipal, Role::ItOfficer],
                &target,
            ))
}

pub(crate) async fn known_class(ctx: &Ctx, class_id: Uuid) -> AppResult<ClassRow> {
    let mut conn = ctx.pool.acquire().await?;
    directory::class(&mut conn, class_id)
        .await?
        .ok_or(AppError::NotFound("class"))
}

pub(crate) async fn submit(
    ctx: &Ctx,
    caller: &Caller,
    request_id: Uuid,
    submission: Submission,
) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, submission.key.class_id).await?;
    require_roll_call_taker(caller, &class)?;
    let by = caller.account_id;
    let by_caller = caller.clone();
    let window = ctx.settings.correction_window;
    idempotent(&ctx.pool, request_id, "SubmitRollCall", move |tx| {
        Box::pin(async move {
            let key = submission.key;
            crate::calendar::ensure_open(tx, &class, key.date).await?;
            let enrolled = directory::enrolled_on(tx, key.class_id, key.date).await?;
            if let Some(stranger) = submission
                .marks
                .iter()
                .find(|m| enrolled.binary_search(&m.student_id).is_err())
            {
                return Err(AppError::Rejected(format!(
                    "student {} is not enrolled in this class on {}",
                    stranger.student_id, key.date
                )));
            }
            let listed: HashMap<Uuid, &StudentMark> =
                submission.marks.iter().map(|m| (m.student_id, m)).collect();
            let on_leave = crate::leaves::approved_on(tx, &key).await?;
            let marks: Vec<StudentMark> = enrolled
                .iter()
                .map(|student| match (listed.get(student), on_leave.get(student)) {
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
            let current = read::marks_for_update(tx, &key).await?;
            if current.is_some() && !may_correct(&by_caller, &class, key.date, window) {
                return Err(tonic::Status::permission_denied(
                    "this roll call was taken more than the correction window ago; ask the principal to correct it",
                )
                .into());
            }
            match current {
                None => {
                    first_submission(tx, &class, &key, &marks, submission.taken_at, by, &meta)
                        .await?
                }
                Some(current) => correction(tx, &class, &key, &marks, &current, by, &meta).await?,
            }
            read::roll_call(tx, &key)
                .await?
                .ok_or(AppError::NotFound("roll call"))
        })
    })
    .await
}

async fn first_submission(
    tx: &mut PgConnection,
    class: &ClassRow,
    key: &RollCallKey,
    marks: &[StudentMark],
    taken_at: Option<OffsetDateTime>,
    by: Uuid,
    meta: &EventMeta,
) -> AppResult<()> {
    let now = OffsetDateTime::now_utc();
    let taken_at = taken_at.unwrap_or(now);
    let inserted = sqlx::query(
        "INSERT INTO roll_calls (class_id, date, session, school_id, district_id, taken_at, submitted_at, submitted_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .bind(class.school_id)
    .bind(class.district_id)
    .bind(taken_at)
    .bind(now)
    .bind(by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::Status(tonic::Status::aborted(
            "this roll call was submitted by someone else at the same moment; submit again to correct it",
        )));
    }
    let students: Vec<Uuid> = marks.iter().map(|m| m.student_id).collect();
    let statuses: Vec<i16> = marks.iter().map(|m| m.status as i16).collect();
    let notes: Vec<&str> = marks.iter().map(|m| m.note.as_str()).collect();
    let leaves: Vec<Option<Uuid>> = marks.iter().map(|m| m.leave_id).collect();
    sqlx::query(
        "INSERT INTO marks (class_id, date, session, student_id, status, note, leave_id) \
         SELECT $1, $2, $3, m.student_id, m.status, m.note, m.leave_id \
         FROM UNNEST($4::uuid[], $5::smallint[], $6::text[], $7::uuid[]) AS m(student_id, status, note, leave_id)",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .bind(&students)
    .bind(&statuses)
    .bind(&notes)
    .bind(&leaves)
    .execute(&mut *tx)
    .await?;

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
    Ok(())
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

pub(crate) fn to_proto(mark: &StudentMark) -> pb::Mark {
    pb::Mark {
        student_id: mark.student_id.to_string(),
        status: mark.status as i32,
        note: mark.note.clone(),
        leave_id: mark.leave_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

//! Reading roll calls: staff of the school see every mark; a guardian sees only
//! their own children's.

use kernel::access_log;
use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus;
use school::roles::SCHOOL_COLLEAGUES;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{RollCallKey, StudentMark};
use crate::Ctx;
use crate::directory::known_class;
use kernel::dates;

/// A roll call's row joined with each of its marks (none for an empty class).
type RollCallRow = (
    Uuid,
    time::OffsetDateTime,
    time::OffsetDateTime,
    Uuid,
    i64,
    Option<Uuid>,
    Option<i16>,
    Option<String>,
    Option<Uuid>,
);

/// The roll call with every mark, in one round trip.
pub(crate) async fn roll_call(
    conn: &mut PgConnection,
    key: &RollCallKey,
) -> AppResult<Option<pb::RollCall>> {
    let rows: Vec<RollCallRow> = sqlx::query_as(
        "SELECT r.school_id, r.taken_at, r.submitted_at, r.submitted_by, r.version, \
                m.student_id, m.status, m.note, m.leave_id \
         FROM roll_calls r LEFT JOIN marks m USING (class_id, date, session) \
         WHERE r.class_id = $1 AND r.date = $2 AND r.session = $3 ORDER BY m.student_id",
    )
    .bind(key.class_id)
    .bind(key.date)
    .bind(key.session as i16)
    .fetch_all(conn)
    .await?;
    let Some(&(school_id, taken_at, submitted_at, submitted_by, version, ..)) = rows.first() else {
        return Ok(None);
    };
    let marks = rows
        .into_iter()
        .filter_map(|(.., student_id, status, note, leave_id)| {
            Some(StudentMark {
                student_id: student_id?,
                status: AttendanceStatus::try_from(i32::from(status?))
                    .unwrap_or(AttendanceStatus::Unspecified),
                note: note.unwrap_or_default(),
                leave_id,
            })
        });
    Ok(Some(pb::RollCall {
        class_id: key.class_id.to_string(),
        school_id: school_id.to_string(),
        date: key.date.to_string(),
        session: key.session as i32,
        marks: marks.map(|mark| mark.to_proto()).collect(),
        taken_at: dates::rfc3339(taken_at),
        submitted_at: dates::rfc3339(submitted_at),
        submitted_by: submitted_by.to_string(),
        version,
    }))
}

pub(crate) async fn get(ctx: &Ctx, caller: &Caller, key: RollCallKey) -> AppResult<pb::RollCall> {
    let class = known_class(ctx, key.class_id).await?;
    let target = Target::class(class.district_id, class.school_id, class.id);
    let mut conn = ctx.pool.acquire().await?;
    let mut roll_call = roll_call(&mut conn, &key)
        .await?
        .ok_or(AppError::NotFound("roll call"))?;
    if !caller.holds(SCHOOL_COLLEAGUES, &target) {
        let children: Vec<String> = caller.guarded_students().map(|id| id.to_string()).collect();
        roll_call
            .marks
            .retain(|mark| children.contains(&mark.student_id));
        if roll_call.marks.is_empty() {
            return Err(tonic::Status::permission_denied(
                "you may read only your own children's marks",
            )
            .into());
        }
    }
    let read: Vec<(Uuid, Target)> = roll_call
        .marks
        .iter()
        .filter_map(|mark| Uuid::parse_str(&mark.student_id).ok())
        .map(|student| (student, target.with_student(student)))
        .collect();
    access_log::record(&mut conn, caller, "attendance.GetRollCall", &read).await?;
    Ok(roll_call)
}

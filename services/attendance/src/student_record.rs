//! Everything attendance holds about one student, for the copy of a child's data
//! their guardians may ask for (reporting's `ExportMyChildData`) and for the school.

use kernel::access_log;
use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::{AttendanceStatus, Session};
use school::roles::{CLASS_OVERSEERS, STUDENT_OVERSEERS};
use time::Date;
use uuid::Uuid;

use crate::Ctx;
use crate::leaves;

pub(crate) async fn export(
    ctx: &Ctx,
    caller: &Caller,
    student: Uuid,
) -> AppResult<pb::StudentRecord> {
    let mut conn = ctx.pool.acquire().await?;
    // Every class the student was ever in, most recent first.
    let classes: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.id, c.school_id, c.district_id FROM enrolment_periods p \
         JOIN classes c ON c.id = p.class_id WHERE p.student_id = $1 \
         GROUP BY c.id, c.school_id, c.district_id ORDER BY max(p.from_date) DESC",
    )
    .bind(student)
    .fetch_all(&mut *conn)
    .await?;
    // Only the classes the caller oversees the student in: a school the student
    // left does not read the next one's record.
    let covered: Vec<(Uuid, Target)> = classes
        .iter()
        .map(|(class, school, district)| {
            let target = Target::class(*district, *school, *class).with_student(student);
            (*class, target)
        })
        .filter(|(_, target)| caller.holds(STUDENT_OVERSEERS, target))
        .collect();
    let Some((_, reader_scope)) = covered.first().copied() else {
        return Err(match classes.is_empty() {
            true => AppError::NotFound("student"),
            false => tonic::Status::permission_denied(
                "only the student's guardians, homeroom teacher, school leaders and district may read this",
            )
            .into(),
        });
    };
    let class_ids: Vec<Uuid> = covered.iter().map(|(class, _)| *class).collect();
    let marks: Vec<(Uuid, Date, i16, i16, String)> = sqlx::query_as(
        "SELECT class_id, date, session, status, note FROM marks \
         WHERE class_id = ANY($1) AND student_id = $2 ORDER BY date, session",
    )
    .bind(&class_ids)
    .bind(student)
    .fetch_all(&mut *conn)
    .await?;
    // A guardian sees the leave requests they made, as in ListLeaveRequests.
    let as_staff = covered
        .iter()
        .any(|(_, target)| caller.holds(CLASS_OVERSEERS, target));
    let requested_by = (!as_staff).then_some(caller.account_id);
    let leave_requests = leaves::of_student(&mut conn, student, &class_ids, requested_by).await?;
    access_log::record(
        &mut conn,
        caller,
        "attendance.ExportStudentRecord",
        &[(student, reader_scope)],
    )
    .await?;
    Ok(pb::StudentRecord {
        student_id: student.to_string(),
        marks: marks
            .into_iter()
            .map(
                |(class, date, session, status, note)| pb::StudentRecordMark {
                    class_id: class.to_string(),
                    date: date.to_string(),
                    session: Session::try_from(i32::from(session)).unwrap_or_default() as i32,
                    status: AttendanceStatus::try_from(i32::from(status)).unwrap_or_default()
                        as i32,
                    note,
                },
            )
            .collect(),
        leave_requests,
    })
}

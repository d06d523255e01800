//! Enrolments (enrol, transfer, withdraw) and homeroom teachers.

use kernel::auth::Caller;
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{Class, Enrolment, PersonKind};
use lienlac_proto::identity::v2::{
    HomeroomTeacherAssigned, StudentEnrolled, StudentTransferred, StudentWithdrawn,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::effective_dates::effective_on;
use super::meta;
use super::read;
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppError, AppResult};
use crate::events::{class_stream, person_stream};
use crate::personal_data::{self, PersonalFields};
use crate::write_model::{emit, record};

/// The student's enrolment in a school year: (class, active, since).
async fn enrolment(
    conn: &mut PgConnection,
    student_id: Uuid,
    school_year: &str,
) -> AppResult<Option<(Uuid, bool, Option<time::Date>)>> {
    Ok(sqlx::query_as(
        "SELECT class_id, active, since FROM enrolments WHERE student_id = $1 AND school_year = $2 FOR UPDATE",
    )
    .bind(student_id)
    .bind(school_year)
    .fetch_optional(conn)
    .await?)
}

/// A move to another class of the student's school, from `effective` (today when
/// `None`).
pub(crate) struct Transfer {
    pub student_id: Uuid,
    pub to_class_id: Uuid,
    pub effective: Option<time::Date>,
}

/// A student leaving their class, from `effective` (today when `None`).
pub(crate) struct Withdrawal {
    pub student_id: Uuid,
    pub reason: String,
    pub effective: Option<time::Date>,
}

pub(crate) async fn enroll(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    student_id: Uuid,
    class_id: Uuid,
) -> AppResult<Enrolment> {
    let mut conn = ctx.pool.acquire().await?;
    let student = access::student(&mut conn, student_id).await?;
    access::living(&mut conn, student_id).await?;
    let (class, school_year) = access::class(&mut conn, class_id).await?;
    drop(conn);
    caller.require(DIRECTORY_WRITERS, &class)?;
    if student.school != class.school {
        return Err(AppError::Rejected(
            "the class belongs to another school than the student; a student is enrolled in their own school's classes".to_owned(),
        ));
    }
    let (district, school) = (class.district.unwrap_or_default(), class.school);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            match enrolment(tx, student_id, &school_year).await? {
                Some((current, true, _)) if current == class_id => {
                    return Err(AppError::AlreadyExists("the student is already enrolled in this class".to_owned()));
                }
                Some((_, true, _)) => {
                    return Err(AppError::Rejected(format!(
                        "the student is already enrolled in another class for {school_year}; transfer them instead"
                    )));
                }
                _ => {}
            }
            record_enrolment(tx, &by, district, school, student_id, class_id, school_year).await
        })
    })
    .await
}

/// Enrols a student who has no active enrolment of `school_year` in the caller's
/// transaction, and appends `StudentEnrolled`.
pub(crate) async fn record_enrolment(
    tx: &mut PgConnection,
    by: &Caller,
    district: Uuid,
    school: Option<Uuid>,
    student_id: Uuid,
    class_id: Uuid,
    school_year: String,
) -> AppResult<Enrolment> {
    let event = StudentEnrolled {
        student_id: student_id.to_string(),
        class_id: class_id.to_string(),
        school_id: school.map(|s| s.to_string()).unwrap_or_default(),
        school_year: school_year.clone(),
    };
    emit(
        tx,
        &person_stream(student_id),
        &meta(by, district, school),
        &event,
    )
    .await?;
    Ok(Enrolment {
        student_id: student_id.to_string(),
        class_id: class_id.to_string(),
        school_year,
        active: true,
    })
}

pub(crate) async fn transfer(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    transfer: Transfer,
) -> AppResult<Enrolment> {
    let Transfer {
        student_id,
        to_class_id,
        effective,
    } = transfer;
    let mut conn = ctx.pool.acquire().await?;
    let student = access::student(&mut conn, student_id).await?;
    access::living(&mut conn, student_id).await?;
    let (class, school_year) = access::class(&mut conn, to_class_id).await?;
    drop(conn);
    caller.require(DIRECTORY_WRITERS, &class)?;
    if student.school != class.school {
        return Err(AppError::Rejected(
            "a transfer moves a student between classes of their own school".to_owned(),
        ));
    }
    let (district, school) = (class.district.unwrap_or_default(), class.school);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (from, since) = match enrolment(tx, student_id, &school_year).await? {
                Some((current, true, _)) if current == to_class_id => {
                    return Err(AppError::Rejected("the student is already in this class".to_owned()));
                }
                Some((current, true, since)) => (current, since),
                _ => {
                    return Err(AppError::Rejected(format!(
                        "the student is not enrolled in any class for {school_year}; enrol them instead"
                    )));
                }
            };
            let on = effective_on(effective, school::dates::local_today(), &school_year, since)
                .map_err(AppError::Rejected)?;
            let event = StudentTransferred {
                student_id: student_id.to_string(),
                from_class_id: from.to_string(),
                to_class_id: to_class_id.to_string(),
                school_id: school.map(|s| s.to_string()).unwrap_or_default(),
                school_year: school_year.clone(),
                effective_date: on.to_string(),
            };
            emit(tx, &person_stream(student_id), &meta(&by, district, school), &event).await?;
            Ok(Enrolment {
                student_id: student_id.to_string(),
                class_id: to_class_id.to_string(),
                school_year,
                active: true,
            })
        })
    })
    .await
}

pub(crate) async fn withdraw(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    withdrawal: Withdrawal,
) -> AppResult<Enrolment> {
    let Withdrawal {
        student_id,
        reason,
        effective,
    } = withdrawal;
    let student = access::student(&mut *ctx.pool.acquire().await?, student_id).await?;
    caller.require(DIRECTORY_WRITERS, &student)?;
    let (district, school) = (student.district.unwrap_or_default(), student.school);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let current: Option<(String, Uuid, Option<time::Date>)> = sqlx::query_as(
                "SELECT school_year, class_id, since FROM enrolments WHERE student_id = $1 AND active \
                 ORDER BY school_year DESC LIMIT 1 FOR UPDATE",
            )
            .bind(student_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((school_year, class_id, since)) = current else {
                return Err(AppError::Rejected(
                    "the student is not enrolled in any class".to_owned(),
                ));
            };
            let on = effective_on(effective, school::dates::local_today(), &school_year, since)
                .map_err(AppError::Rejected)?;
            let event = StudentWithdrawn {
                student_id: student_id.to_string(),
                class_id: class_id.to_string(),
                school_id: school.map(|s| s.to_string()).unwrap_or_default(),
                school_year: school_year.clone(),
                effective_date: on.to_string(),
            };
            let personal = PersonalFields {
                reason,
                ..PersonalFields::default()
            };
            let event = personal_data::sealed_event(tx, student_id, &event, &personal).await?;
            record(
                tx,
                &person_stream(student_id),
                &meta(&by, district, school),
                event,
            )
            .await?;
            Ok(Enrolment {
                student_id: student_id.to_string(),
                class_id: class_id.to_string(),
                school_year,
                active: false,
            })
        })
    })
    .await
}

pub(crate) async fn assign_homeroom_teacher(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    class_id: Uuid,
    staff_id: Uuid,
) -> AppResult<Class> {
    let mut conn = ctx.pool.acquire().await?;
    let (class, _) = access::class(&mut conn, class_id).await?;
    caller.require(DIRECTORY_WRITERS, &class)?;
    let (staff, kind) = access::person(&mut conn, staff_id).await?;
    access::living(&mut conn, staff_id).await?;
    drop(conn);
    if kind != PersonKind::Staff || staff.school != class.school {
        return Err(AppError::Rejected(
            "the homeroom teacher must be a staff member of the class's school".to_owned(),
        ));
    }
    let (district, school) = (class.district.unwrap_or_default(), class.school);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let previous: Option<Uuid> = sqlx::query_scalar(
                "SELECT homeroom_teacher_id FROM classes WHERE id = $1 FOR UPDATE",
            )
            .bind(class_id)
            .fetch_one(&mut *tx)
            .await?;
            if previous != Some(staff_id) {
                let event = HomeroomTeacherAssigned {
                    class_id: class_id.to_string(),
                    staff_id: staff_id.to_string(),
                    previous_staff_id: previous.map(|p| p.to_string()).unwrap_or_default(),
                    school_id: school.map(|s| s.to_string()).unwrap_or_default(),
                };
                emit(
                    tx,
                    &class_stream(class_id),
                    &meta(&by, district, school),
                    &event,
                )
                .await?;
            }
            read::class_by_id(tx, class_id).await
        })
    })
    .await
}

//! Registering students, staff and guardians, and linking guardians to students.

use kernel::auth::{Binding, Caller, Role, ScopeKind};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{Gender, Guardianship, Person, PersonKind, Relation};
use lienlac_proto::identity::v2::{
    GuardianLinked, GuardianRegistered, GuardianUnlinked, RoleRevoked, StaffRegistered,
    StudentRegistered,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::meta;
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppError, AppResult, projected_unique_or};
use crate::events::person_stream;
use crate::personal_data::{self, PersonalFields};
use crate::write_model::{emit, record};

pub(crate) struct NewStudent {
    pub school_id: Uuid,
    pub full_name: String,
    pub birth_date: time::Date,
    pub gender: Gender,
    pub external_ref: String,
}

/// Where a staff member works.
pub(crate) enum StaffPlace {
    School(Uuid),
    /// The district office: a person of the district, of no school.
    DistrictOffice(Uuid),
}

pub(crate) struct NewStaff {
    pub place: StaffPlace,
    pub full_name: String,
    pub phone: String,
    pub position: String,
    pub external_ref: Option<String>,
}

pub(crate) struct NewGuardian {
    pub school_id: Uuid,
    pub full_name: String,
    pub phone: String,
    pub external_ref: Option<String>,
}

/// Who registers the district office's staff: the operator, the district's
/// administrators and the mirror.
const DISTRICT_OFFICE_WRITERS: &[Role] = &[Role::Operator, Role::DistrictAdmin, Role::Mirror];

/// A unique index refused a registration: the phone number or the code is taken.
fn taken(whom: &str, place: &str, external_ref: &Option<String>) -> String {
    match external_ref {
        Some(code) => format!(
            "{whom} with this phone number or with external_ref {code} is already registered in the {place}"
        ),
        None => format!("{whom} with this phone number is already registered in the {place}"),
    }
}

pub(crate) async fn register_student(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewStudent,
) -> AppResult<Person> {
    let target = access::school(&mut *ctx.pool.acquire().await?, new.school_id).await?;
    caller.require(DIRECTORY_WRITERS, &target)?;
    let district_id = target.district.unwrap_or_default();
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (_, person) = insert_student(tx, &by, district_id, new).await?;
            Ok(person)
        })
    })
    .await
}

/// Registers a student in the caller's transaction and appends `StudentRegistered`;
/// returns the new student's id and record.
pub(crate) async fn insert_student(
    tx: &mut PgConnection,
    by: &Caller,
    district_id: Uuid,
    new: NewStudent,
) -> AppResult<(Uuid, Person)> {
    let id = Uuid::now_v7();
    let birth_date = new.birth_date.to_string();
    let event = StudentRegistered {
        student_id: id.to_string(),
        school_id: new.school_id.to_string(),
        district_id: district_id.to_string(),
        gender: new.gender as i32,
        external_ref: new.external_ref.clone(),
    };
    let personal = PersonalFields {
        full_name: new.full_name.clone(),
        birth_date: birth_date.clone(),
        ..PersonalFields::default()
    };
    personal_data::create_key(tx, id).await?;
    let event = personal_data::sealed_event(tx, id, &event, &personal).await?;
    record(
        tx,
        &person_stream(id),
        &meta(by, district_id, Some(new.school_id)),
        event,
    )
    .await
    .map_err(|e| {
        projected_unique_or(e, || {
            format!(
                "a student with code {} is already registered in the district",
                new.external_ref
            )
        })
    })?;
    let person = Person {
        id: id.to_string(),
        kind: PersonKind::Student as i32,
        district_id: district_id.to_string(),
        school_id: new.school_id.to_string(),
        full_name: new.full_name,
        birth_date,
        gender: new.gender as i32,
        external_ref: new.external_ref,
        ..Person::default()
    };
    Ok((id, person))
}

pub(crate) async fn register_staff(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewStaff,
) -> AppResult<Person> {
    let mut conn = ctx.pool.acquire().await?;
    let (district_id, school_id) = match new.place {
        StaffPlace::School(school_id) => {
            let target = access::school(&mut conn, school_id).await?;
            caller.require(DIRECTORY_WRITERS, &target)?;
            (target.district.unwrap_or_default(), Some(school_id))
        }
        StaffPlace::DistrictOffice(district_id) => {
            let target = access::district(&mut conn, district_id).await?;
            caller.require(DISTRICT_OFFICE_WRITERS, &target)?;
            (district_id, None)
        }
    };
    drop(conn);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = StaffRegistered {
                staff_id: id.to_string(),
                school_id: school_id.map(|s| s.to_string()).unwrap_or_default(),
                district_id: district_id.to_string(),
                position: new.position.clone(),
                external_ref: new.external_ref.clone().unwrap_or_default(),
            };
            let personal = PersonalFields {
                full_name: new.full_name.clone(),
                phone: new.phone.clone(),
                ..PersonalFields::default()
            };
            personal_data::create_key(tx, id).await?;
            let event = personal_data::sealed_event(tx, id, &event, &personal).await?;
            record(
                tx,
                &person_stream(id),
                &meta(&by, district_id, school_id),
                event,
            )
            .await
            .map_err(|e| {
                projected_unique_or(e, || {
                    let place = if school_id.is_some() {
                        "school"
                    } else {
                        "district"
                    };
                    taken("a staff member", place, &new.external_ref)
                })
            })?;
            Ok(Person {
                id: id.to_string(),
                kind: PersonKind::Staff as i32,
                district_id: district_id.to_string(),
                school_id: school_id.map(|s| s.to_string()).unwrap_or_default(),
                full_name: new.full_name,
                phone: new.phone,
                position: new.position,
                external_ref: new.external_ref.unwrap_or_default(),
                ..Person::default()
            })
        })
    })
    .await
}

pub(crate) async fn register_guardian(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewGuardian,
) -> AppResult<Person> {
    let target = access::school(&mut *ctx.pool.acquire().await?, new.school_id).await?;
    caller.require(DIRECTORY_WRITERS, &target)?;
    let district_id = target.district.unwrap_or_default();
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = GuardianRegistered {
                guardian_id: id.to_string(),
                district_id: district_id.to_string(),
                external_ref: new.external_ref.clone().unwrap_or_default(),
            };
            let personal = PersonalFields {
                full_name: new.full_name.clone(),
                phone: new.phone.clone(),
                ..PersonalFields::default()
            };
            personal_data::create_key(tx, id).await?;
            let event = personal_data::sealed_event(tx, id, &event, &personal).await?;
            record(tx, &person_stream(id), &meta(&by, district_id, None), event)
                .await
                .map_err(|e| {
                    projected_unique_or(e, || taken("a guardian", "district", &new.external_ref))
                })?;
            Ok(Person {
                id: id.to_string(),
                kind: PersonKind::Guardian as i32,
                district_id: district_id.to_string(),
                full_name: new.full_name,
                phone: new.phone,
                external_ref: new.external_ref.unwrap_or_default(),
                ..Person::default()
            })
        })
    })
    .await
}

pub(crate) async fn unlink_guardian(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    guardian_id: Uuid,
    student_id: Uuid,
) -> AppResult<()> {
    let student = access::student(&mut *ctx.pool.acquire().await?, student_id).await?;
    caller.require(DIRECTORY_WRITERS, &student)?;
    let district_id = student.district.unwrap_or_default();
    let school_id = student.school;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let linked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM guardianships WHERE guardian_id = $1 AND student_id = $2)",
            )
            .bind(guardian_id)
            .bind(student_id)
            .fetch_one(&mut *tx)
            .await?;
            if !linked {
                return Err(AppError::Rejected(
                    "the guardian is not linked to this student".to_owned(),
                ));
            }
            let event = GuardianUnlinked {
                guardian_id: guardian_id.to_string(),
                student_id: student_id.to_string(),
                school_id: school_id.map(|s| s.to_string()).unwrap_or_default(),
            };
            let meta = meta(&by, district_id, school_id);
            emit(tx, &person_stream(student_id), &meta, &event).await?;
            // Every service follows RoleRevoked to end sign-ins that held the role
            // (kernel/src/auth/revocations.rs).
            let accounts: Vec<Uuid> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE person_id = $1")
                    .bind(guardian_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for account in accounts {
                let binding = Binding {
                    role: Role::Guardian,
                    scope: ScopeKind::Student,
                    id: Some(student_id),
                    district: Some(district_id),
                    school: school_id,
                };
                let revoked = RoleRevoked {
                    account_id: account.to_string(),
                    person_id: guardian_id.to_string(),
                    binding: Some(crate::roles::binding_to_proto(&binding, account)),
                };
                emit(tx, &crate::events::account_stream(account), &meta, &revoked).await?;
            }
            Ok(())
        })
    })
    .await
}

pub(crate) async fn link_guardian(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    guardian_id: Uuid,
    student_id: Uuid,
    relation: Relation,
) -> AppResult<Guardianship> {
    let mut conn = ctx.pool.acquire().await?;
    let student = access::student(&mut conn, student_id).await?;
    access::living(&mut conn, student_id).await?;
    caller.require(DIRECTORY_WRITERS, &student)?;
    let (guardian, kind) = access::person(&mut conn, guardian_id).await?;
    access::living(&mut conn, guardian_id).await?;
    drop(conn);
    if kind == PersonKind::Student {
        return Err(AppError::Rejected(
            "a student cannot be a guardian".to_owned(),
        ));
    }
    if guardian.district != student.district {
        return Err(AppError::Rejected(
            "the guardian and the student belong to different districts".to_owned(),
        ));
    }
    let district_id = student.district.unwrap_or_default();
    let school_id = student.school;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let event = GuardianLinked {
                guardian_id: guardian_id.to_string(),
                student_id: student_id.to_string(),
                relation: relation as i32,
                school_id: school_id.map(|s| s.to_string()).unwrap_or_default(),
            };
            emit(
                tx,
                &person_stream(student_id),
                &meta(&by, district_id, school_id),
                &event,
            )
            .await
            .map_err(|e| {
                projected_unique_or(e, || {
                    "the guardian is already linked to this student".to_owned()
                })
            })?;
            Ok(Guardianship {
                guardian_id: guardian_id.to_string(),
                student_id: student_id.to_string(),
                relation: relation as i32,
            })
        })
    })
    .await
}

//! Where directory records live, for authorisation: each lookup returns the
//! record's [`Target`] (district, school, class, student) or NOT_FOUND.

use kernel::auth::{Role, Target};
use lienlac_proto::identity::v1::PersonKind;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// May change a school's directory: the operator, the district's administrators
/// and the school's leaders.
pub(crate) const SCHOOL_ADMINS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// May change a school's directory: its administrators and the city database
/// mirror, which keeps it as the city has it. (Accounts and roles stay with
/// [`SCHOOL_ADMINS`].)
pub(crate) const DIRECTORY_WRITERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::Mirror,
];

/// May read a school's directory: the operator and the school's colleagues
/// (`school::roles::SCHOOL_COLLEAGUES`).
pub(crate) const SCHOOL_READERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::Teacher,
    Role::Staff,
    Role::HomeroomTeacher,
];

/// May read a district's list of schools: the operator and the district office.
pub(crate) const DISTRICT_READERS: &[Role] =
    &[Role::Operator, Role::DistrictAdmin, Role::DistrictViewer];

pub(crate) async fn district(conn: &mut PgConnection, district_id: Uuid) -> AppResult<Target> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM districts WHERE id = $1)")
        .bind(district_id)
        .fetch_one(conn)
        .await?;
    if exists {
        Ok(Target::district(district_id))
    } else {
        Err(AppError::NotFound("district"))
    }
}

pub(crate) async fn school(conn: &mut PgConnection, school_id: Uuid) -> AppResult<Target> {
    let district: Option<Uuid> =
        sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
            .bind(school_id)
            .fetch_optional(conn)
            .await?;
    district
        .map(|district| Target::school(district, school_id))
        .ok_or(AppError::NotFound("school"))
}

/// A class, with its school year.
pub(crate) async fn class(conn: &mut PgConnection, class_id: Uuid) -> AppResult<(Target, String)> {
    let row: Option<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT district_id, school_id, school_year FROM classes WHERE id = $1")
            .bind(class_id)
            .fetch_optional(conn)
            .await?;
    row.map(|(district, school, year)| (Target::class(district, school, class_id), year))
        .ok_or(AppError::NotFound("class"))
}

/// A person's kind as the `people.kind` column holds it.
pub(crate) fn person_kind(text: &str) -> PersonKind {
    match text {
        "student" => PersonKind::Student,
        "staff" => PersonKind::Staff,
        _ => PersonKind::Guardian,
    }
}

/// A person and their kind. A student's target includes the student; a guardian's
/// is their district only.
pub(crate) async fn person(
    conn: &mut PgConnection,
    person_id: Uuid,
) -> AppResult<(Target, PersonKind)> {
    let row: Option<(String, Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT kind, district_id, school_id FROM people WHERE id = $1")
            .bind(person_id)
            .fetch_optional(conn)
            .await?;
    let (kind, district, school) = row.ok_or(AppError::NotFound("person"))?;
    let kind = person_kind(&kind);
    let mut target = Target::district(district);
    target.school = school;
    if kind == PersonKind::Student {
        target.student = Some(person_id);
    }
    Ok((target, kind))
}

/// That `person_id` was not erased: an erased person takes no part in the
/// directory or in accounts again (erasure/mod.rs).
pub(crate) async fn living(conn: &mut PgConnection, person_id: Uuid) -> AppResult<()> {
    let erased: Option<bool> =
        sqlx::query_scalar("SELECT erased_at IS NOT NULL FROM people WHERE id = $1")
            .bind(person_id)
            .fetch_optional(conn)
            .await?;
    match erased {
        Some(true) => Err(AppError::Rejected(
            "this person's personal data was erased; register them again if they return".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// A person who must be a student.
pub(crate) async fn student(conn: &mut PgConnection, person_id: Uuid) -> AppResult<Target> {
    match person(conn, person_id).await? {
        (target, PersonKind::Student) => Ok(target),
        _ => Err(AppError::NotFound("student")),
    }
}

/// Where a student is, for the log of reads of their data (school/src/read_log.rs).
pub(crate) struct Students(pub(crate) sqlx::PgPool);

impl school::read_log::StudentScope for Students {
    fn student(&self, id: Uuid) -> school::read_log::BoxFuture<'_, AppResult<Target>> {
        Box::pin(async move { student(&mut *self.0.acquire().await?, id).await })
    }
}

#[cfg(test)]
mod tests {
    use school::roles::{DISTRICT_OFFICE, SCHOOL_COLLEAGUES, SCHOOL_LEADERS, is_union_of};

    use super::*;

    #[test]
    fn the_directorys_readers_and_admins_are_the_schools_groups_and_the_operator() {
        let operator: &[Role] = &[Role::Operator];
        assert!(is_union_of(SCHOOL_READERS, &[operator, SCHOOL_COLLEAGUES]));
        assert!(is_union_of(DISTRICT_READERS, &[operator, DISTRICT_OFFICE]));
        assert!(is_union_of(
            SCHOOL_ADMINS,
            &[operator, &[Role::DistrictAdmin], SCHOOL_LEADERS]
        ));
    }
}

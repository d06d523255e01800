//! Who starts and reads sync runs: a school's IT officer and principal for their
//! school, the district's administrators for the district and its schools, the
//! operator everywhere; the district's viewers and a school's vice principals
//! read them too.

use kernel::auth::{Role, Target};
use kernel::error::{AppError, AppResult};
use sqlx::PgConnection;
use uuid::Uuid;

pub(crate) const RUN_STARTERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::Principal,
    Role::ItOfficer,
];

pub(crate) const RUN_READERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Who reads a run's changes, row errors and drift, which name people and hold
/// their phone numbers and birth dates: who reads people's details across a
/// school (school/src/roles.rs, `DETAIL_READERS`) and the operator. The district's
/// viewers read runs' counts only.
pub(crate) const RUN_DETAIL_READERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Who reads how a school's months went to the city database: who reads runs,
/// and the school's homeroom teachers and teachers.
pub(crate) const PUSH_READERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::Teacher,
    Role::HomeroomTeacher,
];

/// Who reads a class's term results: who reads runs, and the class's homeroom
/// teacher (who writes the report cards).
pub(crate) const TERM_RESULT_READERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::HomeroomTeacher,
];

/// A class of the directory, with its school year.
pub(crate) async fn class(conn: &mut PgConnection, class_id: Uuid) -> AppResult<(Target, String)> {
    let row: Option<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT district_id, school_id, school_year FROM classes WHERE id = $1")
            .bind(class_id)
            .fetch_optional(conn)
            .await?;
    row.map(|(district, school, year)| (Target::class(district, school, class_id), year))
        .ok_or(AppError::NotFound("class"))
}

/// A school of the directory, with its district and its code in the source.
pub(crate) async fn school(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> AppResult<(Target, String)> {
    let row: Option<(Uuid, String)> =
        sqlx::query_as("SELECT district_id, external_ref FROM schools WHERE id = $1")
            .bind(school_id)
            .fetch_optional(conn)
            .await?;
    row.map(|(district, code)| (Target::school(district, school_id), code))
        .ok_or(AppError::NotFound("school"))
}

/// A district of the directory, with its unit's code in the source.
pub(crate) async fn district(
    conn: &mut PgConnection,
    district_id: Uuid,
) -> AppResult<(Target, String)> {
    let code: Option<String> =
        sqlx::query_scalar("SELECT external_ref FROM districts WHERE id = $1")
            .bind(district_id)
            .fetch_optional(conn)
            .await?;
    code.map(|code| (Target::district(district_id), code))
        .ok_or(AppError::NotFound("district"))
}

/// Where a run belongs, for who reads it.
pub(crate) async fn run(conn: &mut PgConnection, run_id: Uuid) -> AppResult<Target> {
    let row: Option<(Option<Uuid>, Option<Uuid>)> =
        sqlx::query_as("SELECT district_id, school_id FROM sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(conn)
            .await?;
    match row {
        None => Err(AppError::NotFound("sync run")),
        Some((Some(district), Some(school))) => Ok(Target::school(district, school)),
        Some((Some(district), None)) => Ok(Target::district(district)),
        Some((None, _)) => Ok(Target::platform()),
    }
}

#[cfg(test)]
mod tests {
    use school::roles::{DETAIL_READERS, is_union_of};

    use super::*;

    #[test]
    fn a_runs_details_go_only_to_who_reads_peoples_details_and_its_counts_to_the_districts_viewers_too()
     {
        assert!(is_union_of(
            RUN_DETAIL_READERS,
            &[&[Role::Operator], DETAIL_READERS]
        ));
        assert!(
            RUN_DETAIL_READERS
                .iter()
                .all(|role| RUN_READERS.contains(role))
        );
        assert!(RUN_READERS.contains(&Role::DistrictViewer));
        assert!(!RUN_DETAIL_READERS.contains(&Role::DistrictViewer));
    }
}

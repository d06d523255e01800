//! Importing a class's roster: every student registered and enrolled in the
//! class, with their guardians registered and linked, in one transaction and one
//! event (`ClassRosterImported`), so that a mirror of a city's classes costs one
//! event per class in every service that projects the directory.

use std::collections::HashMap;

use kernel::auth::Caller;
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{ImportClassRosterResponse, Person, PersonKind, Relation};
use lienlac_proto::identity::v2 as events;
use sqlx::PgConnection;
use uuid::Uuid;

use super::meta;
use super::people::{NewGuardian, NewStudent};
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppError, AppResult, projected_unique_or};
use crate::events::class_stream;
use crate::personal_data::{self, PersonalFields};
use crate::write_model::record;

/// Students one import may hold: a class, with room to spare.
pub(crate) const MAX_ROSTER: usize = 100;
/// Guardians one import may register: two for each student.
pub(crate) const MAX_ROSTER_GUARDIANS: usize = 2 * MAX_ROSTER;

/// Who a roster's guardianship links the student to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LinkedGuardian {
    /// A guardian of the roster, by their place in it.
    New(usize),
    /// A guardian registered before.
    Registered(Uuid),
}

pub(crate) struct RosterLink {
    /// The student's place in the roster.
    pub student: usize,
    pub guardian: LinkedGuardian,
    pub relation: Relation,
}

/// A class's roster. `students` and `guardians` carry no school: they join the
/// class's.
pub(crate) struct Roster {
    pub students: Vec<NewStudent>,
    pub guardians: Vec<NewGuardian>,
    pub links: Vec<RosterLink>,
}

pub(crate) async fn import_class_roster(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    class_id: Uuid,
    roster: Roster,
) -> AppResult<ImportClassRosterResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let (class, school_year) = access::class(&mut conn, class_id).await?;
    caller.require(DIRECTORY_WRITERS, &class)?;
    let school = class.school.ok_or(AppError::NotFound("school"))?;
    let district = class.district.unwrap_or_default();
    let registered: Vec<Uuid> = roster
        .links
        .iter()
        .filter_map(|link| match link.guardian {
            LinkedGuardian::Registered(id) => Some(id),
            LinkedGuardian::New(_) => None,
        })
        .collect();
    registered_guardians(&mut conn, district, &registered).await?;
    drop(conn);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            refuse_taken(tx, district, &roster).await?;
            let student_ids: Vec<Uuid> = roster.students.iter().map(|_| Uuid::now_v7()).collect();
            let guardian_ids: Vec<Uuid> =
                roster.guardians.iter().map(|_| Uuid::now_v7()).collect();
            let everyone: Vec<Uuid> = student_ids.iter().chain(&guardian_ids).copied().collect();
            personal_data::create_keys(tx, &everyone).await?;
            let event = events::ClassRosterImported {
                class_id: class_id.to_string(),
                school_id: school.to_string(),
                district_id: district.to_string(),
                school_year: school_year.clone(),
                students: roster
                    .students
                    .iter()
                    .zip(&student_ids)
                    .map(|(student, id)| events::RosterStudent {
                        student_id: id.to_string(),
                        gender: student.gender as i32,
                        external_ref: student.external_ref.clone(),
                    })
                    .collect(),
                guardians: roster
                    .guardians
                    .iter()
                    .zip(&guardian_ids)
                    .map(|(guardian, id)| events::RosterGuardian {
                        guardian_id: id.to_string(),
                        external_ref: guardian.external_ref.clone().unwrap_or_default(),
                    })
                    .collect(),
                links: roster
                    .links
                    .iter()
                    .map(|link| events::RosterLink {
                        guardian_id: match link.guardian {
                            LinkedGuardian::New(n) => guardian_ids[n],
                            LinkedGuardian::Registered(id) => id,
                        }
                        .to_string(),
                        student_id: student_ids[link.student].to_string(),
                        relation: link.relation as i32,
                    })
                    .collect(),
            };
            let personal: Vec<(Uuid, PersonalFields)> = roster
                .students
                .iter()
                .zip(&student_ids)
                .map(|(student, id)| {
                    let fields = PersonalFields {
                        full_name: student.full_name.clone(),
                        birth_date: student.birth_date.to_string(),
                        ..PersonalFields::default()
                    };
                    (*id, fields)
                })
                .chain(roster.guardians.iter().zip(&guardian_ids).map(|(guardian, id)| {
                    let fields = PersonalFields {
                        full_name: guardian.full_name.clone(),
                        phone: guardian.phone.clone(),
                        ..PersonalFields::default()
                    };
                    (*id, fields)
                }))
                .collect();
            let event = personal_data::sealed_event_of_many(tx, &event, &personal).await?;
            record(tx, &class_stream(class_id), &meta(&by, district, Some(school)), event)
                .await
                .map_err(|e| {
                    projected_unique_or(e, || {
                        "a student's code, or a guardian's code or phone number, is already registered in the district"
                            .to_owned()
                    })
                })?;
            let students = roster
                .students
                .into_iter()
                .zip(&student_ids)
                .map(|(student, id)| Person {
                    id: id.to_string(),
                    kind: PersonKind::Student as i32,
                    district_id: district.to_string(),
                    school_id: school.to_string(),
                    full_name: student.full_name,
                    birth_date: student.birth_date.to_string(),
                    gender: student.gender as i32,
                    external_ref: student.external_ref,
                    class_id: class_id.to_string(),
                    ..Person::default()
                })
                .collect();
            let guardians = roster
                .guardians
                .into_iter()
                .zip(&guardian_ids)
                .map(|(guardian, id)| Person {
                    id: id.to_string(),
                    kind: PersonKind::Guardian as i32,
                    district_id: district.to_string(),
                    full_name: guardian.full_name,
                    phone: guardian.phone,
                    external_ref: guardian.external_ref.unwrap_or_default(),
                    ..Person::default()
                })
                .collect();
            Ok(ImportClassRosterResponse {
                students,
                guardians,
            })
        })
    })
    .await
}

/// The guardians registered before that a roster links: each a living guardian
/// of the district.
async fn registered_guardians(
    conn: &mut PgConnection,
    district: Uuid,
    ids: &[Uuid],
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: Vec<(Uuid, String, Uuid, bool)> = sqlx::query_as(
        "SELECT id, kind, district_id, erased_at IS NOT NULL FROM people WHERE id = ANY($1)",
    )
    .persistent(false)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    let found: HashMap<Uuid, (String, Uuid, bool)> = found
        .into_iter()
        .map(|(id, kind, district, erased)| (id, (kind, district, erased)))
        .collect();
    for id in ids {
        match found.get(id) {
            None => return Err(AppError::NotFound("guardian")),
            Some((kind, _, _)) if access::person_kind(kind) == PersonKind::Student => {
                return Err(AppError::Rejected(format!(
                    "person {id} is a student and cannot be a guardian"
                )));
            }
            Some((_, other, _)) if *other != district => {
                return Err(AppError::Rejected(format!(
                    "guardian {id} belongs to another district than the class"
                )));
            }
            Some((_, _, true)) => {
                return Err(AppError::Rejected(format!(
                    "the personal data of guardian {id} was erased; register them again"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Refuses a roster whose students' codes, or guardians' codes or phone numbers,
/// the district already has, naming them. One statement per unique index, each
/// planned afresh (not persistent): a plan cached while `people` was nearly empty
/// would scan it whole once a city's mirror has filled it.
async fn refuse_taken(conn: &mut PgConnection, district: Uuid, roster: &Roster) -> AppResult<()> {
    let student_refs: Vec<&str> = roster
        .students
        .iter()
        .map(|s| s.external_ref.as_str())
        .filter(|code| !code.is_empty())
        .collect();
    let guardian_refs: Vec<&str> = roster
        .guardians
        .iter()
        .filter_map(|g| g.external_ref.as_deref())
        .collect();
    let phones: Vec<&str> = roster.guardians.iter().map(|g| g.phone.as_str()).collect();
    let mut named: Vec<String> = Vec::new();
    for (kind, column, values) in [
        ("student", "external_ref", &student_refs),
        ("guardian", "external_ref", &guardian_refs),
        ("guardian", "phone", &phones),
    ] {
        if values.is_empty() {
            continue;
        }
        let taken: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM people WHERE district_id = $1 AND kind = '{kind}' AND {column} = ANY($2) LIMIT 5"
        )))
        .persistent(false)
        .bind(district)
        .bind(values)
        .fetch_all(&mut *conn)
        .await?;
        named.extend(taken.into_iter().map(|value| match column {
            "phone" => "a guardian's phone number".to_owned(),
            _ => format!("{kind} {value}"),
        }));
    }
    if named.is_empty() {
        return Ok(());
    }
    Err(AppError::AlreadyExists(format!(
        "already registered in the district: {}",
        named.join(", ")
    )))
}

//! A school's or a district's whole directory with every external reference, for
//! a mirror comparing lienlac with its source (services/sync) and for the
//! school's leaders. Its readers all read people's details.

use std::collections::HashMap;

use kernel::access_log;
use kernel::auth::{Caller, Role, Target};
use lienlac_proto::identity::v1::{DistrictExport, Guardianship, Person, SchoolExport};
use uuid::Uuid;

use super::read::{
    self, CLASS_COLUMNS, ClassRow, PERSON_COLUMNS, PersonRow, guardianships_of_students,
};
use crate::Ctx;
use crate::access;
use crate::error::AppResult;

/// Who exports a school: the operator, the district's administrators, the
/// school's leaders and the mirror.
const SCHOOL_EXPORTERS: &[Role] = &[
    Role::Operator,
    Role::DistrictAdmin,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::Mirror,
];

/// Who exports a district: the operator, its administrators and the mirror.
const DISTRICT_EXPORTERS: &[Role] = &[Role::Operator, Role::DistrictAdmin, Role::Mirror];

pub(crate) async fn school(
    ctx: &Ctx,
    caller: &Caller,
    school_id: Uuid,
    school_year: &str,
) -> AppResult<SchoolExport> {
    let mut conn = ctx.pool.acquire().await?;
    let target = access::school(&mut conn, school_id).await?;
    caller.require(SCHOOL_EXPORTERS, &target)?;
    let school = read::school_row(&mut conn, school_id).await?;
    let sql = format!(
        "SELECT {CLASS_COLUMNS} FROM classes WHERE school_id = $1 AND school_year = $2 ORDER BY grade, name"
    );
    let classes: Vec<ClassRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .bind(school_year)
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p WHERE p.school_id = $1 AND p.kind = 'staff' ORDER BY p.id"
    );
    let staff: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT {PERSON_COLUMNS}, e.class_id, e.active FROM people p \
         LEFT JOIN enrolments e ON e.student_id = p.id AND e.school_year = $2 \
         WHERE p.school_id = $1 AND p.kind = 'student' ORDER BY p.id"
    );
    let rows: Vec<(PersonRow, Option<Uuid>, Option<bool>)> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .bind(school_year)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            use sqlx::Row as _;
            Ok((
                <PersonRow as sqlx::FromRow<'_, _>>::from_row(row)?,
                row.try_get("class_id")?,
                row.try_get("active")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let ids: Vec<Uuid> = rows.iter().map(|(row, ..)| row.id).collect();
    let mut links: HashMap<String, Vec<Guardianship>> = HashMap::new();
    for link in guardianships_of_students(&mut conn, &ids).await? {
        links.entry(link.student_id.clone()).or_default().push(link);
    }
    let mut withdrawn_student_ids = Vec::new();
    let mut students = Vec::with_capacity(rows.len());
    for (row, class, active) in rows {
        let mut student = Person::from(row);
        match (class, active) {
            (Some(class), Some(true)) => student.class_id = class.to_string(),
            (Some(_), Some(false)) => withdrawn_student_ids.push(student.id.clone()),
            _ => {}
        }
        student.guardianships = links.remove(&student.id).unwrap_or_default();
        students.push(student);
    }
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p WHERE p.id IN ( \
           SELECT g.guardian_id FROM guardianships g WHERE g.student_id = ANY($1)) ORDER BY p.id"
    );
    let guardians: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    // The mirror's exports are its sync runs' comparisons, recorded as runs by the
    // sync service; a person's export is theirs to account for, student by student.
    if !caller.holds(&[Role::Mirror], &target) {
        let read: Vec<(Uuid, Target)> = ids
            .iter()
            .map(|id| (*id, target.with_student(*id)))
            .collect();
        access_log::record(&mut conn, caller, "identity.ExportSchool", &read).await?;
    }
    Ok(SchoolExport {
        school: Some(school),
        classes: classes.into_iter().map(Into::into).collect(),
        staff: staff.into_iter().map(Person::from).collect(),
        students,
        guardians: guardians.into_iter().map(Person::from).collect(),
        withdrawn_student_ids,
    })
}

/// The district's people of `kind` with these codes.
pub(crate) async fn by_ref(
    ctx: &Ctx,
    caller: &Caller,
    district_id: Uuid,
    kind: &str,
    refs: &[String],
) -> AppResult<Vec<Person>> {
    let mut conn = ctx.pool.acquire().await?;
    let target = access::district(&mut conn, district_id).await?;
    caller.require(DISTRICT_EXPORTERS, &target)?;
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p \
         WHERE p.district_id = $1 AND p.kind = $2 AND p.external_ref = ANY($3) ORDER BY p.id"
    );
    let rows: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(district_id)
        .bind(kind)
        .bind(refs)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Person::from).collect())
}

pub(crate) async fn district(
    ctx: &Ctx,
    caller: &Caller,
    district_id: Uuid,
) -> AppResult<DistrictExport> {
    let mut conn = ctx.pool.acquire().await?;
    let target = access::district(&mut conn, district_id).await?;
    caller.require(DISTRICT_EXPORTERS, &target)?;
    let district = read::district_row(&mut conn, district_id).await?;
    let schools = read::schools_of(&mut conn, district_id).await?;
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p \
         WHERE p.district_id = $1 AND p.kind = 'staff' AND p.school_id IS NULL ORDER BY p.id"
    );
    let staff: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(district_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(DistrictExport {
        district: Some(district),
        schools,
        staff: staff.into_iter().map(Person::from).collect(),
    })
}

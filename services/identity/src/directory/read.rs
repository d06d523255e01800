//! Directory reads, each authorised against the record's scope.

use std::collections::HashMap;

use kernel::access_log;
use kernel::auth::{Caller, Target};
use lienlac_proto::identity::v1::{
    Class, District, Guardianship, ListStudentsResponse, Person, PersonKind, School,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Ctx;
use crate::access::{self, DISTRICT_READERS, SCHOOL_READERS};
use crate::error::{AppError, AppResult};
use crate::personal_details::{self, Whose};
use crate::text;

#[derive(sqlx::FromRow)]
pub(super) struct PersonRow {
    pub(super) id: Uuid,
    kind: String,
    district_id: Uuid,
    school_id: Option<Uuid>,
    full_name: String,
    birth_date: Option<time::Date>,
    gender: i16,
    phone: Option<String>,
    position: Option<String>,
    external_ref: Option<String>,
    erased: bool,
}

pub(super) const PERSON_COLUMNS: &str = "p.id, p.kind, p.district_id, p.school_id, p.full_name, p.birth_date, p.gender, p.phone, p.position, p.external_ref, p.erased_at IS NOT NULL AS erased";

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        let kind = access::person_kind(&row.kind);
        Person {
            id: row.id.to_string(),
            kind: kind as i32,
            district_id: row.district_id.to_string(),
            school_id: row.school_id.map(|id| id.to_string()).unwrap_or_default(),
            full_name: row.full_name,
            birth_date: row.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            gender: i32::from(row.gender),
            phone: row.phone.unwrap_or_default(),
            position: row.position.unwrap_or_default(),
            external_ref: row.external_ref.unwrap_or_default(),
            erased: row.erased,
            ..Person::default()
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClassRow {
    id: Uuid,
    school_id: Uuid,
    district_id: Uuid,
    name: String,
    grade: i32,
    school_year: String,
    homeroom_teacher_id: Option<Uuid>,
    external_ref: Option<String>,
}

impl From<ClassRow> for Class {
    fn from(row: ClassRow) -> Self {
        Class {
            id: row.id.to_string(),
            school_id: row.school_id.to_string(),
            district_id: row.district_id.to_string(),
            name: row.name,
            grade: row.grade,
            school_year: row.school_year,
            homeroom_teacher_id: row
                .homeroom_teacher_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            external_ref: row.external_ref.unwrap_or_default(),
        }
    }
}

pub(super) const CLASS_COLUMNS: &str =
    "id, school_id, district_id, name, grade, school_year, homeroom_teacher_id, external_ref";

pub(crate) async fn class_by_id(conn: &mut PgConnection, class_id: Uuid) -> AppResult<Class> {
    let sql = format!("SELECT {CLASS_COLUMNS} FROM classes WHERE id = $1");
    let row: Option<ClassRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(class_id)
        .fetch_optional(conn)
        .await?;
    row.map(Class::from).ok_or(AppError::NotFound("class"))
}

pub(crate) async fn district(ctx: &Ctx, caller: &Caller, district_id: Uuid) -> AppResult<District> {
    let mut conn = ctx.pool.acquire().await?;
    caller.require(
        DISTRICT_READERS,
        &access::district(&mut conn, district_id).await?,
    )?;
    district_row(&mut conn, district_id).await
}

pub(super) async fn district_row(
    conn: &mut PgConnection,
    district_id: Uuid,
) -> AppResult<District> {
    let (name, external_ref): (String, String) =
        sqlx::query_as("SELECT name, external_ref FROM districts WHERE id = $1")
            .bind(district_id)
            .fetch_one(conn)
            .await?;
    Ok(District {
        id: district_id.to_string(),
        name,
        external_ref,
    })
}

pub(crate) async fn school(ctx: &Ctx, caller: &Caller, school_id: Uuid) -> AppResult<School> {
    let mut conn = ctx.pool.acquire().await?;
    caller.require(SCHOOL_READERS, &access::school(&mut conn, school_id).await?)?;
    school_row(&mut conn, school_id).await
}

pub(super) async fn school_row(conn: &mut PgConnection, school_id: Uuid) -> AppResult<School> {
    let (district_id, name, external_ref): (Uuid, String, String) =
        sqlx::query_as("SELECT district_id, name, external_ref FROM schools WHERE id = $1")
            .bind(school_id)
            .fetch_one(conn)
            .await?;
    Ok(School {
        id: school_id.to_string(),
        district_id: district_id.to_string(),
        name,
        external_ref,
    })
}

pub(crate) async fn schools(
    ctx: &Ctx,
    caller: &Caller,
    district_id: Uuid,
) -> AppResult<Vec<School>> {
    let mut conn = ctx.pool.acquire().await?;
    caller.require(
        DISTRICT_READERS,
        &access::district(&mut conn, district_id).await?,
    )?;
    schools_of(&mut conn, district_id).await
}

pub(super) async fn schools_of(
    conn: &mut PgConnection,
    district_id: Uuid,
) -> AppResult<Vec<School>> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, name, external_ref FROM schools WHERE district_id = $1 ORDER BY name",
    )
    .bind(district_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, external_ref)| School {
            id: id.to_string(),
            district_id: district_id.to_string(),
            name,
            external_ref,
        })
        .collect())
}

pub(crate) async fn classes(
    ctx: &Ctx,
    caller: &Caller,
    school_id: Uuid,
    school_year: Option<String>,
) -> AppResult<Vec<Class>> {
    let mut conn = ctx.pool.acquire().await?;
    caller.require(SCHOOL_READERS, &access::school(&mut conn, school_id).await?)?;
    let sql = format!(
        "SELECT {CLASS_COLUMNS} FROM classes WHERE school_id = $1 AND ($2::text IS NULL OR school_year = $2) \
         ORDER BY school_year DESC, grade, name"
    );
    let rows: Vec<ClassRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .bind(school_year)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Class::from).collect())
}

/// Students ordered as Vietnamese class lists are: by given name (the last word),
/// then the whole name.
const BY_GIVEN_NAME: &str = "substring(p.name_folded from '[^ ]+$'), p.name_folded";

pub(crate) async fn students(
    ctx: &Ctx,
    caller: &Caller,
    class_id: Uuid,
) -> AppResult<ListStudentsResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let (target, _) = access::class(&mut conn, class_id).await?;
    caller.require(SCHOOL_READERS, &target)?;
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM enrolments e JOIN people p ON p.id = e.student_id \
         WHERE e.class_id = $1 AND e.active ORDER BY {BY_GIVEN_NAME}"
    );
    let rows: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(class_id)
        .fetch_all(&mut *conn)
        .await?;
    let district = target.district.unwrap_or_default();
    let in_class = Target::class(district, target.school.unwrap_or_default(), class_id);
    let mut students: Vec<Person> = rows.into_iter().map(Person::from).collect();
    let ids: Vec<Uuid> = students
        .iter()
        .filter_map(|s| Uuid::parse_str(&s.id).ok())
        .collect();
    let links = guardianships_of_students(&mut conn, &ids).await?;
    let guardian_ids: Vec<Uuid> = links
        .iter()
        .filter_map(|g| Uuid::parse_str(&g.guardian_id).ok())
        .collect();
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p WHERE p.id = ANY($1) ORDER BY {BY_GIVEN_NAME}"
    );
    let guardians: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&guardian_ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_student: HashMap<String, Vec<Guardianship>> = HashMap::new();
    for link in links {
        by_student
            .entry(link.student_id.clone())
            .or_default()
            .push(link);
    }
    for student in &mut students {
        student.class_id = class_id.to_string();
        student.guardianships = by_student.remove(&student.id).unwrap_or_default();
        let id = Uuid::parse_str(&student.id).unwrap_or_default();
        if !personal_details::sees(caller, id, &Whose::Student(in_class.with_student(id))) {
            personal_details::withhold(student);
        }
    }
    let guardian_of_the_class = Whose::Guardian {
        district: Target::district(district),
        children: vec![in_class],
    };
    let mut guardians: Vec<Person> = guardians.into_iter().map(Person::from).collect();
    for guardian in &mut guardians {
        let id = Uuid::parse_str(&guardian.id).unwrap_or_default();
        if !personal_details::sees(caller, id, &guardian_of_the_class) {
            personal_details::withhold(guardian);
        }
    }
    let read: Vec<(Uuid, Target)> = ids
        .iter()
        .map(|id| (*id, in_class.with_student(*id)))
        .collect();
    access_log::record(&mut conn, caller, "identity.ListStudents", &read).await?;
    Ok(ListStudentsResponse {
        students,
        guardians,
    })
}

pub(super) async fn guardianships_of_students(
    conn: &mut PgConnection,
    students: &[Uuid],
) -> AppResult<Vec<Guardianship>> {
    let rows: Vec<(Uuid, Uuid, i16)> = sqlx::query_as(
        "SELECT guardian_id, student_id, relation FROM guardianships WHERE student_id = ANY($1) ORDER BY relation",
    )
    .bind(students)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(guardianship).collect())
}

pub(super) fn guardianship((guardian_id, student_id, relation): (Uuid, Uuid, i16)) -> Guardianship {
    Guardianship {
        guardian_id: guardian_id.to_string(),
        student_id: student_id.to_string(),
        relation: i32::from(relation),
    }
}

/// Students and staff of the school, and guardians of its students, whose folded
/// name contains the folded query (or whose phone or code is the query).
pub(crate) async fn search(
    ctx: &Ctx,
    caller: &Caller,
    school_id: Uuid,
    query: &str,
    limit: i64,
) -> AppResult<Vec<Person>> {
    let mut conn = ctx.pool.acquire().await?;
    let school = access::school(&mut conn, school_id).await?;
    caller.require(SCHOOL_READERS, &school)?;
    let folded = school::text::fold(query);
    let pattern = format!(
        "%{}%",
        folded
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let phone = text::phone("query", query).ok();
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people p \
         WHERE (p.school_id = $1 OR p.id IN ( \
                  SELECT g.guardian_id FROM guardianships g JOIN people s ON s.id = g.student_id \
                  WHERE s.school_id = $1)) \
           AND (p.name_folded LIKE $2 OR p.phone = $3 OR p.external_ref = $4) \
         ORDER BY {BY_GIVEN_NAME} LIMIT $5"
    );
    let rows: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(school_id)
        .bind(pattern)
        .bind(phone)
        .bind(query.trim())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    // Details only to those who read them across the school, never by a search
    // alone: the school's leaders and the district's administrators.
    let mut people: Vec<Person> = rows.into_iter().map(Person::from).collect();
    let mut students = Vec::new();
    for person in &mut people {
        let id = Uuid::parse_str(&person.id).unwrap_or_default();
        if person.kind == PersonKind::Student as i32 {
            students.push((id, school.with_student(id)));
        }
        let whose = match PersonKind::try_from(person.kind) {
            Ok(PersonKind::Guardian) => Whose::Guardian {
                district: Target::district(school.district.unwrap_or_default()),
                children: vec![school],
            },
            _ => Whose::Staff(school),
        };
        if !personal_details::sees(caller, id, &whose) {
            personal_details::withhold(person);
        }
    }
    access_log::record(&mut conn, caller, "identity.SearchPeople", &students).await?;
    Ok(people)
}

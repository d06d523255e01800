//! The raw baseline of the mirror benchmark: Postgres loading the rows the mirror
//! leaves (identity's people, their data keys, enrolments and guardianships;
//! attendance's, reporting's and sync's projections of them) straight from the
//! client, into copies of the same tables with the same indexes, a class's rows
//! per statement and table, two classes' batches at a time (the machine's cores).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use citydb_sim::City;
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::PgPool;
use uuid::Uuid;

/// A scratch schema, dropped when the baseline ends.
const RAW: &str = "bench_raw_mirror";

/// Each copy: its name in the scratch schema and the table it copies.
const TABLES: [(&str, &str); 13] = [
    ("people", "identity.people"),
    ("personal_data_keys", "identity.personal_data_keys"),
    ("enrolments", "identity.enrolments"),
    ("guardianships", "identity.guardianships"),
    ("attendance_periods", "attendance.enrolment_periods"),
    ("attendance_guardianships", "attendance.guardianships"),
    ("reporting_students", "reporting_directory_g1.students"),
    (
        "reporting_periods",
        "reporting_directory_g1.enrolment_periods",
    ),
    (
        "reporting_guardianships",
        "reporting_directory_g1.guardianships",
    ),
    ("reporting_staff", "reporting_directory_g1.staff"),
    ("sync_students", "sync.students"),
    ("sync_periods", "sync.enrolment_periods"),
    ("sync_guardianships", "sync.guardianships"),
];

/// Classes whose rows one transaction writes.
const CLASSES_PER_BATCH: usize = 20;

/// How long loading the city's rows took.
pub(super) async fn load(
    pool: &PgPool,
    city: &City,
    school_year: &str,
) -> anyhow::Result<Duration> {
    let mut ddl = vec![
        format!("DROP SCHEMA IF EXISTS {RAW} CASCADE"),
        format!("CREATE SCHEMA {RAW}"),
    ];
    for (name, table) in TABLES {
        ddl.push(format!(
            "CREATE TABLE {RAW}.{name} (LIKE {table} INCLUDING ALL)"
        ));
    }
    for statement in &ddl {
        sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
            .execute(pool)
            .await
            .with_context(|| format!("preparing the baseline's tables: {statement}"))?;
    }
    let from = school::dates::school_year_start(school_year)
        .ok_or_else(|| anyhow::anyhow!("school year {school_year:?}"))?;
    let batches = Batches::of(city);
    let started = Instant::now();
    futures::stream::iter(batches.classes.chunks(CLASSES_PER_BATCH))
        .map(|classes| write_batch(pool, classes, school_year, from))
        .buffer_unordered(2)
        .try_collect::<Vec<()>>()
        .await?;
    write_staff(pool, city, &batches).await?;
    let took = started.elapsed();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {RAW} CASCADE")))
        .execute(pool)
        .await?;
    Ok(took)
}

/// The city's rows by class, with made-up ids as the mirror would make them.
struct Batches<'a> {
    classes: Vec<ClassRows<'a>>,
    schools: std::collections::HashMap<&'a str, (Uuid, Uuid)>,
    districts: std::collections::HashMap<&'a str, Uuid>,
}

struct ClassRows<'a> {
    id: Uuid,
    school: Uuid,
    district: Uuid,
    students: Vec<&'a citydb_sim::model::Student>,
    /// The guardians first met in this class, with their ids; the ids of every
    /// guardian its students link to.
    new_guardians: Vec<(Uuid, &'a citydb_sim::model::Guardian)>,
    guardian_ids: std::collections::HashMap<&'a str, Uuid>,
}

impl<'a> Batches<'a> {
    fn of(city: &'a City) -> Self {
        let districts: std::collections::HashMap<&str, Uuid> = city
            .units
            .iter()
            .map(|unit| (unit.code.as_str(), Uuid::now_v7()))
            .collect();
        let schools: std::collections::HashMap<&str, (Uuid, Uuid)> = city
            .schools
            .iter()
            .map(|school| {
                let district = districts
                    .get(school.unit_code.as_str())
                    .copied()
                    .unwrap_or_default();
                (school.code.as_str(), (Uuid::now_v7(), district))
            })
            .collect();
        let mut by_class: std::collections::HashMap<&str, Vec<&citydb_sim::model::Student>> =
            std::collections::HashMap::new();
        for student in city.students.iter().filter(|s| s.status != "left") {
            by_class
                .entry(student.class_code.as_str())
                .or_default()
                .push(student);
        }
        let mut met: std::collections::HashMap<&str, Uuid> = std::collections::HashMap::new();
        let classes = city
            .classes
            .iter()
            .map(|class| {
                let (school, district) = schools
                    .get(class.school_code.as_str())
                    .copied()
                    .unwrap_or_default();
                let students = by_class.remove(class.code.as_str()).unwrap_or_default();
                let mut new_guardians = Vec::new();
                let mut guardian_ids = std::collections::HashMap::new();
                for link in students.iter().flat_map(|s| &s.guardians) {
                    let code = link.guardian_code.as_str();
                    let id = *met.entry(code).or_insert_with(|| {
                        let id = Uuid::now_v7();
                        if let Some(guardian) = city.guardians.get(code) {
                            new_guardians.push((id, guardian));
                        }
                        id
                    });
                    guardian_ids.insert(code, id);
                }
                ClassRows {
                    id: Uuid::now_v7(),
                    school,
                    district,
                    students,
                    new_guardians,
                    guardian_ids,
                }
            })
            .collect();
        Self {
            classes,
            schools,
            districts,
        }
    }
}

/// One transaction: the classes' students, the guardians first met in them,
/// enrolments and links, into every copy.
async fn write_batch(
    pool: &PgPool,
    classes: &[ClassRows<'_>],
    school_year: &str,
    from: time::Date,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for class in classes {
        let mut students = Columns::default();
        let mut guardians = Columns::default();
        let mut links: (Vec<Uuid>, Vec<Uuid>, Vec<i16>) = Default::default();
        for student in &class.students {
            let id = Uuid::now_v7();
            students.push(id, &student.full_name, &student.code, "");
            students
                .birth_dates
                .push(time::Date::parse(&student.birth_date, &ISO_DATE).ok());
            for link in &student.guardians {
                if let Some(guardian) = class.guardian_ids.get(link.guardian_code.as_str()) {
                    links.0.push(*guardian);
                    links.1.push(id);
                    links.2.push(if link.relation == "mother" { 2 } else { 1 });
                }
            }
        }
        for (id, guardian) in &class.new_guardians {
            guardians.push(*id, &guardian.full_name, &guardian.code, &guardian.phone);
        }
        let everyone: Vec<Uuid> = students.ids.iter().chain(&guardians.ids).copied().collect();
        let keys: Vec<Vec<u8>> = everyone.iter().map(|id| id.as_bytes().repeat(2)).collect();
        let statements: [(String, Vec<Bind>); 13] = [
            (
                format!(
                    "INSERT INTO {RAW}.people (id, kind, district_id, school_id, full_name, name_folded, birth_date, external_ref) \
                     SELECT s.id, 'student', $1, $2, s.n, s.f, s.b, s.r FROM unnest($3::uuid[], $4::text[], $5::text[], $6::date[], $7::text[]) AS s(id, n, f, b, r)"
                ),
                vec![
                    Bind::Uuid(class.district),
                    Bind::Uuid(class.school),
                    Bind::Uuids(students.ids.clone()),
                    Bind::Texts(students.names.clone()),
                    Bind::Texts(students.folded.clone()),
                    Bind::Dates(students.birth_dates.clone()),
                    Bind::Texts(students.refs.clone()),
                ],
            ),
            (
                format!(
                    "INSERT INTO {RAW}.people (id, kind, district_id, full_name, name_folded, phone, external_ref) \
                     SELECT g.id, 'guardian', $1, g.n, g.f, g.p, g.r FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS g(id, n, f, p, r)"
                ),
                vec![
                    Bind::Uuid(class.district),
                    Bind::Uuids(guardians.ids.clone()),
                    Bind::Texts(guardians.names.clone()),
                    Bind::Texts(guardians.folded.clone()),
                    Bind::Texts(guardians.phones.clone()),
                    Bind::Texts(guardians.refs.clone()),
                ],
            ),
            (
                format!(
                    "INSERT INTO {RAW}.personal_data_keys (person_id, key) SELECT * FROM unnest($1::uuid[], $2::bytea[])"
                ),
                vec![Bind::Uuids(everyone.clone()), Bind::Bytes(keys)],
            ),
            (
                format!(
                    "INSERT INTO {RAW}.enrolments (student_id, school_year, class_id) SELECT s, $2, $3 FROM unnest($1::uuid[]) AS s"
                ),
                vec![
                    Bind::Uuids(students.ids.clone()),
                    Bind::Text(school_year.to_owned()),
                    Bind::Uuid(class.id),
                ],
            ),
            (
                format!(
                    "INSERT INTO {RAW}.guardianships (guardian_id, student_id, relation) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int2[])"
                ),
                vec![
                    Bind::Uuids(links.0.clone()),
                    Bind::Uuids(links.1.clone()),
                    Bind::Smallints(links.2.clone()),
                ],
            ),
            periods(
                "attendance_periods",
                &students.ids,
                class.id,
                school_year,
                from,
            ),
            pairs("attendance_guardianships", &links.0, &links.1),
            (
                format!(
                    "INSERT INTO {RAW}.reporting_students (id, school_id, district_id, external_ref) \
                     SELECT s.id, $1, $2, s.r FROM unnest($3::uuid[], $4::text[]) AS s(id, r)"
                ),
                vec![
                    Bind::Uuid(class.school),
                    Bind::Uuid(class.district),
                    Bind::Uuids(students.ids.clone()),
                    Bind::Texts(students.refs.clone()),
                ],
            ),
            periods(
                "reporting_periods",
                &students.ids,
                class.id,
                school_year,
                from,
            ),
            pairs("reporting_guardianships", &links.0, &links.1),
            (
                format!(
                    "INSERT INTO {RAW}.sync_students (id, school_id, external_ref) \
                     SELECT s.id, $1, s.r FROM unnest($2::uuid[], $3::text[]) AS s(id, r)"
                ),
                vec![
                    Bind::Uuid(class.school),
                    Bind::Uuids(students.ids.clone()),
                    Bind::Texts(students.refs.clone()),
                ],
            ),
            periods("sync_periods", &students.ids, class.id, school_year, from),
            pairs("sync_guardianships", &links.0, &links.1),
        ];
        for (sql, binds) in statements {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = match bind {
                    Bind::Uuid(v) => query.bind(v),
                    Bind::Uuids(v) => query.bind(v),
                    Bind::Text(v) => query.bind(v),
                    Bind::Texts(v) => query.bind(v),
                    Bind::Date(v) => query.bind(v),
                    Bind::Dates(v) => query.bind(v),
                    Bind::Smallints(v) => query.bind(v),
                    Bind::Bytes(v) => query.bind(v),
                };
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The staff of every school and office, into identity's copy, and the schools'
/// into reporting's.
async fn write_staff(pool: &PgPool, city: &City, batches: &Batches<'_>) -> anyhow::Result<()> {
    for chunk in city.staff.chunks(5_000) {
        let mut staff = Columns::default();
        let mut places: (Vec<Option<Uuid>>, Vec<Uuid>) = (Vec::new(), Vec::new());
        for member in chunk {
            let (school, district) = match batches.schools.get(member.school_code.as_str()) {
                Some((school, district)) => (Some(*school), *district),
                None => (
                    None,
                    batches
                        .districts
                        .get(member.unit_code.as_str())
                        .copied()
                        .unwrap_or_default(),
                ),
            };
            staff.push(
                Uuid::now_v7(),
                &member.full_name,
                &member.code,
                &member.phone,
            );
            places.0.push(school);
            places.1.push(district);
        }
        let mut tx = pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {RAW}.people (id, kind, district_id, school_id, full_name, name_folded, phone, external_ref) \
             SELECT s.id, 'staff', s.d, s.sc, s.n, s.f, s.p, s.r \
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) AS s(id, sc, d, n, f, p, r)"
        )))
        .bind(&staff.ids)
        .bind(&places.0)
        .bind(&places.1)
        .bind(&staff.names)
        .bind(&staff.folded)
        .bind(&staff.phones)
        .bind(&staff.refs)
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {RAW}.reporting_staff (id, school_id, district_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS s(id, school_id, district_id) WHERE school_id IS NOT NULL"
        )))
        .bind(&staff.ids)
        .bind(&places.0)
        .bind(&places.1)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

enum Bind {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    Text(String),
    Texts(Vec<String>),
    Date(time::Date),
    Dates(Vec<Option<time::Date>>),
    Smallints(Vec<i16>),
    Bytes(Vec<Vec<u8>>),
}

fn periods(
    table: &str,
    students: &[Uuid],
    class: Uuid,
    school_year: &str,
    from: time::Date,
) -> (String, Vec<Bind>) {
    (
        format!(
            "INSERT INTO {RAW}.{table} (student_id, class_id, school_year, from_date) SELECT s, $2, $3, $4 FROM unnest($1::uuid[]) AS s"
        ),
        vec![
            Bind::Uuids(students.to_vec()),
            Bind::Uuid(class),
            Bind::Text(school_year.to_owned()),
            Bind::Date(from),
        ],
    )
}

fn pairs(table: &str, guardians: &[Uuid], students: &[Uuid]) -> (String, Vec<Bind>) {
    (
        format!(
            "INSERT INTO {RAW}.{table} (guardian_id, student_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])"
        ),
        vec![
            Bind::Uuids(guardians.to_vec()),
            Bind::Uuids(students.to_vec()),
        ],
    )
}

/// People as columns, for one statement.
#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    names: Vec<String>,
    folded: Vec<String>,
    refs: Vec<String>,
    phones: Vec<String>,
    birth_dates: Vec<Option<time::Date>>,
}

impl Columns {
    fn push(&mut self, id: Uuid, name: &str, code: &str, phone: &str) {
        self.ids.push(id);
        self.names.push(name.to_owned());
        self.folded.push(school::text::fold(name));
        self.refs.push(code.to_owned());
        self.phones.push(phone.to_owned());
    }
}

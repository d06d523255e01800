//! The directory's tables from identity's events.

use kernel::dates;
use kernel::write_model::Fact;
use lienlac_proto::identity::v2 as pb;
use sqlx::PgConnection;

use super::id;
use crate::personal_data;

pub(super) async fn district_created(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::DistrictCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO districts (id, name, external_ref, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn school_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::SchoolCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO schools (id, district_id, name, external_ref, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id(&event.school_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn class_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::ClassCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO classes (id, school_id, district_id, name, grade, school_year, created_at, external_ref) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id(&event.class_id)?)
    .bind(id(&event.school_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(event.grade)
    .bind(&event.school_year)
    .bind(fact.recorded_at)
    .bind(optional(&event.external_ref))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn student_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentRegistered = fact.decode()?;
    let personal = personal_data::open(conn, fact).await?.unwrap_or_default();
    let birth_date = match personal.birth_date.as_str() {
        "" => None,
        text => {
            Some(dates::parse(text).ok_or_else(|| anyhow::anyhow!("birth_date is not a date"))?)
        }
    };
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, birth_date, gender, external_ref, created_at) \
         VALUES ($1, 'student', $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id(&event.student_id)?)
    .bind(id(&event.district_id)?)
    .bind(id(&event.school_id)?)
    .bind(&personal.full_name)
    .bind(school::text::fold(&personal.full_name))
    .bind(birth_date)
    .bind(event.gender as i16)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A class's roster: its students and guardians, the students' enrolments and
/// the guardianships, each written with one statement.
pub(super) async fn class_roster_imported(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::ClassRosterImported = fact.decode()?;
    let personal = personal_data::open_many(conn, fact).await?;
    let (district, school, class) = (
        id(&event.district_id)?,
        id(&event.school_id)?,
        id(&event.class_id)?,
    );
    let mut students = People::default();
    for student in &event.students {
        let person = id(&student.student_id)?;
        let fields = personal.get(&person).cloned().unwrap_or_default();
        let birth_date = match fields.birth_date.as_str() {
            "" => None,
            text => Some(
                dates::parse(text).ok_or_else(|| anyhow::anyhow!("birth_date is not a date"))?,
            ),
        };
        students.push(person, &fields.full_name, &student.external_ref);
        students.birth_dates.push(birth_date);
        students.genders.push(student.gender as i16);
    }
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, birth_date, gender, external_ref, created_at) \
         SELECT s.id, 'student', $1, $2, s.full_name, s.name_folded, s.birth_date, s.gender, s.external_ref, $3 \
         FROM unnest($4::uuid[], $5::text[], $6::text[], $7::date[], $8::int2[], $9::text[]) \
              AS s(id, full_name, name_folded, birth_date, gender, external_ref)",
    )
    .bind(district)
    .bind(school)
    .bind(fact.recorded_at)
    .bind(&students.ids)
    .bind(&students.full_names)
    .bind(&students.folded)
    .bind(&students.birth_dates)
    .bind(&students.genders)
    .bind(&students.external_refs)
    .execute(&mut *conn)
    .await?;
    let mut guardians = People::default();
    for guardian in &event.guardians {
        let person = id(&guardian.guardian_id)?;
        let fields = personal.get(&person).cloned().unwrap_or_default();
        guardians.push(person, &fields.full_name, &guardian.external_ref);
        guardians.phones.push(phone(fields.phone));
    }
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, full_name, name_folded, phone, created_at, external_ref) \
         SELECT g.id, 'guardian', $1, g.full_name, g.name_folded, g.phone, $2, nullif(g.external_ref, '') \
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) \
              AS g(id, full_name, name_folded, phone, external_ref)",
    )
    .bind(district)
    .bind(fact.recorded_at)
    .bind(&guardians.ids)
    .bind(&guardians.full_names)
    .bind(&guardians.folded)
    .bind(&guardians.phones)
    .bind(&guardians.external_refs)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO enrolments (student_id, school_year, class_id, active, updated_at) \
         SELECT s.id, $1, $2, true, $3 FROM unnest($4::uuid[]) AS s(id)",
    )
    .bind(&event.school_year)
    .bind(class)
    .bind(fact.recorded_at)
    .bind(&students.ids)
    .execute(&mut *conn)
    .await?;
    let mut links = (Vec::new(), Vec::new(), Vec::new());
    for link in &event.links {
        links.0.push(id(&link.guardian_id)?);
        links.1.push(id(&link.student_id)?);
        links.2.push(link.relation as i16);
    }
    sqlx::query(
        "INSERT INTO guardianships (guardian_id, student_id, relation) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int2[])",
    )
    .bind(&links.0)
    .bind(&links.1)
    .bind(&links.2)
    .execute(conn)
    .await?;
    Ok(())
}

/// People of one kind as columns, for one statement.
#[derive(Default)]
struct People {
    ids: Vec<uuid::Uuid>,
    full_names: Vec<String>,
    folded: Vec<String>,
    external_refs: Vec<String>,
    birth_dates: Vec<Option<time::Date>>,
    genders: Vec<i16>,
    phones: Vec<Option<String>>,
}

impl People {
    fn push(&mut self, id: uuid::Uuid, full_name: &str, external_ref: &str) {
        self.ids.push(id);
        self.full_names.push(full_name.to_owned());
        self.folded.push(school::text::fold(full_name));
        self.external_refs.push(external_ref.to_owned());
    }
}

pub(super) async fn staff_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StaffRegistered = fact.decode()?;
    let personal = personal_data::open(conn, fact).await?.unwrap_or_default();
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, phone, position, created_at, external_ref) \
         VALUES ($1, 'staff', $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id(&event.staff_id)?)
    .bind(id(&event.district_id)?)
    .bind(optional_id(&event.school_id)?)
    .bind(&personal.full_name)
    .bind(school::text::fold(&personal.full_name))
    .bind(phone(personal.phone))
    .bind(&event.position)
    .bind(fact.recorded_at)
    .bind(optional(&event.external_ref))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn guardian_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::GuardianRegistered = fact.decode()?;
    let personal = personal_data::open(conn, fact).await?.unwrap_or_default();
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, full_name, name_folded, phone, created_at, external_ref) \
         VALUES ($1, 'guardian', $2, $3, $4, $5, $6, $7)",
    )
    .bind(id(&event.guardian_id)?)
    .bind(id(&event.district_id)?)
    .bind(&personal.full_name)
    .bind(school::text::fold(&personal.full_name))
    .bind(phone(personal.phone))
    .bind(fact.recorded_at)
    .bind(optional(&event.external_ref))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn guardian_linked(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::GuardianLinked = fact.decode()?;
    sqlx::query(
        "INSERT INTO guardianships (guardian_id, student_id, relation) VALUES ($1, $2, $3)",
    )
    .bind(id(&event.guardian_id)?)
    .bind(id(&event.student_id)?)
    .bind(event.relation as i16)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn guardian_unlinked(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::GuardianUnlinked = fact.decode()?;
    sqlx::query("DELETE FROM guardianships WHERE guardian_id = $1 AND student_id = $2")
        .bind(id(&event.guardian_id)?)
        .bind(id(&event.student_id)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Enrolled anew, or again in a school year the student had left.
pub(super) async fn student_enrolled(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentEnrolled = fact.decode()?;
    sqlx::query(
        "INSERT INTO enrolments (student_id, school_year, class_id, active, updated_at) VALUES ($1, $2, $3, true, $4) \
         ON CONFLICT (student_id, school_year) DO UPDATE SET class_id = $3, active = true, updated_at = $4, since = $5",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.class_id)?)
    .bind(fact.recorded_at)
    .bind(school::dates::local_date(fact.recorded_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn student_transferred(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentTransferred = fact.decode()?;
    sqlx::query(
        "UPDATE enrolments SET class_id = $3, updated_at = $4, since = $5 WHERE student_id = $1 AND school_year = $2",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.to_class_id)?)
    .bind(fact.recorded_at)
    .bind(effective_date(&event.effective_date, fact)?)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn student_withdrawn(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentWithdrawn = fact.decode()?;
    sqlx::query(
        "UPDATE enrolments SET active = false, updated_at = $3 WHERE student_id = $1 AND school_year = $2",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn homeroom_teacher_assigned(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::HomeroomTeacherAssigned = fact.decode()?;
    sqlx::query("UPDATE classes SET homeroom_teacher_id = $2 WHERE id = $1")
        .bind(id(&event.class_id)?)
        .bind(id(&event.staff_id)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the directory held of the person beyond ids and codes is gone; their
/// accounts keep their ids for names.
pub(super) async fn personal_data_erased(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::PersonalDataErased = fact.decode()?;
    let person = id(&event.person_id)?;
    sqlx::query(
        "UPDATE people SET full_name = '', name_folded = '', birth_date = NULL, phone = NULL, \
         external_ref = NULL, display_name = NULL, erased_at = $2 WHERE id = $1",
    )
    .bind(person)
    .bind(fact.recorded_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE accounts SET username = $2 || id WHERE person_id = $1")
        .bind(person)
        .bind(personal_data::ERASED_USERNAME_PREFIX)
        .execute(conn)
        .await?;
    Ok(())
}

/// The name a guardian chose for conversations; none once they are erased.
pub(super) async fn display_name_chosen(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: lienlac_proto::identity::v2::DisplayNameChosen = fact.decode()?;
    let chosen = personal_data::open(conn, fact)
        .await?
        .map(|personal| personal.display_name)
        .filter(|name| !name.is_empty());
    sqlx::query("UPDATE people SET display_name = $2 WHERE id = $1")
        .bind(id(&event.person_id)?)
        .bind(chosen)
        .execute(conn)
        .await?;
    Ok(())
}

/// The corrected fields, each set only when `changed` names it.
pub(super) async fn person_updated(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::PersonUpdated = fact.decode()?;
    let personal = personal_data::open(conn, fact).await?.unwrap_or_default();
    let changed = |field: &str| event.changed.iter().any(|name| name == field);
    let birth_date = match personal.birth_date.as_str() {
        "" => None,
        text => {
            Some(dates::parse(text).ok_or_else(|| anyhow::anyhow!("birth_date is not a date"))?)
        }
    };
    sqlx::query(
        "UPDATE people SET \
           full_name = CASE WHEN $2 THEN $3 ELSE full_name END, \
           name_folded = CASE WHEN $2 THEN $4 ELSE name_folded END, \
           phone = CASE WHEN $5 THEN $6 ELSE phone END, \
           birth_date = CASE WHEN $7 THEN $8 ELSE birth_date END, \
           position = CASE WHEN $9 THEN $10 ELSE position END \
         WHERE id = $1",
    )
    .bind(id(&event.person_id)?)
    .bind(changed("full_name"))
    .bind(&personal.full_name)
    .bind(school::text::fold(&personal.full_name))
    .bind(changed("phone"))
    .bind(phone(personal.phone))
    .bind(changed("birth_date"))
    .bind(birth_date)
    .bind(changed("position"))
    .bind(&event.position)
    .execute(conn)
    .await?;
    Ok(())
}

/// A transfer's or withdrawal's effective date; the school date it was recorded
/// for events from before effective dates.
fn effective_date(text: &str, fact: &Fact<'_>) -> anyhow::Result<time::Date> {
    match text {
        "" => Ok(school::dates::local_date(fact.recorded_at)),
        text => dates::parse(text).ok_or_else(|| anyhow::anyhow!("effective_date is not a date")),
    }
}

/// A code or id an event leaves empty when there is none: NULL then.
fn optional(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn optional_id(text: &str) -> anyhow::Result<Option<uuid::Uuid>> {
    optional(text).map(id).transpose()
}

/// An erased person has no phone number (and no place in the unique phone indexes).
fn phone(phone: String) -> Option<String> {
    (!phone.is_empty()).then_some(phone)
}

//! The directory's tables from identity's events.

use kernel::dates;
use kernel::write_model::Fact;
use lienlac_proto::identity::v1 as pb;
use sqlx::PgConnection;

use super::id;

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
        "INSERT INTO classes (id, school_id, district_id, name, grade, school_year, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id(&event.class_id)?)
    .bind(id(&event.school_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(event.grade)
    .bind(&event.school_year)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn student_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentRegistered = fact.decode()?;
    let birth_date = dates::parse(&event.birth_date)
        .ok_or_else(|| anyhow::anyhow!("birth_date is not a date"))?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, birth_date, gender, external_ref, created_at) \
         VALUES ($1, 'student', $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id(&event.student_id)?)
    .bind(id(&event.district_id)?)
    .bind(id(&event.school_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(birth_date)
    .bind(event.gender as i16)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn staff_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StaffRegistered = fact.decode()?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, phone, position, created_at) \
         VALUES ($1, 'staff', $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id(&event.staff_id)?)
    .bind(id(&event.district_id)?)
    .bind(id(&event.school_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(&event.phone)
    .bind(&event.position)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn guardian_registered(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::GuardianRegistered = fact.decode()?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, full_name, name_folded, phone, created_at) \
         VALUES ($1, 'guardian', $2, $3, $4, $5, $6)",
    )
    .bind(id(&event.guardian_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(&event.phone)
    .bind(fact.recorded_at)
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

/// Enrolled anew, or again in a school year the student had left.
pub(super) async fn student_enrolled(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::StudentEnrolled = fact.decode()?;
    sqlx::query(
        "INSERT INTO enrolments (student_id, school_year, class_id, active, updated_at) VALUES ($1, $2, $3, true, $4) \
         ON CONFLICT (student_id, school_year) DO UPDATE SET class_id = $3, active = true, updated_at = $4",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.class_id)?)
    .bind(fact.recorded_at)
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
        "UPDATE enrolments SET class_id = $3, updated_at = $4 WHERE student_id = $1 AND school_year = $2",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.to_class_id)?)
    .bind(fact.recorded_at)
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

//! Who may read which report: the scope of each record from the directory read
//! model, and the roles that cover it.
//!
//! Guardians read their own children; homeroom teachers their class; school
//! leaders (principal, vice principal, IT officer) their school; district admins
//! and viewers their district. Operators only run rebuilds.

use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use school::roles::STUDENT_OVERSEERS;
use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ClassScope {
    pub(crate) id: Uuid,
    pub(crate) school_id: Uuid,
    pub(crate) district_id: Uuid,
    pub(crate) name: String,
}

impl ClassScope {
    pub(crate) fn target(&self) -> Target {
        Target::class(self.district_id, self.school_id, self.id)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SchoolScope {
    pub(crate) id: Uuid,
    pub(crate) district_id: Uuid,
    pub(crate) name: String,
}

impl SchoolScope {
    pub(crate) fn target(&self) -> Target {
        Target::school(self.district_id, self.id)
    }
}

pub(crate) async fn class(pool: &PgPool, class_id: Uuid) -> AppResult<ClassScope> {
    sqlx::query_as("SELECT id, school_id, district_id, name FROM classes WHERE id = $1")
        .bind(class_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::NotFound("class"))
}

pub(crate) async fn school(pool: &PgPool, school_id: Uuid) -> AppResult<SchoolScope> {
    sqlx::query_as("SELECT id, district_id, name FROM schools WHERE id = $1")
        .bind(school_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::NotFound("school"))
}

pub(crate) async fn district(pool: &PgPool, district_id: Uuid) -> AppResult<Target> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM districts WHERE id = $1)")
        .bind(district_id)
        .fetch_one(pool)
        .await?;
    if exists {
        Ok(Target::district(district_id))
    } else {
        Err(AppError::NotFound("district"))
    }
}

/// The scope the caller oversees the student in, among those the student was in
/// during `[from, to]`: the school, and each class the student was enrolled in.
pub(crate) async fn require_student(
    pool: &PgPool,
    caller: &Caller,
    student_id: Uuid,
    from: Date,
    to: Date,
) -> AppResult<Target> {
    let student: Option<(Uuid, Uuid)> =
        sqlx::query_as("SELECT school_id, district_id FROM students WHERE id = $1")
            .bind(student_id)
            .fetch_optional(pool)
            .await?;
    let Some((school_id, district_id)) = student else {
        return Err(AppError::NotFound("student"));
    };
    let classes: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.id, c.school_id FROM enrolment_periods e JOIN classes c ON c.id = e.class_id \
         WHERE e.student_id = $1 AND e.from_date <= $3 AND (e.to_date IS NULL OR e.to_date > $2)",
    )
    .bind(student_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut targets = vec![Target::school(district_id, school_id).with_student(student_id)];
    targets.extend(
        classes.into_iter().map(|(class, school)| {
            Target::class(district_id, school, class).with_student(student_id)
        }),
    );
    if let Some(target) = targets
        .into_iter()
        .find(|target| caller.holds(STUDENT_OVERSEERS, target))
    {
        Ok(target)
    } else {
        Err(tonic::Status::permission_denied(
            "only the student's guardians, homeroom teacher, school leaders and district may read this",
        )
        .into())
    }
}

//! The directory as attendance needs it (schools, classes, homeroom teachers,
//! enrolment periods, guardianships), projected from identity's events by the
//! consumer `attendance-directory` as every service keeps them
//! (school/src/directory.rs).

use kernel::consumer::{Projection, ReceivedEvent};
use kernel::error::{AppError, AppResult};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Ctx;

pub(crate) struct DirectoryProjection;

pub(crate) const CONSUMER: &str = "attendance-directory";

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        school::directory::project(conn, event).await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE schools, classes, enrolment_periods, guardianships")
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A class as attendance knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ClassRow {
    pub(crate) id: Uuid,
    pub(crate) school_id: Uuid,
    pub(crate) district_id: Uuid,
}

pub(crate) async fn class(
    conn: &mut PgConnection,
    class_id: Uuid,
) -> sqlx::Result<Option<ClassRow>> {
    sqlx::query_as("SELECT id, school_id, district_id FROM classes WHERE id = $1")
        .bind(class_id)
        .fetch_optional(conn)
        .await
}

/// The class as attendance knows it. A class's school and district never change,
/// so a class once found is kept in memory.
pub(crate) async fn known_class(ctx: &Ctx, class_id: Uuid) -> AppResult<ClassRow> {
    if let Some(class) = ctx
        .classes
        .read()
        .ok()
        .and_then(|known| known.get(&class_id).cloned())
    {
        return Ok(class);
    }
    let mut conn = ctx.pool.acquire().await?;
    let class = class(&mut conn, class_id)
        .await?
        .ok_or(AppError::NotFound("class"))?;
    if let Ok(mut known) = ctx.classes.write() {
        known.insert(class_id, class.clone());
    }
    Ok(class)
}

/// The district of a school attendance knows.
pub(crate) async fn school_district(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
        .bind(school_id)
        .fetch_optional(conn)
        .await
}

/// Where a student was last, for the log of reads of their data
/// (school/src/read_log.rs).
pub(crate) struct Students(pub(crate) sqlx::PgPool);

impl school::read_log::StudentScope for Students {
    fn student(
        &self,
        id: Uuid,
    ) -> school::read_log::BoxFuture<'_, AppResult<kernel::auth::Target>> {
        Box::pin(async move {
            school::enrolments::latest_class(&mut *self.0.acquire().await?, id)
                .await?
                .ok_or(AppError::NotFound("student"))
        })
    }
}

//! Which classes of a school have not taken a roll call yet: what a principal
//! checks at 8 a.m.

use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use lienlac_proto::attendance::v1 as pb;
use school::roles::SCHOOL_OVERSEERS;
use time::Date;
use uuid::Uuid;

use crate::Ctx;
use crate::directory;

pub(crate) async fn missing(
    ctx: &Ctx,
    caller: &Caller,
    school_id: Uuid,
    date: Date,
    session: pb::Session,
) -> AppResult<pb::ListMissingRollCallsResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let district = directory::school_district(&mut conn, school_id)
        .await?
        .ok_or(AppError::NotFound("school"))?;
    caller.require(SCHOOL_OVERSEERS, &Target::school(district, school_id))?;
    let closed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM closures WHERE school_id = $1 AND from_date <= $2 AND to_date >= $2)",
    )
    .bind(school_id)
    .bind(date)
    .fetch_one(&mut *conn)
    .await?;
    // Classes with students on that date: the school year's classes.
    let classes: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT c.id, EXISTS (SELECT 1 FROM roll_calls r WHERE r.class_id = c.id AND r.date = $2 AND r.session = $3) \
         FROM classes c WHERE c.school_id = $1 AND EXISTS ( \
             SELECT 1 FROM enrolment_periods e WHERE e.class_id = c.id AND e.from_date <= $2 AND (e.to_date IS NULL OR e.to_date > $2)) \
         ORDER BY c.id",
    )
    .bind(school_id)
    .bind(date)
    .bind(session as i16)
    .fetch_all(&mut *conn)
    .await?;
    Ok(pb::ListMissingRollCallsResponse {
        class_ids: if closed {
            Vec::new()
        } else {
            classes
                .iter()
                .filter(|(_, taken)| !taken)
                .map(|(id, _)| id.to_string())
                .collect()
        },
        classes_total: classes.len() as i32,
        closed,
    })
}

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

/// How often the gauge of classes still without a morning roll call is set.
pub(crate) const GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Sets `lienlac_attendance_classes_without_roll_call{school}` every
/// `GAUGE_EVERY` to the classes of each school with students and no roll call
/// for this morning yet (zero for a closed school): what the 8:30 alert of
/// deploy/observability/alerts.yml watches. Every replica sets it; the rule takes
/// the largest.
pub(crate) async fn gauge_until(
    pool: sqlx::PgPool,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut every = tokio::time::interval(GAUGE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = every.tick() => {}
        }
        let today = school::dates::local_today();
        match without_roll_call(&pool, today).await {
            Ok(schools) => {
                for (school_id, classes) in schools {
                    metrics::gauge!("lienlac_attendance_classes_without_roll_call", "school" => school_id.to_string())
                        .set(classes as f64);
                }
            }
            // The next round tries again; Postgres down is alerted on by itself.
            Err(error) => {
                tracing::warn!(error = %error, "counting classes without a roll call failed")
            }
        }
    }
}

async fn without_roll_call(pool: &sqlx::PgPool, date: Date) -> sqlx::Result<Vec<(Uuid, i64)>> {
    sqlx::query_as(
        "SELECT c.school_id, count(*) FILTER (WHERE \
             NOT EXISTS (SELECT 1 FROM roll_calls r WHERE r.class_id = c.id AND r.date = $1 AND r.session = $2) \
             AND NOT EXISTS (SELECT 1 FROM closures k WHERE k.school_id = c.school_id AND k.from_date <= $1 AND k.to_date >= $1)) \
         FROM classes c WHERE EXISTS ( \
             SELECT 1 FROM enrolment_periods e WHERE e.class_id = c.id AND e.from_date <= $1 AND (e.to_date IS NULL OR e.to_date > $1)) \
         GROUP BY c.school_id",
    )
    .bind(date)
    .bind(pb::Session::Morning as i16)
    .fetch_all(pool)
    .await
}

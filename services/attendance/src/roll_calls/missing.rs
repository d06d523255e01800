//! Which classes of a school have not taken a roll call yet: what a principal
//! checks at 8 a.m.

use std::collections::{BTreeMap, HashSet};

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
    let closed = closed_schools(&mut conn, Some(school_id), date)
        .await?
        .contains(&school_id);
    let classes: Vec<(Uuid, bool)> =
        classes_with_students(&mut conn, Some(school_id), date, session)
            .await?
            .into_iter()
            .map(|(_, class_id, taken)| (class_id, taken))
            .collect();
    Ok(pb::ListMissingRollCallsResponse {
        class_ids: missing_classes(&classes, closed)
            .iter()
            .map(Uuid::to_string)
            .collect(),
        classes_total: classes.len() as i32,
        closed,
    })
}

/// The classes still to take a roll call, of a school's classes with students
/// and whether each has taken it: none while the school is closed.
fn missing_classes(classes: &[(Uuid, bool)], closed: bool) -> Vec<Uuid> {
    if closed {
        return Vec::new();
    }
    classes
        .iter()
        .filter(|(_, taken)| !taken)
        .map(|(class_id, _)| *class_id)
        .collect()
}

/// The schools (`school`, or every one) closed on `date`.
async fn closed_schools(
    conn: &mut sqlx::PgConnection,
    school: Option<Uuid>,
    date: Date,
) -> sqlx::Result<HashSet<Uuid>> {
    let closed: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT school_id FROM closures \
         WHERE ($1::uuid IS NULL OR school_id = $1) AND from_date <= $2 AND to_date >= $2",
    )
    .bind(school)
    .bind(date)
    .fetch_all(conn)
    .await?;
    Ok(closed.into_iter().collect())
}

/// The classes (of `school`, or of every school) with students on `date`, the
/// school year's classes: (school, class, whether its `session` roll call is
/// taken), by class.
async fn classes_with_students(
    conn: &mut sqlx::PgConnection,
    school: Option<Uuid>,
    date: Date,
    session: pb::Session,
) -> sqlx::Result<Vec<(Uuid, Uuid, bool)>> {
    sqlx::query_as(
        "SELECT c.school_id, c.id, EXISTS (SELECT 1 FROM roll_calls r WHERE r.class_id = c.id AND r.date = $2 AND r.session = $3) \
         FROM classes c WHERE ($1::uuid IS NULL OR c.school_id = $1) AND EXISTS ( \
             SELECT 1 FROM enrolment_periods e WHERE e.class_id = c.id AND e.from_date <= $2 AND (e.to_date IS NULL OR e.to_date > $2)) \
         ORDER BY c.id",
    )
    .bind(school)
    .bind(date)
    .bind(session as i16)
    .fetch_all(conn)
    .await
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
                for (school_id, missing) in schools {
                    metrics::gauge!("lienlac_attendance_classes_without_roll_call", "school" => school_id.to_string())
                        .set(missing as f64);
                }
            }
            // The next round tries again; Postgres down is alerted on by itself.
            Err(error) => {
                tracing::warn!(error = %error, "counting classes without a roll call failed")
            }
        }
    }
}

/// Each school with students on `date` and how many of its classes have not
/// taken this morning's roll call.
async fn without_roll_call(pool: &sqlx::PgPool, date: Date) -> sqlx::Result<Vec<(Uuid, usize)>> {
    let mut conn = pool.acquire().await?;
    let closed = closed_schools(&mut conn, None, date).await?;
    let mut by_school: BTreeMap<Uuid, Vec<(Uuid, bool)>> = BTreeMap::new();
    for (school_id, class_id, taken) in
        classes_with_students(&mut conn, None, date, pb::Session::Morning).await?
    {
        by_school
            .entry(school_id)
            .or_default()
            .push((class_id, taken));
    }
    Ok(by_school
        .into_iter()
        .map(|(school_id, classes)| {
            let missing = missing_classes(&classes, closed.contains(&school_id)).len();
            (school_id, missing)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classes_still_to_take_a_roll_call_are_those_without_one_unless_the_school_is_closed() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        // (case, each class and whether taken, closed, the classes still to take it)
        type Case = (&'static str, Vec<(Uuid, bool)>, bool, Vec<Uuid>);
        let cases: [Case; 5] = [
            ("no class", vec![], false, vec![]),
            (
                "every class taken",
                vec![(a, true), (b, true)],
                false,
                vec![],
            ),
            (
                "some taken",
                vec![(a, true), (b, false), (c, false)],
                false,
                vec![b, c],
            ),
            ("none taken", vec![(a, false)], false, vec![a]),
            ("closed", vec![(a, false), (b, false)], true, vec![]),
        ];
        for (case, classes, closed, expected) in cases {
            assert_eq!(missing_classes(&classes, closed), expected, "{case}");
        }
    }
}

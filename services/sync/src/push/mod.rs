//! Month-end totals to the city database. Each `MonthClosed` of attendance is
//! kept as the class's month to send (the consumer `sync-attendance`); a worker
//! sends what is due under the close's event id as the idempotency key, tries
//! again with backoff while the city database does not answer, and records its
//! refusals with the reason. An amended close replaces the one before and is
//! sent again; a month reopened before it was sent waits to be closed again.
//! Each outcome is `MonthTotalsPushed` on the bus.

pub(crate) mod status;

use std::time::Duration;

use kernel::consumer::{Projection, ReceivedEvent};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, append, stream_version};
use lienlac_proto::attendance::v1::StudentMonthTotals;
use lienlac_proto::attendance::v2 as attendance;
use lienlac_proto::sync::v1 as pb;
use school::enrolments::uuid;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Ctx;
use crate::source::citydb::{MonthTotals, SourceError, StudentTotals};

/// The longest wait between two tries of one month.
const LONGEST_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a replica holds the months it is sending.
const CLAIM: Duration = Duration::from_secs(60);

/// When to try a month again after `attempts` failed tries: 5 s, 10 s, 20 s …
/// up to an hour.
pub(crate) fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(0, 20) as u32;
    Duration::from_secs(5u64.saturating_mul(1 << exponent)).min(LONGEST_BACKOFF)
}

pub(crate) struct AttendanceProjection;

impl Projection for AttendanceProjection {
    fn name(&self) -> &str {
        "sync-attendance"
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        match event.name() {
            "MonthClosed" => {
                let closed: attendance::MonthClosed = event.decode()?;
                sqlx::query(
                    "INSERT INTO month_pushes (class_id, month, school_id, close_id, amended, totals, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending') \
                     ON CONFLICT (class_id, month) DO UPDATE SET close_id = $4, amended = $5, totals = $6, \
                       state = 'pending', attempts = 0, next_at = now(), reason = '' \
                     WHERE month_pushes.close_id <> $4",
                )
                .bind(uuid("class_id", &closed.class_id)?)
                .bind(&closed.month)
                .bind(uuid("school_id", &closed.school_id)?)
                .bind(event.event_id)
                .bind(closed.amended)
                .bind(sqlx::types::Json(&closed.totals))
                .execute(conn)
                .await?;
            }
            "MonthReopened" => {
                let reopened: attendance::MonthReopened = event.decode()?;
                sqlx::query(
                    "UPDATE month_pushes SET state = 'reopened' WHERE class_id = $1 AND month = $2 AND state = 'pending'",
                )
                .bind(uuid("class_id", &reopened.class_id)?)
                .bind(&reopened.month)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE month_pushes").execute(conn).await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct Due {
    class_id: Uuid,
    month: String,
    school_id: Uuid,
    close_id: Uuid,
    amended: bool,
    totals: sqlx::types::Json<Vec<StudentMonthTotals>>,
    attempts: i32,
}

/// Sends due months until stopped.
pub(crate) async fn work(ctx: Ctx, every: Duration, stop: CancellationToken) -> anyhow::Result<()> {
    loop {
        if let Err(error) = send_due(&ctx).await {
            tracing::warn!(error = %format!("{error:#}"), "sending month-end totals failed");
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}

async fn send_due(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(citydb) = ctx.citydb.as_deref() else {
        return Ok(());
    };
    let due: Vec<Due> = sqlx::query_as(
        "UPDATE month_pushes SET next_at = now() + $1 WHERE (class_id, month) IN ( \
           SELECT class_id, month FROM month_pushes WHERE state = 'pending' AND next_at <= now() \
           ORDER BY next_at LIMIT 50 FOR UPDATE SKIP LOCKED) \
         RETURNING class_id, month, school_id, close_id, amended, totals, attempts",
    )
    .bind(CLAIM)
    .fetch_all(&ctx.pool)
    .await?;
    for month in due {
        let outcome = match totals_for_city(&ctx.pool, &month).await? {
            Err(reason) => Err(SourceError::Refused {
                what: "a class's month".to_owned(),
                status: 0,
                message: reason,
            }),
            Ok(totals) => {
                citydb
                    .send_month(&month.close_id.to_string(), &totals)
                    .await
            }
        };
        record(ctx, &month, outcome).await?;
    }
    Ok(())
}

/// The month with the city's codes, or why it cannot be sent.
async fn totals_for_city(
    pool: &sqlx::PgPool,
    month: &Due,
) -> anyhow::Result<Result<MonthTotals, String>> {
    let codes: Option<(String, String)> = sqlx::query_as(
        "SELECT s.external_ref, c.external_ref FROM classes c JOIN schools s ON s.id = c.school_id WHERE c.id = $1",
    )
    .bind(month.class_id)
    .fetch_optional(pool)
    .await?;
    let Some((school_code, class_code)) = codes.filter(|(s, c)| !s.is_empty() && !c.is_empty())
    else {
        return Ok(Err(
            "the class is not mirrored from the city database".to_owned()
        ));
    };
    let ids: Vec<Uuid> = month
        .totals
        .iter()
        .filter_map(|t| Uuid::parse_str(&t.student_id).ok())
        .collect();
    let refs: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, external_ref FROM students WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    let code_of: std::collections::HashMap<Uuid, String> = refs.into_iter().collect();
    let mut students = Vec::new();
    for totals in month.totals.iter() {
        let code = Uuid::parse_str(&totals.student_id)
            .ok()
            .and_then(|id| code_of.get(&id))
            .filter(|code| !code.is_empty());
        let Some(code) = code else {
            return Ok(Err(format!(
                "student {} has no code of the city database",
                totals.student_id
            )));
        };
        students.push(StudentTotals {
            student_code: code.clone(),
            absent_excused: totals.absent_excused_sessions,
            absent_unexcused: totals.absent_unexcused_sessions,
            late: totals.late_count,
        });
    }
    Ok(Ok(MonthTotals {
        school_code,
        class_code,
        month: month.month.clone(),
        students,
        amended: month.amended,
    }))
}

/// What became of one try: sent, refused (for good), or to be tried again.
async fn record(ctx: &Ctx, month: &Due, outcome: Result<(), SourceError>) -> anyhow::Result<()> {
    let mut tx = ctx.pool.begin().await?;
    let (state, reason) = match &outcome {
        Ok(()) => ("sent", String::new()),
        Err(SourceError::Refused { message, .. }) => ("refused", message.clone()),
        Err(other) => ("pending", other.to_string()),
    };
    // Only the close this try sent: a later close replaced it meanwhile.
    let updated = sqlx::query(
        "UPDATE month_pushes SET state = $4, reason = $5, attempts = attempts + 1, \
           next_at = now() + $6, sent_at = CASE WHEN $4 = 'sent' THEN now() ELSE sent_at END \
         WHERE class_id = $1 AND month = $2 AND close_id = $3 AND state = 'pending'",
    )
    .bind(month.class_id)
    .bind(&month.month)
    .bind(month.close_id)
    .bind(state)
    .bind(&reason)
    .bind(backoff(month.attempts))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 1 && state != "pending" {
        let event = pb::MonthTotalsPushed {
            class_id: month.class_id.to_string(),
            school_id: month.school_id.to_string(),
            month: month.month.clone(),
            outcome: state.to_owned(),
            reason: reason.clone(),
            amended: month.amended,
        };
        let district: Option<Uuid> =
            sqlx::query_scalar("SELECT district_id FROM schools WHERE id = $1")
                .bind(month.school_id)
                .fetch_optional(&mut *tx)
                .await?;
        let stream = format!("month-push:{}:{}", month.class_id, month.month);
        let version = stream_version(&mut tx, &stream).await?;
        let meta = EventMeta::for_command(None);
        let meta = match district {
            Some(district) => meta.in_tenant(district, Some(month.school_id)),
            None => meta,
        };
        append(
            &mut tx,
            &stream,
            ExpectedVersion::from_loaded(version),
            &[NewEvent::from_message(&event)?],
            &meta,
        )
        .await?;
    } else if state == "pending" {
        tracing::warn!(class = %month.class_id, month = %month.month, reason, "the city database did not take a month; trying again later");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_the_city_did_not_take_is_tried_again_less_and_less_often_up_to_an_hour() {
        let waits: Vec<u64> = [0, 1, 2, 5, 9, 10, 40]
            .iter()
            .map(|a| backoff(*a).as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 20, 160, 2560, 3600, 3600]);
    }
}

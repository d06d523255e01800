//! `ReceiptsUpdated`: how far each announcement has reached, published in
//! batches for the services that count reading (adoption), never who read (nor
//! for an announcement to fewer than five guardians). The commands that deliver,
//! read or confirm an announcement mark it in `receipts_changed` ([`MARK_CHANGED`]); every few seconds one replica (whoever takes the lock)
//! reports the marked ones and removes their marks in the same transaction, so a
//! change is reported once, even across a crash.

use std::time::Duration;

use kernel::event_store::EventMeta;
use lienlac_proto::messaging::v1 as pb;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::write_model::append_next;

/// Announcements reported per transaction.
const BATCH: i64 = 200;

/// The common table expression that marks the announcements of a CTE `changed`
/// (rows with an `announcement_id`) for the next report, in the statement that
/// changed them: a change is never left unmarked.
pub(crate) const MARK_CHANGED: &str = "marked AS (INSERT INTO receipts_changed (announcement_id) \
    SELECT DISTINCT announcement_id FROM changed ON CONFLICT DO NOTHING)";

/// Announcements to fewer guardians report nothing: with the audience published,
/// one guardian's count would say that they read it.
const MIN_RECIPIENTS: i64 = 5;

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    district_id: Uuid,
    school_id: Option<Uuid>,
    recipients: i64,
    delivered: i64,
    read: i64,
    acknowledged: i64,
    reported_delivered: i64,
    reported_read: i64,
    reported_acknowledged: i64,
}

/// Delivered, read and acknowledged.
type Counts = (i64, i64, i64);

/// Whether an announcement's counts are published: not for fewer than
/// [`MIN_RECIPIENTS`] guardians, and not when they are what was reported last (a
/// guardian opening an announcement again changes no count).
fn worth_reporting(recipients: i64, counts: Counts, reported: Counts) -> bool {
    recipients >= MIN_RECIPIENTS && counts != reported
}

/// Reports every `every` (at least every 100 ms) until `shutdown`.
pub(crate) async fn run(pool: PgPool, every: Duration, shutdown: CancellationToken) {
    let every = every.max(Duration::from_millis(100));
    crate::periodic::in_batches("announcement receipts", every, BATCH, shutdown, || {
        report(&pool)
    })
    .await;
}

/// One batch: the counts of marked announcements as events, the marks removed.
/// How many were reported.
async fn report(pool: &PgPool) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    if !crate::periodic::leads(&mut tx, "messaging.receipts").await? {
        return Ok(0);
    }
    let marked: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM receipts_changed WHERE announcement_id IN \
         (SELECT announcement_id FROM receipts_changed LIMIT $1) RETURNING announcement_id",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for id in &marked {
        let row: Option<ReceiptRow> = sqlx::query_as(
            "SELECT a.district_id, a.school_id, a.recipients, \
             (SELECT count(delivered_at) FROM announcement_recipients WHERE announcement_id = a.id) AS delivered, \
             (SELECT count(read_at) FROM announcement_recipients WHERE announcement_id = a.id) AS read, \
             (SELECT count(acknowledged_at) FROM announcement_recipients WHERE announcement_id = a.id) AS acknowledged, \
             a.reported_delivered, a.reported_read, a.reported_acknowledged \
             FROM announcements a WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            continue;
        };
        let counts = (row.delivered, row.read, row.acknowledged);
        let reported = (
            row.reported_delivered,
            row.reported_read,
            row.reported_acknowledged,
        );
        if !worth_reporting(row.recipients, counts, reported) {
            continue;
        }
        let (district, school, recipients) = (row.district_id, row.school_id, row.recipients);
        let (delivered, read, acknowledged) = counts;
        let event = pb::ReceiptsUpdated {
            announcement_id: id.to_string(),
            school_id: school.map(|s| s.to_string()).unwrap_or_default(),
            recipients,
            delivered,
            read,
            acknowledged,
        };
        let meta = EventMeta::for_command(None).in_tenant(district, school);
        append_next(&mut tx, &format!("announcement:{id}"), &event, &meta).await?;
    }
    tx.commit().await?;
    Ok(marked.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_reported_when_they_changed_and_the_audience_hides_each_guardian() {
        for (recipients, counts, reported, expected) in [
            (30, (30, 12, 4), (30, 11, 4), true),
            (30, (30, 12, 4), (30, 12, 4), false),
            (30, (1, 0, 0), (0, 0, 0), true),
            (4, (4, 1, 0), (4, 0, 0), false),
            (5, (5, 1, 0), (5, 0, 0), true),
        ] {
            assert_eq!(
                worth_reporting(recipients, counts, reported),
                expected,
                "{recipients} {counts:?} {reported:?}"
            );
        }
    }
}

//! Scheduled announcements come out at their time: a task, on one replica at a
//! time, records `AnnouncementShown` for each whose time has passed, so live
//! delivery (`Subscribe`, which follows the event store) and subscribers on the
//! bus learn of it then, not when it was written.

use std::time::Duration;

use kernel::event_store::EventMeta;
use lienlac_proto::messaging::v1 as pb;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::write_model::append_next;

/// How often due announcements are looked for: a scheduled one comes out within
/// a second of its time.
const EVERY: Duration = Duration::from_secs(1);
const BATCH: i64 = 100;

pub(crate) async fn run(pool: PgPool, shutdown: CancellationToken) {
    crate::periodic::in_batches("scheduled announcements", EVERY, BATCH, shutdown, || {
        show_due(&pool)
    })
    .await;
}

/// One batch of due announcements shown; how many.
async fn show_due(pool: &PgPool) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    if !crate::periodic::leads(&mut tx, "messaging.schedule").await? {
        return Ok(0);
    }
    let due: Vec<(Uuid, Uuid, Option<Uuid>, OffsetDateTime, i64)> = sqlx::query_as(
        "SELECT id, district_id, school_id, visible_at, recipients FROM announcements \
         WHERE shown_at IS NULL AND visible_at <= now() ORDER BY visible_at LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for &(id, district, school, visible_at, recipients) in &due {
        let event = pb::AnnouncementShown {
            announcement_id: id.to_string(),
            school_id: school.map(|s| s.to_string()).unwrap_or_default(),
            visible_at: kernel::dates::rfc3339(visible_at),
            recipients,
        };
        let meta = EventMeta::for_command(None).in_tenant(district, school);
        append_next(&mut tx, &format!("announcement:{id}"), &event, &meta).await?;
    }
    tx.commit().await?;
    Ok(due.len() as i64)
}

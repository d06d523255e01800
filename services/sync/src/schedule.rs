//! Scheduled runs of every mirrored district (one whose unit a full run of the
//! city database has read): an incremental run from the change feed every
//! `SYNC_INCREMENTAL_EVERY`, a full comparison each night at `SYNC_NIGHTLY_AT`.
//! Replicas agree through a lock per district: one starts a due run, the others
//! find it started.

use std::time::Duration;

use time::{OffsetDateTime, Time};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Ctx;
use crate::runs::{self, Mode, NewRun, Scope};

/// When scheduled runs come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// `None`: no incremental runs.
    pub incremental_every: Option<Duration>,
    /// Local time of the nightly full run; `None`: none.
    pub nightly_at: Option<Time>,
}

/// What a district's runs were: when the last run began, and when the last full
/// run began (local times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Last {
    pub any: Option<OffsetDateTime>,
    pub full: Option<OffsetDateTime>,
}

/// The run due for a district at `now` (local), if any: the night's full run
/// once its hour has come and none began since, else an incremental run once
/// the last run is `incremental_every` old.
pub(crate) fn due(schedule: &Schedule, now: OffsetDateTime, last: Last) -> Option<Mode> {
    if let Some(at) = schedule.nightly_at {
        let tonight = now.replace_time(at);
        let hour_came = if now >= tonight {
            tonight
        } else {
            tonight - time::Duration::days(1)
        };
        if last.full.is_none_or(|full| full < hour_came) {
            return Some(Mode::Full);
        }
    }
    let every = schedule.incremental_every?;
    match last.any {
        Some(any) if now - any < every => None,
        _ => Some(Mode::Incremental),
    }
}

pub(crate) async fn work(
    ctx: Ctx,
    schedule: Schedule,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if schedule.incremental_every.is_none() && schedule.nightly_at.is_none() {
        // A task of the service ends only with it.
        stop.cancelled().await;
        return Ok(());
    }
    loop {
        if let Err(error) = start_due(&ctx, &schedule).await {
            tracing::warn!(error = %format!("{error:#}"), "starting scheduled sync runs failed");
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

async fn start_due(ctx: &Ctx, schedule: &Schedule) -> anyhow::Result<()> {
    if ctx.citydb.is_none() || ctx.mirror.is_none() {
        return Ok(());
    }
    let mirrored: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT d.id, d.external_ref FROM districts d JOIN sync_cursors c ON c.unit_code = d.external_ref",
    )
    .fetch_all(&ctx.pool)
    .await?;
    for (district, unit_code) in mirrored {
        let mut tx = ctx.pool.begin().await?;
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext('sync-schedule:' || $1::text))",
        )
        .bind(district)
        .fetch_one(&mut *tx)
        .await?;
        if !locked {
            continue;
        }
        let (running, any, full): (bool, Option<OffsetDateTime>, Option<OffsetDateTime>) = sqlx::query_as(
            "SELECT bool_or(state = 'running') IS TRUE, max(started_at) FILTER (WHERE NOT dry_run), \
                    max(started_at) FILTER (WHERE mode = 'full' AND NOT dry_run AND school_id IS NULL) \
             FROM sync_runs WHERE district_id = $1 AND source = 'citydb'",
        )
        .bind(district)
        .fetch_one(&mut *tx)
        .await?;
        let now = OffsetDateTime::now_utc().to_offset(school::dates::local_offset());
        let local = |at: OffsetDateTime| at.to_offset(school::dates::local_offset());
        let last = Last {
            any: any.map(local),
            full: full.map(local),
        };
        if running {
            continue;
        }
        let Some(mode) = due(schedule, now, last) else {
            continue;
        };
        let new = NewRun {
            scope: Scope::District {
                district_id: district,
                unit_code,
            },
            source: "citydb".to_owned(),
            mode,
            dry_run: false,
            started_by: None,
        };
        runs::insert(&mut tx, &new).await?;
        tx.commit().await?;
        tracing::info!(%district, mode = mode.as_str(), "scheduled sync run started");
        ctx.wake.notify_one();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    #[test]
    fn given_the_last_runs_then_the_night_brings_a_full_run_and_the_day_incremental_ones() {
        let schedule = Schedule {
            incremental_every: Some(Duration::from_secs(15 * 60)),
            nightly_at: Some(time!(02:00)),
        };
        let at = |text: OffsetDateTime| Some(text);
        // (now, last run, last full run, due)
        type Row = (
            OffsetDateTime,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Option<Mode>,
        );
        let table: [Row; 6] = [
            (datetime!(2026-11-30 10:00 +7), None, None, Some(Mode::Full)),
            (
                datetime!(2026-11-30 10:00 +7),
                at(datetime!(2026-11-30 09:50 +7)),
                at(datetime!(2026-11-30 02:00 +7)),
                None,
            ),
            (
                datetime!(2026-11-30 10:00 +7),
                at(datetime!(2026-11-30 09:40 +7)),
                at(datetime!(2026-11-30 02:00 +7)),
                Some(Mode::Incremental),
            ),
            (
                datetime!(2026-12-01 01:59 +7),
                at(datetime!(2026-12-01 01:50 +7)),
                at(datetime!(2026-11-30 02:01 +7)),
                None,
            ),
            (
                datetime!(2026-12-01 02:00 +7),
                at(datetime!(2026-12-01 01:50 +7)),
                at(datetime!(2026-11-30 02:01 +7)),
                Some(Mode::Full),
            ),
            (
                datetime!(2026-12-01 02:05 +7),
                at(datetime!(2026-12-01 02:00 +7)),
                at(datetime!(2026-12-01 02:00 +7)),
                None,
            ),
        ];
        for (now, any, full, expected) in table {
            assert_eq!(due(&schedule, now, Last { any, full }), expected, "{now}");
        }
        let nightly_only = Schedule {
            incremental_every: None,
            ..schedule
        };
        let last = Last {
            any: at(datetime!(2026-11-30 02:00 +7)),
            full: at(datetime!(2026-11-30 02:00 +7)),
        };
        assert_eq!(
            due(&nightly_only, datetime!(2026-11-30 23:00 +7), last),
            None
        );
    }
}

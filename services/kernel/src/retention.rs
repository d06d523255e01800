//! What the kernel's tables keep only for a while, and the job that prunes them in
//! every service schema: consumers' inbox rows (a redelivery comes within minutes;
//! rows are kept far longer), idempotency records (a phone that lost an answer
//! retries within days) and the log of reads of students' data
//! (crate::access_log). Defaults and their reasons are in docs/privacy.md.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `inbox` rows of handled events (`LIENLAC_RETENTION_INBOX`).
    pub inbox: Duration,
    /// Recorded answers to requests (`LIENLAC_RETENTION_REQUESTS`).
    pub requests: Duration,
    /// The log of reads of students' data (`LIENLAC_RETENTION_DATA_ACCESS`).
    pub data_access: Duration,
    /// How often the job runs.
    pub interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            inbox: Duration::from_secs(14 * DAY),
            requests: Duration::from_secs(30 * DAY),
            data_access: Duration::from_secs(365 * DAY),
            interval: Duration::from_secs(60 * 60),
        }
    }
}

impl RetentionSettings {
    /// Each period is at least a day: shorter would forget a retry's first answer or
    /// a handled event while they still matter.
    pub fn check(&self) -> Result<(), crate::config::ConfigError> {
        const DAY: Duration = Duration::from_secs(24 * 60 * 60);
        for (name, kept) in [
            ("LIENLAC_RETENTION_INBOX", self.inbox),
            ("LIENLAC_RETENTION_REQUESTS", self.requests),
            ("LIENLAC_RETENTION_DATA_ACCESS", self.data_access),
        ] {
            if kept < DAY {
                return Err(crate::config::ConfigError {
                    name: name.to_owned(),
                    reason: "must be at least a day (such as 14d)".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Rows deleted per statement, so that a first run over a large table does not hold
/// locks or a transaction for long.
const BATCH: i64 = 10_000;

/// Each table, its timestamp column, and the setting that keeps it.
fn tables(settings: &RetentionSettings) -> [(&'static str, &'static str, Duration); 3] {
    [
        ("inbox", "handled_at", settings.inbox),
        ("requests", "recorded_at", settings.requests),
        ("data_access", "read_at", settings.data_access),
    ]
}

/// Deletes what is older than its retention; returns the rows deleted per table.
pub async fn prune(
    pool: &PgPool,
    settings: &RetentionSettings,
) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let mut pruned = Vec::new();
    for (table, column, keep) in tables(settings) {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} \
             WHERE {column} < now() - make_interval(secs => $1) LIMIT $2)"
        );
        let mut deleted = 0;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(keep.as_secs_f64())
                .bind(BATCH)
                .execute(pool)
                .await?
                .rows_affected();
            deleted += rows;
            if rows < BATCH as u64 {
                break;
            }
        }
        pruned.push((table, deleted));
    }
    Ok(pruned)
}

/// Prunes every `settings.interval` until `shutdown`; a failed run is logged and
/// tried again at the next interval.
pub async fn run(
    pool: PgPool,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        match prune(&pool, &settings).await {
            Ok(pruned) => {
                for (table, rows) in pruned.into_iter().filter(|(_, rows)| *rows > 0) {
                    tracing::info!(table, rows, "pruned past its retention");
                }
            }
            Err(error) => tracing::warn!(%error, "pruning failed; trying again later"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(settings.interval) => {}
        }
    }
}

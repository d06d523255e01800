//! Sync runs. Starting one records it (a row and `SyncRunStarted`, in one
//! transaction); whichever replica takes its lease carries it out (execute.rs)
//! and renews the lease as it goes, so a run whose replica died is taken over
//! once the lease lapses and finishes its plan; completing it records the counts
//! and `SyncRunCompleted`.

use std::collections::BTreeMap;
use std::time::Duration;

use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey, append};
use lienlac_proto::sync::v1 as pb;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Ctx;
use crate::plan::Change;
use crate::source::RowError;

/// What a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A district: its schools and its office, as the source's unit has them.
    District {
        district_id: Uuid,
        unit_code: String,
    },
    School {
        district_id: Uuid,
        school_id: Uuid,
        unit_code: String,
    },
    /// A unit of the source that is no district yet.
    Unit { unit_code: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Full,
    Incremental,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
        }
    }
}

pub(crate) struct NewRun {
    pub scope: Scope,
    /// `citydb`, or `file:<name>`.
    pub source: String,
    pub mode: Mode,
    pub dry_run: bool,
    pub started_by: Option<Uuid>,
}

/// A run as its row holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: Uuid,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
    pub unit_code: String,
    pub source: String,
    pub mode: String,
    pub dry_run: bool,
    pub state: String,
    pub started_at: time::OffsetDateTime,
    pub finished_at: Option<time::OffsetDateTime>,
    pub started_by: Option<Uuid>,
    pub planned: sqlx::types::Json<BTreeMap<String, i64>>,
    pub applied: sqlx::types::Json<BTreeMap<String, i64>>,
    pub row_error_count: i64,
    pub failure: String,
}

const RUN_COLUMNS: &str = "id, district_id, school_id, unit_code, source, mode, dry_run, state, started_at, \
     finished_at, started_by, planned, applied, row_error_count, failure";

fn stream(run: Uuid) -> String {
    format!("sync-run:{run}")
}

fn meta(by: Option<Uuid>, district: Option<Uuid>, school: Option<Uuid>) -> EventMeta {
    let meta = EventMeta::for_command(by.map(|b| b.to_string()));
    match district {
        Some(district) => meta.in_tenant(district, school),
        None => meta,
    }
}

/// Records a new run; a replica's worker takes it up at once.
pub(crate) async fn start(ctx: &Ctx, request: RequestKey, new: NewRun) -> AppResult<pb::SyncRun> {
    if ctx.mirror.is_none() {
        return Err(AppError::Rejected(
            "the sync service has no secret to act on the directory with (SYNC_SERVICE_SECRET)"
                .to_owned(),
        ));
    }
    match new.source.strip_prefix("file:") {
        None if ctx.citydb.is_none() => {
            return Err(AppError::Rejected(
                "no city database is configured for this lienlac (SYNC_CITYDB_URL)".to_owned(),
            ));
        }
        Some(name) if !ctx.drop_dir.join(name).is_file() => {
            return Err(AppError::Rejected(format!(
                "there is no file {name} in the drop directory"
            )));
        }
        _ => {}
    }
    let run = idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = insert(tx, &new).await?;
            read(tx, id, 0).await
        })
    })
    .await?;
    ctx.wake.notify_one();
    Ok(run)
}

/// Records a run and `SyncRunStarted` in the caller's transaction.
pub(crate) async fn insert(tx: &mut PgConnection, new: &NewRun) -> AppResult<Uuid> {
    let by = new.started_by;
    let id = Uuid::now_v7();
    let (district, school, unit) = match &new.scope {
        Scope::District {
            district_id,
            unit_code,
        } => (Some(*district_id), None, unit_code.clone()),
        Scope::School {
            district_id,
            school_id,
            unit_code,
        } => (Some(*district_id), Some(*school_id), unit_code.clone()),
        Scope::Unit { unit_code } => (None, None, unit_code.clone()),
    };
    sqlx::query(
        "INSERT INTO sync_runs (id, district_id, school_id, unit_code, source, mode, dry_run, started_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(district)
    .bind(school)
    .bind(&unit)
    .bind(&new.source)
    .bind(new.mode.as_str())
    .bind(new.dry_run)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    let event = pb::SyncRunStarted {
        run_id: id.to_string(),
        district_id: district.map(|d| d.to_string()).unwrap_or_default(),
        school_id: school.map(|s| s.to_string()).unwrap_or_default(),
        mode: new.mode.as_str().to_owned(),
        dry_run: new.dry_run,
        started_by: by.map(|b| b.to_string()).unwrap_or_default(),
    };
    append(
        tx,
        &stream(id),
        ExpectedVersion::NoStream,
        &[NewEvent::from_message(&event).map_err(anyhow::Error::from)?],
        &meta(by, district, school),
    )
    .await?;
    Ok(id)
}

/// A run with at most `limit` of its changes and row errors.
pub(crate) async fn read(conn: &mut PgConnection, id: Uuid, limit: i64) -> AppResult<pb::SyncRun> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1");
    let row: Option<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or(AppError::NotFound("sync run"))?;
    let mut run = to_proto(row);
    run.changes = changes(conn, id, limit).await?;
    run.row_errors = row_errors(conn, id, limit).await?;
    Ok(run)
}

pub(crate) async fn changes(
    conn: &mut PgConnection,
    id: Uuid,
    limit: i64,
) -> AppResult<Vec<pb::PlannedChange>> {
    let rows: Vec<(String, String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT kind, external_ref, school_ref, class_ref, detail, status, refusal FROM sync_changes \
         WHERE run_id = $1 ORDER BY seq LIMIT $2",
    )
    .persistent(false)
        .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(kind, external_ref, school_ref, class_ref, detail, status, refusal)| {
                pb::PlannedChange {
                    kind,
                    external_ref,
                    school_ref,
                    class_ref,
                    detail,
                    status,
                    refusal,
                }
            },
        )
        .collect())
}

pub(crate) async fn row_errors(
    conn: &mut PgConnection,
    id: Uuid,
    limit: i64,
) -> AppResult<Vec<pb::RowError>> {
    let rows: Vec<(String, i32, String, String, String)> = sqlx::query_as(
        "SELECT source, line, column_name, external_ref, message FROM sync_row_errors \
         WHERE run_id = $1 ORDER BY seq LIMIT $2",
    )
    .persistent(false)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(source, line, column, external_ref, message)| pb::RowError {
                source,
                line,
                column,
                external_ref,
                message,
            },
        )
        .collect())
}

pub(crate) fn to_proto(row: RunRow) -> pb::SyncRun {
    let rfc3339 = |at: time::OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    pb::SyncRun {
        id: row.id.to_string(),
        district_id: row.district_id.map(|d| d.to_string()).unwrap_or_default(),
        school_id: row.school_id.map(|s| s.to_string()).unwrap_or_default(),
        unit_code: row.unit_code,
        source: row.source,
        mode: match row.mode.as_str() {
            "full" => pb::SyncMode::Full,
            _ => pb::SyncMode::Incremental,
        } as i32,
        dry_run: row.dry_run,
        state: match row.state.as_str() {
            "running" => pb::SyncRunState::Running,
            "completed" => pb::SyncRunState::Completed,
            _ => pb::SyncRunState::Failed,
        } as i32,
        started_at: rfc3339(row.started_at),
        finished_at: row.finished_at.map(rfc3339).unwrap_or_default(),
        started_by: row.started_by.map(|b| b.to_string()).unwrap_or_default(),
        planned: row.planned.0.into_iter().collect(),
        applied: row.applied.0.into_iter().collect(),
        row_error_count: row.row_error_count,
        failure: row.failure,
        ..pb::SyncRun::default()
    }
}

/// The plan of one school (or of the district level, `school_ref` empty)
/// replaces what an earlier pass of the same run planned for it; what was
/// applied stays on record.
pub(crate) async fn record_plan(
    conn: &mut PgConnection,
    run: Uuid,
    school_ref: &str,
    changes: &[Change],
    errors: &[RowError],
) -> anyhow::Result<Vec<i32>> {
    // A run's statements are planned afresh (not persistent): a plan cached while
    // the tables were nearly empty scans them whole once a city's runs have filled
    // them.
    sqlx::query(
        "DELETE FROM sync_changes WHERE run_id = $1 AND school_ref = $2 AND status <> 'applied'",
    )
    .persistent(false)
    .bind(run)
    .bind(school_ref)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM sync_row_errors WHERE run_id = $1 AND school_ref = $2")
        .persistent(false)
        .bind(run)
        .bind(school_ref)
        .execute(&mut *conn)
        .await?;
    let next = next_seq(conn, "sync_changes", run).await?;
    let seqs: Vec<i32> = (next..next + changes.len() as i32).collect();
    sqlx::query(
        "INSERT INTO sync_changes (run_id, seq, kind, external_ref, school_ref, class_ref, detail) \
         SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
    )
    .bind(run)
    .bind(&seqs)
    .bind(changes.iter().map(Change::kind).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.external_ref.as_str()).collect::<Vec<_>>())
    .bind(vec![school_ref; changes.len()])
    .bind(changes.iter().map(|c| c.class_ref.as_str()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.detail.as_str()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    let first_error = next_seq(conn, "sync_row_errors", run).await?;
    sqlx::query(
        "INSERT INTO sync_row_errors (run_id, seq, school_ref, source, line, column_name, external_ref, message) \
         SELECT $1, n, $2, s, l, c, r, m FROM unnest($3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[]) \
           AS e(n, s, l, c, r, m)",
    )
    .bind(run)
    .bind(school_ref)
    .bind((first_error..first_error + errors.len() as i32).collect::<Vec<_>>())
    .bind(errors.iter().map(|e| e.at.source.as_str()).collect::<Vec<_>>())
    .bind(errors.iter().map(|e| e.at.line as i32).collect::<Vec<_>>())
    .bind(errors.iter().map(|e| e.column.as_str()).collect::<Vec<_>>())
    .bind(errors.iter().map(|e| e.external_ref.as_str()).collect::<Vec<_>>())
    .bind(errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(seqs)
}

/// The next place in a run's list of changes, row errors or drift.
async fn next_seq(conn: &mut PgConnection, table: &str, run: Uuid) -> anyhow::Result<i32> {
    let sql = format!("SELECT COALESCE(max(seq), 0) + 1 FROM {table} WHERE run_id = $1");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .persistent(false)
        .bind(run)
        .fetch_one(conn)
        .await?)
}

/// A school's drift, replacing what an earlier pass of the run found for it.
pub(crate) async fn record_drift(
    conn: &mut PgConnection,
    run: Uuid,
    school_ref: &str,
    drift: &[crate::plan::drift::Drift],
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM sync_drift WHERE run_id = $1 AND school_ref = $2")
        .persistent(false)
        .bind(run)
        .bind(school_ref)
        .execute(&mut *conn)
        .await?;
    let first = next_seq(conn, "sync_drift", run).await?;
    sqlx::query(
        "INSERT INTO sync_drift (run_id, seq, school_ref, kind, entity, external_ref, detail) \
         SELECT $1, n, $2, k, e, r, d FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(n, k, e, r, d)",
    )
    .bind(run)
    .bind(school_ref)
    .bind((first..first + drift.len() as i32).collect::<Vec<_>>())
    .bind(drift.iter().map(|d| d.kind).collect::<Vec<_>>())
    .bind(drift.iter().map(|d| d.entity).collect::<Vec<_>>())
    .bind(drift.iter().map(|d| d.external_ref.as_str()).collect::<Vec<_>>())
    .bind(drift.iter().map(|d| d.detail.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// The drift of the scope's latest completed full run: the district's, or one
/// school's from its own run or its district's, whichever is later.
pub(crate) async fn drift_report(
    conn: &mut PgConnection,
    district: Uuid,
    school: Option<(Uuid, String)>,
) -> AppResult<pb::DriftReport> {
    let latest: Option<(Uuid, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT id, finished_at FROM sync_runs WHERE district_id = $1 AND state = 'completed' AND mode = 'full' \
           AND (school_id IS NULL OR school_id = $2) \
         ORDER BY finished_at DESC LIMIT 1",
    )
    .bind(district)
    .bind(school.as_ref().map(|(id, _)| *id))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((run, at)) = latest else {
        return Ok(pb::DriftReport::default());
    };
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT kind, entity, external_ref, school_ref, detail FROM sync_drift \
         WHERE run_id = $1 AND ($2::text IS NULL OR school_ref = $2) ORDER BY seq",
    )
    .persistent(false)
    .bind(run)
    .bind(school.as_ref().map(|(_, code)| code.as_str()))
    .fetch_all(conn)
    .await?;
    Ok(pb::DriftReport {
        run_id: run.to_string(),
        compared_at: at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        drift: rows
            .into_iter()
            .map(
                |(kind, entity, external_ref, school_ref, detail)| pb::Drift {
                    kind,
                    entity,
                    external_ref,
                    school_ref,
                    detail,
                },
            )
            .collect(),
    })
}

/// A change applied, or refused by the directory with its reason.
pub(crate) async fn mark(
    conn: &mut PgConnection,
    run: Uuid,
    seqs: &[i32],
    refusal: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE sync_changes SET status = $3, refusal = $4 WHERE run_id = $1 AND seq = ANY($2)",
    )
    .persistent(false)
    .bind(run)
    .bind(seqs)
    .bind(if refusal.is_some() {
        "refused"
    } else {
        "applied"
    })
    .bind(refusal.unwrap_or_default())
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a run: its counts from its changes, and `SyncRunCompleted`.
pub(crate) async fn complete(
    ctx: &Ctx,
    run: &RunRow,
    failure: Option<String>,
) -> anyhow::Result<()> {
    let mut tx = ctx.pool.begin().await?;
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, status, count(*) FROM sync_changes WHERE run_id = $1 GROUP BY kind, status",
    )
    .persistent(false)
    .bind(run.id)
    .fetch_all(&mut *tx)
    .await?;
    let mut planned: BTreeMap<String, i64> = BTreeMap::new();
    let mut applied: BTreeMap<String, i64> = BTreeMap::new();
    for (kind, status, count) in counts {
        *planned.entry(kind.clone()).or_default() += count;
        if status == "applied" {
            *applied.entry(kind).or_default() += count;
        }
    }
    let row_errors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sync_row_errors WHERE run_id = $1")
            .persistent(false)
            .bind(run.id)
            .fetch_one(&mut *tx)
            .await?;
    let (district, school): (Option<Uuid>, Option<Uuid>) =
        sqlx::query_as("SELECT district_id, school_id FROM sync_runs WHERE id = $1")
            .bind(run.id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE sync_runs SET state = $2, finished_at = now(), planned = $3, applied = $4, \
         row_error_count = $5, failure = $6, lease_until = NULL WHERE id = $1",
    )
    .bind(run.id)
    .bind(if failure.is_some() {
        "failed"
    } else {
        "completed"
    })
    .bind(sqlx::types::Json(&planned))
    .bind(sqlx::types::Json(&applied))
    .bind(row_errors)
    .bind(failure.as_deref().unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    let event = pb::SyncRunCompleted {
        run_id: run.id.to_string(),
        district_id: district.map(|d| d.to_string()).unwrap_or_default(),
        school_id: school.map(|s| s.to_string()).unwrap_or_default(),
        outcome: if failure.is_some() {
            "failed"
        } else {
            "completed"
        }
        .to_owned(),
        dry_run: run.dry_run,
        planned: planned.into_iter().collect(),
        applied: applied.into_iter().collect(),
        row_errors,
    };
    let version = kernel::event_store::stream_version(&mut tx, &stream(run.id)).await?;
    append(
        &mut tx,
        &stream(run.id),
        ExpectedVersion::from_loaded(version),
        &[NewEvent::from_message(&event)?],
        &meta(run.started_by, district, school),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the oldest running run nobody holds, for `lease`.
async fn take(ctx: &Ctx) -> anyhow::Result<Option<RunRow>> {
    let sql = format!(
        "UPDATE sync_runs SET lease_until = now() + $1 WHERE id = ( \
           SELECT id FROM sync_runs WHERE state = 'running' AND (lease_until IS NULL OR lease_until < now()) \
           ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING {RUN_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ctx.run_lease)
        .fetch_optional(&ctx.pool)
        .await?)
}

/// Keeps the run's lease while it is carried out.
pub(crate) async fn renew(ctx: &Ctx, run: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE sync_runs SET lease_until = now() + $2 WHERE id = $1 AND state = 'running'",
    )
    .bind(run)
    .bind(ctx.run_lease)
    .execute(&ctx.pool)
    .await?;
    Ok(())
}

/// Records the district a run of a unit made.
pub(crate) async fn set_district(ctx: &Ctx, run: Uuid, district: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE sync_runs SET district_id = $2 WHERE id = $1")
        .bind(run)
        .bind(district)
        .execute(&ctx.pool)
        .await?;
    Ok(())
}

/// Carries out runs, one at a time, until stopped: woken by a new run, and every
/// second for one whose replica died.
pub(crate) async fn work(ctx: Ctx, stop: CancellationToken) -> anyhow::Result<()> {
    loop {
        match take(&ctx).await {
            Ok(Some(run)) => {
                let id = run.id;
                tracing::info!(run = %id, "sync run");
                let outcome = crate::execute::run(&ctx, &run, &stop).await;
                if stop.is_cancelled() {
                    // Stopping halfway: the run stays running, for the next replica.
                    return Ok(());
                }
                let failure = outcome.err().map(|error| format!("{error:#}"));
                if let Some(failure) = &failure {
                    tracing::warn!(run = %id, %failure, "sync run failed");
                }
                if let Err(error) = complete(&ctx, &run, failure).await {
                    tracing::warn!(run = %id, error = %format!("{error:#}"), "a sync run could not be completed");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "looking for sync runs failed")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = ctx.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Deletes the plans of runs older than `keep` (their details name people); the
/// runs and their counts stay.
pub(crate) async fn purge(ctx: &Ctx) -> anyhow::Result<()> {
    for table in ["sync_changes", "sync_row_errors", "sync_drift"] {
        let sql = format!(
            "DELETE FROM {table} WHERE run_id IN (SELECT id FROM sync_runs WHERE state <> 'running' AND finished_at < now() - $1)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ctx.keep_plans_for)
            .execute(&ctx.pool)
            .await?;
    }
    Ok(())
}

/// A district's (or one school's) runs, newest first, without their changes.
pub(crate) async fn list(
    conn: &mut PgConnection,
    district: Uuid,
    school: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<pb::SyncRun>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM sync_runs WHERE district_id = $1 AND ($2::uuid IS NULL OR school_id = $2) \
         ORDER BY started_at DESC LIMIT $3"
    );
    let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(district)
        .bind(school)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(to_proto).collect())
}

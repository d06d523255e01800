//! `lienlac sync`: the directory's mirror of the city education database, as a
//! school's IT officer or the district office drives it (docs/sync.md).

use std::time::Duration;

use anyhow::Context as _;
use lienlac_proto::sync::v1::sync_service_client::SyncServiceClient;
use lienlac_proto::sync::v1::{self as pb, SyncRunState};

use crate::args::SyncScope;
use crate::credentials::Credentials;
use crate::directory::{Directory, Scope};
use crate::session;

/// How many of a run's changes the text shows; `--out` or `--json` give them all.
const SHOWN: usize = 40;

pub(crate) struct Runs {
    pub(crate) url: String,
    pub(crate) json: bool,
}

impl Runs {
    async fn client(&self) -> anyhow::Result<SyncServiceClient<tonic::transport::Channel>> {
        Ok(SyncServiceClient::new(session::connect(&self.url).await?))
    }

    pub(crate) async fn plan(
        &self,
        scope: SyncScope,
        file: Option<String>,
        out: Option<std::path::PathBuf>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let run = self.start(&credentials, scope, file, true, false).await?;
        let run = self.wait(&credentials, &run.id).await?;
        if let Some(path) = out {
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("json") => pb::ExportFormat::Json,
                _ => pb::ExportFormat::Csv,
            };
            let file = self
                .client()
                .await?
                .export_sync_run(session::authorised(
                    pb::ExportSyncRunRequest {
                        run_id: run.id.clone(),
                        format: format as i32,
                    },
                    &credentials,
                )?)
                .await?
                .into_inner();
            std::fs::write(&path, &file.content)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("the plan is in {}", path.display());
        }
        self.print_run(&run)
    }

    pub(crate) async fn apply(
        &self,
        scope: SyncScope,
        file: Option<String>,
        incremental: bool,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let run = self
            .start(&credentials, scope, file, false, incremental)
            .await?;
        let run = self.wait(&credentials, &run.id).await?;
        self.print_run(&run)
    }

    pub(crate) async fn status(
        &self,
        run: Option<String>,
        district: Option<String>,
        school: Option<String>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let mut client = self.client().await?;
        if let Some(run_id) = run {
            let run = client
                .get_sync_run(session::authorised(
                    pb::GetSyncRunRequest { run_id, limit: 0 },
                    &credentials,
                )?)
                .await?
                .into_inner();
            return self.print_run(&run);
        }
        let district = own_unless_named(&credentials, district, Scope::District).await?;
        let runs = client
            .list_sync_runs(session::authorised(
                pb::ListSyncRunsRequest {
                    district_id: district,
                    school_id: school.unwrap_or_default(),
                    limit: 0,
                },
                &credentials,
            )?)
            .await?
            .into_inner()
            .runs;
        if self.json {
            return print_json(&runs);
        }
        if runs.is_empty() {
            println!("no sync run yet");
        }
        for run in &runs {
            println!("{}", headline(run));
        }
        Ok(())
    }

    pub(crate) async fn drift(
        &self,
        district: Option<String>,
        school: Option<String>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let district = own_unless_named(&credentials, district, Scope::District).await?;
        let report = self
            .client()
            .await?
            .get_drift_report(session::authorised(
                pb::GetDriftReportRequest {
                    district_id: district,
                    school_id: school.unwrap_or_default(),
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            return print_json(&report);
        }
        if report.run_id.is_empty() {
            println!("no full run yet: `lienlac sync plan` compares lienlac with the source");
            return Ok(());
        }
        println!(
            "compared at {} (run {}): {} differences",
            report.compared_at,
            report.run_id,
            report.drift.len()
        );
        for drift in &report.drift {
            println!(
                "  {:<16} {:<9} {:<14} {}",
                drift.kind, drift.entity, drift.external_ref, drift.detail
            );
        }
        Ok(())
    }

    pub(crate) async fn push_status(
        &self,
        school: Option<String>,
        month: Option<String>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let school = own_unless_named(&credentials, school, Scope::School).await?;
        let month = month.unwrap_or_else(|| crate::dates::today()[..7].to_owned());
        let status = self
            .client()
            .await?
            .get_push_status(session::authorised(
                pb::GetPushStatusRequest {
                    school_id: school,
                    month,
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            return print_json(&status);
        }
        println!(
            "{}: {}/{} classes' totals sent to the city database",
            status.month, status.sent, status.classes_total
        );
        for class in &status.classes {
            let amended = if class.amended { " (amended)" } else { "" };
            let reason = if class.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", class.reason)
            };
            println!("  {:<6} {}{amended}{reason}", class.class_name, class.state);
        }
        Ok(())
    }

    pub(crate) async fn start(
        &self,
        credentials: &Credentials,
        scope: SyncScope,
        file: Option<String>,
        dry_run: bool,
        incremental: bool,
    ) -> anyhow::Result<pb::SyncRun> {
        let mode = if incremental {
            pb::SyncMode::Incremental
        } else {
            pb::SyncMode::Full
        };
        let request = pb::StartSyncRunRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            district_id: scope.district.unwrap_or_default(),
            school_id: scope.school.unwrap_or_default(),
            unit_code: scope.unit.unwrap_or_default(),
            mode: mode as i32,
            dry_run,
            source_file: file.unwrap_or_default(),
        };
        Ok(self
            .client()
            .await?
            .start_sync_run(session::authorised(request, credentials)?)
            .await?
            .into_inner())
    }

    /// The run once it has ended, with its first changes; progress on stderr.
    pub(crate) async fn wait(
        &self,
        credentials: &Credentials,
        run_id: &str,
    ) -> anyhow::Result<pb::SyncRun> {
        let mut client = self.client().await?;
        let mut said = false;
        loop {
            let run = client
                .get_sync_run(session::authorised(
                    pb::GetSyncRunRequest {
                        run_id: run_id.to_owned(),
                        limit: if self.json { 10_000 } else { SHOWN as i32 },
                    },
                    credentials,
                )?)
                .await?
                .into_inner();
            if run.state != SyncRunState::Running as i32 {
                return Ok(run);
            }
            if !said {
                eprintln!("sync run {run_id} started; waiting for it to end…");
                said = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn print_run(&self, run: &pb::SyncRun) -> anyhow::Result<()> {
        if self.json {
            return print_json(run);
        }
        println!("{}", headline(run));
        if !run.failure.is_empty() {
            println!("  failed: {}", run.failure);
        }
        let counts = |map: &std::collections::BTreeMap<String, i64>| -> String {
            map.iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  planned: {}",
            if run.planned.is_empty() {
                "nothing".to_owned()
            } else {
                counts(&run.planned)
            }
        );
        if !run.dry_run {
            println!(
                "  applied: {}",
                if run.applied.is_empty() {
                    "nothing".to_owned()
                } else {
                    counts(&run.applied)
                }
            );
        }
        if run.row_error_count > 0 {
            println!("  row errors: {}", run.row_error_count);
            for error in &run.row_errors {
                let line = if error.line > 0 {
                    format!(" line {}", error.line)
                } else {
                    String::new()
                };
                println!(
                    "    {}{line}, {}, {}: {}",
                    error.source, error.column, error.external_ref, error.message
                );
            }
        }
        let total: i64 = run.planned.values().sum();
        if !run.changes.is_empty() {
            println!("  changes ({} of {total}):", run.changes.len());
            for change in &run.changes {
                let refused = if change.refusal.is_empty() {
                    String::new()
                } else {
                    format!(" — refused: {}", change.refusal)
                };
                println!(
                    "    {:<24} {:<14} {}{refused}",
                    change.kind, change.external_ref, change.detail
                );
            }
        }
        Ok(())
    }
}

/// The district or school named, else the signed-in person's own.
async fn own_unless_named(
    credentials: &Credentials,
    named: Option<String>,
    scope: Scope,
) -> anyhow::Result<String> {
    match named {
        Some(id) => Ok(id),
        None => {
            Directory::connect(credentials)
                .await?
                .own_scope(scope)
                .await
        }
    }
}

fn headline(run: &pb::SyncRun) -> String {
    let state = match SyncRunState::try_from(run.state) {
        Ok(SyncRunState::Running) => "running",
        Ok(SyncRunState::Completed) => "completed",
        Ok(SyncRunState::Failed) => "failed",
        _ => "?",
    };
    let kind = if run.dry_run { "dry run" } else { "run" };
    let mode = if run.mode == pb::SyncMode::Incremental as i32 {
        "incremental"
    } else {
        "full"
    };
    format!(
        "{} {kind} ({mode}, {}) of {}: {state}, started {}",
        run.id, run.source, run.unit_code, run.started_at
    )
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

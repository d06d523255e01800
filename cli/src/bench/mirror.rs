//! `lienlac bench mirror`: the made-up city of the city database simulator
//! (`citydb-sim serve --city-schools N`) mirrored by the sync service, one run per
//! unit, until identity holds it and every projection of identity's events has
//! caught up; then raw Postgres loading the same rows into copies of the same
//! tables, in the same run (raw_directory.rs). Figures in target/bench/sync.json.
//! Then the morning on that city: every homeroom teacher signs in and submits a
//! roll call, measured as `lienlac bench rollcall` measures it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use citydb_sim::City;
use lienlac_proto::sync::v1::sync_service_client::SyncServiceClient;
use lienlac_proto::sync::v1::{self as pb, SyncRunState};
use sqlx::postgres::PgPoolOptions;

use super::district::{self, Projections};
use super::{Length, Rollcall, Shape, raw_directory, write_figures};
use crate::{dates, session};

pub(crate) struct Mirror {
    pub(crate) sync_url: String,
    pub(crate) nats_url: String,
    pub(crate) namespace: String,
    pub(crate) database_url: String,
    /// The simulator's `--city-schools`: the bench makes the same city to know
    /// what to expect and to load the raw baseline.
    pub(crate) city_schools: usize,
    pub(crate) output: std::path::PathBuf,
    pub(crate) json: bool,
    pub(crate) attendance_url: String,
    pub(crate) reporting_url: String,
    /// Teachers submitting at the same moment in the morning.
    pub(crate) concurrency: usize,
    /// Where the morning's figures go.
    pub(crate) rollcall_output: std::path::PathBuf,
}

/// What the city holds, as lienlac should after the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
struct Counts {
    schools: i64,
    classes: i64,
    staff: i64,
    students: i64,
    guardians: i64,
    guardianships: i64,
}

impl Counts {
    fn of(city: &City) -> Self {
        let students: Vec<_> = city
            .students
            .iter()
            .filter(|s| s.status != "left")
            .collect();
        let guardians: BTreeSet<&str> = students
            .iter()
            .flat_map(|s| s.guardians.iter().map(|g| g.guardian_code.as_str()))
            .collect();
        // Units without schools are no districts: their offices are not mirrored.
        let units: BTreeSet<&str> = city.schools.iter().map(|s| s.unit_code.as_str()).collect();
        let staff = city
            .staff
            .iter()
            .filter(|s| !s.school_code.is_empty() || units.contains(s.unit_code.as_str()))
            .count();
        Self {
            schools: city.schools.len() as i64,
            classes: city.classes.len() as i64,
            staff: staff as i64,
            students: students.len() as i64,
            guardians: guardians.len() as i64,
            guardianships: students.iter().map(|s| s.guardians.len() as i64).sum(),
        }
    }
}

impl Mirror {
    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.city_schools > 0, "--city-schools must be at least 1");
        let year = dates::school_year(dates::local_today());
        let city =
            citydb_sim::generate::generate(&citydb_sim::generate::city(self.city_schools, &year));
        let expected = Counts::of(&city);
        let units: BTreeSet<&str> = city.schools.iter().map(|s| s.unit_code.as_str()).collect();
        eprintln!(
            "mirroring {} schools of {} units: {} classes, {} students, {} guardians, {} staff",
            expected.schools,
            units.len(),
            expected.classes,
            expected.students,
            expected.guardians,
            expected.staff
        );
        let operator = session::current().await?;
        let mut sync = SyncServiceClient::new(session::connect(&self.sync_url).await?);
        let started = Instant::now();
        let mut runs = Vec::with_capacity(units.len());
        for unit in &units {
            let run = sync
                .start_sync_run(session::authorised(
                    pb::StartSyncRunRequest {
                        request_id: uuid::Uuid::now_v7().to_string(),
                        unit_code: (*unit).to_owned(),
                        mode: pb::SyncMode::Full as i32,
                        ..Default::default()
                    },
                    &operator,
                )?)
                .await
                .with_context(|| format!("starting the run of unit {unit}"))?
                .into_inner();
            runs.push(run.id);
        }
        let finished = self.until_finished(&mut sync, &runs).await?;
        let runs_done = started.elapsed();
        let projections = Projections {
            nats_url: &self.nats_url,
            namespace: &self.namespace,
        };
        projections.wait().await?;
        let mirror = started.elapsed();

        // Without JIT, as the services run.
        let options: sqlx::postgres::PgConnectOptions = self
            .database_url
            .parse()
            .context("--database-url is not a Postgres URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.options([("jit", "off")]))
            .await
            .context("connecting to Postgres (--database-url)")?;
        let held = held(&pool).await?;
        let failed: Vec<String> = finished
            .iter()
            .filter(|run| run.state != SyncRunState::Completed as i32)
            .map(|run| format!("{}: {}", run.unit_code, run.failure))
            .collect();
        let row_errors: i64 = finished.iter().map(|run| run.row_error_count).sum();
        let mut applied: BTreeMap<String, i64> = BTreeMap::new();
        for run in &finished {
            for (kind, count) in &run.applied {
                *applied.entry(kind.clone()).or_default() += count;
            }
        }

        eprintln!("raw baseline: Postgres loading the same rows");
        let raw = raw_directory::load(&pool, &city, &year)
            .await
            .context("the raw Postgres baseline")?;
        let ratio = raw.as_secs_f64() / mirror.as_secs_f64().max(f64::EPSILON);
        let figures = serde_json::json!({
            "city_schools": self.city_schools,
            "units": units.len(),
            "expected": expected,
            "held": held,
            "complete": held == Some(expected),
            "runs": finished.len(),
            "runs_failed": failed,
            "row_errors": row_errors,
            "applied": applied,
            "runs_done_s": round(runs_done.as_secs_f64()),
            "mirror_s": round(mirror.as_secs_f64()),
            "students_per_s": round(expected.students as f64 / mirror.as_secs_f64().max(f64::EPSILON)),
            "raw_pg_s": round(raw.as_secs_f64()),
            "ratio_vs_raw_pg": (ratio * 1000.0).round() / 1000.0,
        });
        write_figures(&self.output, &figures)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&figures)?);
        } else {
            let rows = [
                (
                    "mirrored",
                    format!(
                        "{} students, {} guardians, {} staff of {} schools in {:.1} s",
                        expected.students,
                        expected.guardians,
                        expected.staff,
                        expected.schools,
                        mirror.as_secs_f64()
                    ),
                ),
                (
                    "held as the source has it",
                    if held == Some(expected) {
                        "yes".to_owned()
                    } else {
                        format!("no: {held:?}")
                    },
                ),
                ("runs failed", failed.len().to_string()),
                ("row errors", row_errors.to_string()),
                (
                    "raw Postgres, same rows",
                    format!("{:.1} s", raw.as_secs_f64()),
                ),
                ("raw Postgres ÷ mirror", format!("{ratio:.3}")),
                ("figures written to", self.output.display().to_string()),
            ];
            for (what, value) in rows {
                println!("{what:<28} {value}");
            }
        }
        anyhow::ensure!(failed.is_empty(), "runs failed: {}", failed.join("; "));
        anyhow::ensure!(
            held == Some(expected),
            "lienlac does not hold the city as the source has it: {held:?}, expected {expected:?}"
        );

        let districts: Vec<String> = finished.into_iter().map(|run| run.district_id).collect();
        let city = district::mirrored(&session::current().await?, &districts, &projections).await?;
        let classes = city.classes.len().max(1);
        let shape = Shape {
            schools: city.schools.len(),
            classes_per_school: classes / city.schools.len().max(1),
            students_per_class: city.classes.iter().map(|c| c.students.len()).sum::<usize>()
                / classes,
            guardians: false,
        };
        Rollcall {
            attendance_url: self.attendance_url.clone(),
            reporting_url: self.reporting_url.clone(),
            nats_url: self.nats_url.clone(),
            namespace: self.namespace.clone(),
            database_url: self.database_url.clone(),
            attendance_schema: "attendance".to_owned(),
            shape,
            concurrency: self.concurrency,
            length: Length::Sessions(1),
            seed: 1,
            baseline: Duration::from_secs(5),
            output: self.rollcall_output.clone(),
            json: self.json,
        }
        .measure(&city)
        .await
    }

    /// Waits for every run to end, telling the progress now and then.
    async fn until_finished(
        &self,
        sync: &mut SyncServiceClient<tonic::transport::Channel>,
        runs: &[String],
    ) -> anyhow::Result<Vec<pb::SyncRun>> {
        let mut finished = Vec::with_capacity(runs.len());
        let mut told = Instant::now();
        for id in runs {
            loop {
                let operator = session::current().await?;
                let run = sync
                    .get_sync_run(session::authorised(
                        pb::GetSyncRunRequest {
                            run_id: id.clone(),
                            limit: 1,
                        },
                        &operator,
                    )?)
                    .await
                    .with_context(|| format!("reading run {id}"))?
                    .into_inner();
                if run.state != SyncRunState::Running as i32 {
                    finished.push(run);
                    break;
                }
                if told.elapsed() > Duration::from_secs(30) {
                    eprintln!("{} of {} units mirrored", finished.len(), runs.len());
                    told = Instant::now();
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok(finished)
    }
}

/// What identity holds, and attendance's and reporting's projections of it, as
/// counts; `None` when the projections disagree with identity.
async fn held(pool: &sqlx::PgPool) -> anyhow::Result<Option<Counts>> {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .with_context(|| format!("counting: {sql}"))
    };
    let identity = Counts {
        schools: count("SELECT count(*) FROM identity.schools").await?,
        classes: count("SELECT count(*) FROM identity.classes").await?,
        staff: count("SELECT count(*) FROM identity.people WHERE kind = 'staff'").await?,
        students: count("SELECT count(*) FROM identity.people WHERE kind = 'student'").await?,
        guardians: count("SELECT count(*) FROM identity.people WHERE kind = 'guardian'").await?,
        guardianships: count("SELECT count(*) FROM identity.guardianships").await?,
    };
    let projected = [
        count("SELECT count(*) FROM attendance.enrolment_periods").await?,
        count("SELECT count(*) FROM reporting_directory_g1.students").await?,
        count("SELECT count(*) FROM reporting_directory_g1.enrolment_periods").await?,
    ];
    let guardianships = [
        count("SELECT count(*) FROM attendance.guardianships").await?,
        count("SELECT count(*) FROM reporting_directory_g1.guardianships").await?,
    ];
    let agree = projected.iter().all(|n| *n == identity.students)
        && guardianships.iter().all(|n| *n == identity.guardianships);
    Ok(agree.then_some(identity))
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

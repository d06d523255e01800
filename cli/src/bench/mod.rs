//! `lienlac bench rollcall`: a synthetic district created through the public APIs,
//! then morning roll-call waves taken by every homeroom teacher with their own
//! sign-in, measured from the outside, beside raw Postgres and raw JetStream
//! baselines taken in the same run on the same machine. `lienlac bench mirror`
//! (mirror.rs): a city mirrored from the city database simulator.

mod chaos;
mod district;
mod mirror;
mod raw;
mod raw_directory;
mod reset;
mod waves;

pub(crate) use chaos::Chaos;
pub(crate) use mirror::Mirror;
pub(crate) use reset::reset;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;

use crate::dates;

/// Every synthetic account's password.
const PASSWORD: &str = "lienlac-bench";

pub(crate) struct Rollcall {
    pub(crate) attendance_url: String,
    pub(crate) reporting_url: String,
    pub(crate) nats_url: String,
    pub(crate) namespace: String,
    pub(crate) database_url: String,
    pub(crate) attendance_schema: String,
    pub(crate) shape: Shape,
    pub(crate) concurrency: usize,
    pub(crate) length: Length,
    pub(crate) seed: u64,
    /// How long each raw baseline runs.
    pub(crate) baseline: Duration,
    pub(crate) output: std::path::PathBuf,
    pub(crate) json: bool,
}

/// The synthetic district's size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) schools: usize,
    pub(crate) classes_per_school: usize,
    pub(crate) students_per_class: usize,
    /// Each student with a guardian of their own, whom absence notices reach.
    pub(crate) guardians: bool,
}

impl Shape {
    fn classes(&self) -> usize {
        self.schools * self.classes_per_school
    }
}

/// How many mornings the teachers take roll calls for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Length {
    /// This many school mornings, one after the other.
    Sessions(usize),
    /// Morning after morning until this long has passed.
    Duration(Duration),
}

impl Rollcall {
    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        let district = district::synthetic(
            &self.nats_url,
            &self.namespace,
            self.shape,
            self.seed,
            self.concurrency,
        )
        .await?;
        self.measure(&district).await
    }

    /// The mornings of `district`'s schools beside the raw baselines.
    async fn measure(&self, district: &district::District) -> anyhow::Result<()> {
        let mornings = self.mornings(dates::local_today())?;
        let waves = waves::Waves {
            attendance_url: &self.attendance_url,
            reporting_url: &self.reporting_url,
            district,
            mornings: &mornings,
            length: self.length,
            concurrency: self.concurrency,
            seed: self.seed,
        };
        waves.ensure_untaken().await?;
        eprintln!(
            "raw baselines: Postgres and JetStream, {} s each",
            self.baseline.as_secs()
        );
        let raw_pg = raw::postgres(
            &self.database_url,
            &self.attendance_schema,
            self.shape.students_per_class,
            self.concurrency,
            self.baseline,
        )
        .await
        .context("the raw Postgres baseline")?;
        let raw_js = raw::jetstream(
            &self.nats_url,
            &self.namespace,
            self.shape.students_per_class,
            self.concurrency,
            self.baseline,
        )
        .await
        .context("the raw JetStream baseline")?;

        let outcome = waves.run().await?;
        self.report(&outcome, raw_pg, raw_js)
    }

    /// The school mornings to take roll calls on, oldest first: weekdays of this
    /// school year before today.
    fn mornings(&self, today: time::Date) -> anyhow::Result<Vec<time::Date>> {
        let wanted = match self.length {
            Length::Sessions(count) => count,
            // A morning takes at least a second; enough of them for the duration.
            Length::Duration(duration) => duration.as_secs().max(1) as usize,
        };
        let mornings = school_mornings(today, wanted);
        match self.length {
            Length::Sessions(count) if mornings.len() < count => anyhow::bail!(
                "only {} school days of this school year are before today; ask for --sessions {} or fewer",
                mornings.len(),
                mornings.len()
            ),
            _ if mornings.is_empty() => {
                anyhow::bail!("no school day of this school year is before today")
            }
            _ => Ok(mornings),
        }
    }

    fn report(&self, outcome: &waves::Outcome, raw_pg: f64, raw_js: f64) -> anyhow::Result<()> {
        let seconds = outcome.submitting.as_secs_f64().max(f64::EPSILON);
        let rollcalls_per_s = outcome.accepted as f64 / seconds;
        let marks_per_s = outcome.marks as f64 / seconds;
        let ms = |histogram: &hdrhistogram::Histogram<u64>, quantile: f64| {
            (histogram.value_at_quantile(quantile) as f64 / 10.0).round() / 100.0
        };
        let ratio = rollcalls_per_s / raw_pg.max(f64::EPSILON);
        let errors: u64 = outcome.errors.values().sum();
        let figures = serde_json::json!({
            "schools": self.shape.schools,
            "classes_per_school": self.shape.classes_per_school,
            "students_per_class": self.shape.students_per_class,
            "concurrency": self.concurrency,
            "mornings": outcome.mornings,
            "rollcalls": outcome.accepted,
            "marks": outcome.marks,
            "submitting_s": round(seconds, 2),
            "rollcalls_per_s": round(rollcalls_per_s, 1),
            "marks_per_s": round(marks_per_s, 0),
            "submit_p50_ms": ms(&outcome.latencies, 0.5),
            "submit_p95_ms": ms(&outcome.latencies, 0.95),
            "submit_p99_ms": ms(&outcome.latencies, 0.99),
            "lag_p50_ms": ms(&outcome.lags, 0.5),
            "lag_p99_ms": ms(&outcome.lags, 0.99),
            "lag_samples": outcome.lags.len(),
            "visible_after_s": round(outcome.visible_after.as_secs_f64(), 2),
            "raw_pg_tx_per_s": round(raw_pg, 1),
            "raw_js_pub_per_s": round(raw_js, 1),
            "ratio_vs_raw_pg": round(ratio, 3),
            "errors": errors,
            "errors_by_code": outcome.errors,
        });
        write_figures(&self.output, &figures)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&figures)?);
            return Ok(());
        }
        let rows: [(&str, String); 11] = [
            (
                "roll calls accepted",
                format!(
                    "{} in {seconds:.1} s, {} mornings of {} classes",
                    outcome.accepted,
                    outcome.mornings,
                    self.shape.classes()
                ),
            ),
            ("roll calls/s", format!("{rollcalls_per_s:.0}")),
            ("marks/s", format!("{marks_per_s:.0}")),
            (
                "SubmitRollCall p50/p95/p99",
                format!(
                    "{} / {} / {} ms",
                    ms(&outcome.latencies, 0.5),
                    ms(&outcome.latencies, 0.95),
                    ms(&outcome.latencies, 0.99)
                ),
            ),
            (
                "lag to school summary p50/p99",
                format!(
                    "{} / {} ms ({} roll calls of watched schools)",
                    ms(&outcome.lags, 0.5),
                    ms(&outcome.lags, 0.99),
                    outcome.lags.len()
                ),
            ),
            (
                "all visible in reporting after",
                format!("{:.1} s", outcome.visible_after.as_secs_f64()),
            ),
            (
                "raw Postgres, same transaction",
                format!("{raw_pg:.0} tx/s"),
            ),
            ("raw JetStream publish", format!("{raw_js:.0} messages/s")),
            ("roll calls/s ÷ raw Postgres", format!("{ratio:.2}")),
            ("errors", error_summary(&outcome.errors)),
            ("figures written to", self.output.display().to_string()),
        ];
        for (what, value) in rows {
            println!("{what:<32} {value}");
        }
        Ok(())
    }
}

/// Writes a benchmark's figures as JSON, making its directory.
fn write_figures(path: &std::path::Path, figures: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(figures)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Up to `wanted` school days of this school year before `today`, oldest first.
fn school_mornings(today: time::Date, wanted: usize) -> Vec<time::Date> {
    let year_start = dates::school_year_start(today);
    crate::seed::plan::school_days(today, wanted)
        .into_iter()
        .filter(|day| *day >= year_start)
        .collect()
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

fn error_summary(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    errors
        .iter()
        .map(|(code, count)| format!("{count} {code}"))
        .collect::<Vec<_>>()
        .join(", ")
}

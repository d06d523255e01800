//! `lienlac bench chaos`: the fault suite's load and judge. A synthetic district
//! (each student with a guardian) takes roll calls at a steady rate while the
//! faults of faults.rs strike one after the other, each injected and repaired by
//! the faults program (deploy/local/chaos.sh); each fault's recovery is measured
//! from outside, and at the end what the system holds is checked against what
//! the load saw acknowledged (checks.rs). Figures in target/bench/chaos.json.

mod checks;
mod faults;
mod leaders;
mod load;
mod published;
mod tracker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{Shape, district, round, school_mornings, write_figures};
use crate::dates;
use faults::{MeasuredFrom, Planned};
use leaders::Leaders;
use tracker::Tracker;

/// A fault counts as recovered once publication lag has stayed under this…
const LAG_GOAL: Duration = Duration::from_secs(1);
/// …for this long, with roll calls accepted again.
const STEADY: Duration = Duration::from_secs(5);
/// A fault not recovered this long after its repair is reported as such.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the faults program may take to inject or repair a fault.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);

pub(crate) struct Chaos {
    pub(crate) attendance_url: String,
    pub(crate) reporting_url: String,
    pub(crate) nats_url: String,
    pub(crate) namespace: String,
    pub(crate) database_url: String,
    pub(crate) shape: Shape,
    pub(crate) rate: f64,
    pub(crate) concurrency: usize,
    pub(crate) rounds: usize,
    /// The shortest quiet time between two faults.
    pub(crate) quiet: Duration,
    pub(crate) seed: u64,
    /// Only these faults (or kinds of fault); every one when empty.
    pub(crate) only: Vec<String>,
    /// Called as `<program> fault <name> inject|heal`.
    pub(crate) faults_program: PathBuf,
    pub(crate) output: PathBuf,
    pub(crate) json: bool,
}

/// One fault as it went.
#[derive(serde::Serialize)]
struct Struck {
    fault: String,
    /// Seconds from the start of the load.
    at_s: f64,
    held_s: f64,
    /// What the faults program said it did (which replica or node).
    injected: String,
    measured_from: MeasuredFrom,
    /// Until roll calls were accepted again and every acknowledged one was
    /// stored on JetStream within a second, for five seconds (by JetStream's
    /// own timestamps); None when that did not happen.
    recovery_s: Option<f64>,
    /// The same as the suite's subscriber heard the roll calls, its own
    /// reconnections included.
    recovery_heard_s: Option<f64>,
    goal_s: f64,
    met: bool,
    /// The longest time without an acknowledged roll call, from the fault to recovery.
    longest_silence_s: f64,
    /// The longest wait of an acknowledged roll call for its publication, as heard.
    worst_publication_lag_s: f64,
    /// The node that led attendance's stream when the fault struck.
    stream_leader_before: Option<String>,
    /// How long, from the fault to recovery, the stream had no leader.
    stream_leaderless_s: f64,
    error: Option<String>,
    #[serde(skip)]
    injected_at: Instant,
    /// The moment recovery counts from: the injection or the repair.
    #[serde(skip)]
    measured_since: Instant,
}

impl Struck {
    /// Recovery as JetStream's timestamps tell it, once everything is published.
    fn judge(&mut self, goal: Duration, tracker: &Tracker, leaders: &Leaders) {
        let recovered_at = tracker
            .published_steadily_since(self.measured_since, LAG_GOAL, STEADY)
            .zip(tracker.accepted_since(self.measured_since))
            .map(|(steady, accepted)| steady.max(accepted));
        let until = recovered_at.unwrap_or_else(Instant::now);
        self.recovery_s = recovered_at.map(|at| {
            round(
                at.saturating_duration_since(self.measured_since)
                    .as_secs_f64(),
                1,
            )
        });
        self.met = recovered_at
            .is_some_and(|at| at.saturating_duration_since(self.measured_since) <= goal)
            && self.error.is_none();
        self.longest_silence_s = round(
            tracker
                .longest_silence(self.injected_at, until)
                .as_secs_f64(),
            1,
        );
        self.stream_leader_before = leaders.leader_at(self.injected_at);
        self.stream_leaderless_s =
            round(leaders.leaderless(self.injected_at, until).as_secs_f64(), 1);
    }
}

impl Chaos {
    pub(crate) async fn run(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.rounds > 0, "--rounds must be at least 1");
        let district = district::synthetic(
            &self.nats_url,
            &self.namespace,
            self.shape,
            self.seed,
            self.concurrency,
        )
        .await?;
        let plan = faults::plan(self.rounds, self.seed, self.quiet, &self.only);
        for name in &self.only {
            anyhow::ensure!(
                !faults::plan(1, self.seed, self.quiet, std::slice::from_ref(name)).is_empty(),
                "--only {name:?} names no fault: the kinds are {}, and kill-replica, kill-replicas and pause-replica take a service after a colon ({})",
                faults::KINDS.join(", "),
                faults::SERVICES.join(", ")
            );
        }
        let planned_s: f64 = plan
            .iter()
            .map(|planned| (planned.after + planned.fault.hold).as_secs_f64() + 15.0)
            .sum();
        // Enough mornings for the whole plan at the rate, and then some.
        let wanted = (planned_s * self.rate * 2.0 / district.classes.len().max(1) as f64).ceil()
            as usize
            + 1;
        let mornings = school_mornings(dates::local_today(), wanted);
        // Running out of roll calls would stop the load mid-plan, and with it
        // every measure of recovery.
        let needed = (planned_s * self.rate).ceil() as usize;
        let available = mornings.len() * district.classes.len();
        anyhow::ensure!(
            available >= needed,
            "the plan takes about {needed} roll calls at --rate {} and the district has {available} ({} school days this year so far, {} classes): raise --schools or --classes-per-school, or lower --rate",
            self.rate,
            mornings.len(),
            district.classes.len()
        );
        eprintln!(
            "chaos: {} faults over about {:.0} min, {} roll calls a second, {} mornings of {} classes",
            plan.len(),
            planned_s / 60.0,
            self.rate,
            mornings.len(),
            district.classes.len()
        );

        let tracker = Arc::new(Tracker::default());
        let leaders = Arc::new(Leaders::default());
        let (stop_load, stop_watch) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let watcher = tokio::spawn(published::watch(
            self.nats_url.clone(),
            self.namespace.clone(),
            tracker.clone(),
            stop_watch.clone(),
        ));
        let leader_watcher = tokio::spawn(leaders::watch(
            self.nats_url.clone(),
            self.namespace.clone(),
            leaders.clone(),
            stop_watch.clone(),
        ));
        let started = Instant::now();
        let load = {
            let load = load::Load {
                attendance_url: &self.attendance_url,
                district: &district,
                mornings: &mornings,
                rate: self.rate,
                concurrency: self.concurrency,
                seed: self.seed,
            };
            let (tracker, stop) = (tracker.clone(), stop_load.clone());
            async move { load.run(tracker, stop).await }
        };
        let faults = async {
            let mut struck = Vec::with_capacity(plan.len());
            for planned in &plan {
                tokio::time::sleep(planned.after).await;
                eprintln!("chaos: {}", planned.fault.name);
                let outcome = self.strike(planned, &tracker, started).await;
                eprintln!(
                    "chaos: {} recovered as heard in {}",
                    planned.fault.name,
                    outcome
                        .recovery_heard_s
                        .map_or("— not within two minutes".to_owned(), |s| format!(
                            "{s:.1} s"
                        ))
                );
                struck.push(outcome);
            }
            stop_load.store(true, Ordering::Relaxed);
            struck
        };
        let (counts, mut struck) = tokio::join!(load, faults);
        let counts = counts?;
        let loaded_for = started.elapsed();
        // Everything acknowledged published, before the stream is read whole.
        let drained = Instant::now();
        while tracker.unpublished() > 0 && drained.elapsed() < RECOVERY_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_watch.store(true, Ordering::Relaxed);
        let resubscribed = watcher.await.context("the stream's watcher")??;
        let nats_server = leader_watcher
            .await
            .context("the stream's leader watcher")??;
        for (outcome, planned) in struck.iter_mut().zip(&plan) {
            outcome.judge(planned.fault.goal, &tracker, &leaders);
        }

        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await
            .context("connecting to the services' database")?;
        let schema = |service: &str| {
            if self.namespace.is_empty() {
                service.to_owned()
            } else {
                format!("{}_{service}", self.namespace)
            }
        };
        let acknowledged = tracker.acknowledged_streams();
        let store = checks::event_store(&pool, &schema("attendance"), &acknowledged).await?;
        let stream = checks::stream(
            &pool,
            &schema("attendance"),
            &self.nats_url,
            &self.namespace,
        )
        .await?;
        let reporting =
            checks::reporting(&pool, &schema("attendance"), &self.reporting_url, &district).await?;
        let notices = checks::notices(&pool, &schema("attendance"), &schema("messaging")).await?;
        let dead_letters = checks::dead_letters(&pool).await?;

        let dead: i64 = dead_letters.values().sum();
        let goals = serde_json::json!({
            "acknowledged_lost": store.lost + stream.missing,
            "duplicated": store.duplicated + stream.duplicated + notices.duplicated as usize,
            "reporting_equals_recount": reporting.differing.is_empty(),
            "dead_letters": dead,
            "notices_missing": notices.missing,
            "faults_recovered_within_goal": struck.iter().filter(|s| s.met).count(),
            "faults": struck.len(),
        });
        let met = store.lost == 0
            && stream.missing == 0
            && store.duplicated == 0
            && stream.duplicated == 0
            && notices.duplicated == 0
            && notices.missing == 0
            && reporting.differing.is_empty()
            && dead == 0
            && struck.iter().all(|s| s.met);
        let figures = serde_json::json!({
            "schools": self.shape.schools,
            "classes_per_school": self.shape.classes_per_school,
            "students_per_class": self.shape.students_per_class,
            "rate_per_s": self.rate,
            "concurrency": self.concurrency,
            "rounds": self.rounds,
            "seed": self.seed,
            "nats_server": nats_server,
            "load_s": round(loaded_for.as_secs_f64(), 1),
            "load": counts,
            "watcher_resubscribed": resubscribed,
            "faults": struck,
            "event_store": store,
            "stream": stream,
            "reporting": reporting,
            "notices": notices,
            "dead_letters": dead_letters,
            "goals": goals,
            "goals_met": met,
        });
        write_figures(&self.output, &figures)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&figures)?);
        } else {
            println!("{}", serde_json::to_string_pretty(&figures["goals"])?);
            println!(
                "goals met: {met}; figures written to {}",
                self.output.display()
            );
        }
        anyhow::ensure!(
            met,
            "the fault suite's goals are not met: see {}",
            self.output.display()
        );
        Ok(())
    }

    /// Injects one fault, repairs it after its hold, and watches until the system
    /// has recovered.
    async fn strike(&self, planned: &Planned, tracker: &Tracker, started: Instant) -> Struck {
        let fault = &planned.fault;
        let injected_at = Instant::now();
        let mut struck = Struck {
            fault: fault.name.clone(),
            at_s: round(started.elapsed().as_secs_f64(), 1),
            held_s: fault.hold.as_secs_f64(),
            injected: String::new(),
            measured_from: fault.measured_from,
            recovery_s: None,
            recovery_heard_s: None,
            goal_s: fault.goal.as_secs_f64(),
            met: false,
            longest_silence_s: 0.0,
            worst_publication_lag_s: 0.0,
            stream_leader_before: None,
            stream_leaderless_s: 0.0,
            error: None,
            injected_at,
            measured_since: injected_at,
        };
        match self.call(&fault.name, "inject").await {
            Ok(said) => struck.injected = said,
            Err(error) => struck.error = Some(format!("{error:#}")),
        }
        let mut healed_at = None;
        let mut steady_since: Option<Instant> = None;
        let mut worst_lag = Duration::ZERO;
        loop {
            let now = Instant::now();
            if healed_at.is_none() && now >= injected_at + fault.hold {
                if let Err(error) = self.call(&fault.name, "heal").await {
                    struck.error.get_or_insert(format!("{error:#}"));
                }
                healed_at = Some(Instant::now());
            }
            let lag = tracker.publication_lag();
            worst_lag = worst_lag.max(lag);
            if lag < LAG_GOAL {
                steady_since.get_or_insert(now);
            } else {
                steady_since = None;
            }
            if let Some(healed_at) = healed_at {
                let from = match fault.measured_from {
                    MeasuredFrom::Inject => injected_at,
                    MeasuredFrom::Heal => healed_at,
                };
                struck.measured_since = from;
                // Steady from the repair on: a node that resumes can still
                // unsettle the cluster after it.
                if let (Some(steady), Some(accepted)) = (
                    steady_since.map(|steady| steady.max(from)),
                    tracker.accepted_since(from),
                ) && now.saturating_duration_since(steady) >= STEADY
                {
                    let recovered_at = steady.max(accepted);
                    struck.recovery_heard_s = Some(round(
                        recovered_at.saturating_duration_since(from).as_secs_f64(),
                        1,
                    ));
                    break;
                }
                if now.duration_since(healed_at) > RECOVERY_TIMEOUT {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        struck.worst_publication_lag_s = round(worst_lag.as_secs_f64(), 1);
        struck
    }

    /// `<faults program> fault <name> <action>`: what it printed, or why it failed.
    async fn call(&self, name: &str, action: &str) -> anyhow::Result<String> {
        let output = tokio::time::timeout(
            PROGRAM_TIMEOUT,
            tokio::process::Command::new(&self.faults_program)
                .args(["fault", name, action])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .with_context(|| {
            format!(
                "{} fault {name} {action} took over {} s",
                self.faults_program.display(),
                PROGRAM_TIMEOUT.as_secs()
            )
        })?
        .with_context(|| format!("running {}", self.faults_program.display()))?;
        let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        anyhow::ensure!(
            output.status.success(),
            "{} fault {name} {action} failed: {}",
            self.faults_program.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(said)
    }
}

//! Morning roll-call waves: on each school morning every class's homeroom teacher
//! submits the roll call with their own token, `concurrency` at a time, in an
//! order shuffled by the seed. Measured from the outside: acceptance latency, the
//! lag until a watched school's summary shows the roll call, and the time until
//! the district's summaries count every accepted roll call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use hdrhistogram::Histogram;
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::reporting::v1 as rep;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tonic::transport::Channel;

use super::Length;
use super::district::District;
use crate::credentials::Credentials;
use crate::seed::plan::{exceptions, pick};
use crate::{progress, session};

/// Schools whose summaries are polled for the lag of each of their roll calls.
const WATCHED_SCHOOLS: usize = 2;
/// How often a watched school's summary is read: the lag's resolution.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);
/// Connections to attendance the teachers' requests share.
const CONNECTIONS: usize = 8;
/// A roll call not answered within this counts as an error.
const SUBMIT_DEADLINE: Duration = Duration::from_secs(30);
/// A summary not read within this fails the bench.
const READ_DEADLINE: Duration = Duration::from_secs(30);
/// How long reporting may take to show every accepted roll call.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) struct Waves<'a> {
    pub(super) attendance_url: &'a str,
    pub(super) reporting_url: &'a str,
    pub(super) district: &'a District,
    pub(super) mornings: &'a [time::Date],
    pub(super) length: Length,
    pub(super) concurrency: usize,
    pub(super) seed: u64,
}

pub(super) struct Outcome {
    pub(super) mornings: usize,
    pub(super) accepted: u64,
    pub(super) marks: u64,
    /// From the first submission to the last answer.
    pub(super) submitting: Duration,
    /// `SubmitRollCall` round trips, in microseconds.
    pub(super) latencies: Histogram<u64>,
    /// From acceptance to the watched school's summary showing it, in microseconds.
    pub(super) lags: Histogram<u64>,
    /// From the first submission until the district's summaries count every
    /// accepted roll call.
    pub(super) visible_after: Duration,
    pub(super) errors: BTreeMap<String, u64>,
}

/// What the teachers and the watchers share while the waves run.
struct Shared {
    next: AtomicUsize,
    stop_submitting: AtomicBool,
    done_submitting: AtomicBool,
    accepted: Vec<AtomicU64>,
    marks: AtomicU64,
    latencies: Mutex<Histogram<u64>>,
    lags: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Roll calls of watched schools accepted and not yet seen in their summary:
    /// (morning, class) to when they were accepted.
    unseen: Mutex<HashMap<(usize, usize), Instant>>,
    last_answer: Mutex<Option<Instant>>,
}

impl Waves<'_> {
    /// Fails when a morning already has roll calls: taken again, they would be
    /// corrections and never show as new.
    pub(super) async fn ensure_untaken(&self) -> anyhow::Result<()> {
        let reporting = ReportingServiceClient::new(session::connect(self.reporting_url).await?);
        for morning in self.mornings {
            let taken = self.submitted_on(&reporting, *morning).await?;
            anyhow::ensure!(
                taken == 0,
                "the synthetic district already has roll calls on {morning}: run `lienlac bench reset` first, or use another --seed"
            );
        }
        Ok(())
    }

    pub(super) async fn run(&self) -> anyhow::Result<Outcome> {
        let district = self.district;
        let classes = district.classes.len();
        // Every read of a summary gives up after the deadline, so a stalled
        // service fails the bench instead of hanging it.
        let reporting = ReportingServiceClient::new(
            session::connect_to(session::endpoint(self.reporting_url)?.timeout(READ_DEADLINE))
                .await?,
        );
        let mut attendance = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            attendance.push(AttendanceServiceClient::new(
                session::connect(self.attendance_url).await?,
            ));
        }
        // Each morning, the classes in an order of their own.
        let mut work = Vec::with_capacity(self.mornings.len() * classes);
        for morning in 0..self.mornings.len() {
            let mut order: Vec<usize> = (0..classes).collect();
            order.sort_by_key(|class| pick(&format!("{}:{morning}:{class}", self.seed), 1 << 30));
            work.extend(order.into_iter().map(|class| (morning, class)));
        }
        let histogram = || Histogram::<u64>::new(3).context("a histogram");
        let shared = Arc::new(Shared {
            next: AtomicUsize::new(0),
            stop_submitting: AtomicBool::new(false),
            done_submitting: AtomicBool::new(false),
            accepted: self.mornings.iter().map(|_| AtomicU64::new(0)).collect(),
            marks: AtomicU64::new(0),
            latencies: Mutex::new(histogram()?),
            lags: Mutex::new(histogram()?),
            errors: Mutex::new(BTreeMap::new()),
            unseen: Mutex::new(HashMap::new()),
            last_answer: Mutex::new(None),
        });
        let watched = district.schools.len().min(WATCHED_SCHOOLS);
        let requests = Arc::new(self.requests(&work, watched));
        let mut watchers = Vec::new();
        for school in 0..watched {
            watchers.push(tokio::spawn(watch(
                reporting.clone(),
                district.readers[district.schools[school].district]
                    .credentials
                    .clone(),
                district.schools[school].id.clone(),
                district
                    .classes
                    .iter()
                    .enumerate()
                    .filter(|(_, class)| class.school == school)
                    .map(|(index, class)| (class.id.clone(), index))
                    .collect(),
                self.mornings.to_vec(),
                shared.clone(),
            )));
        }

        eprintln!(
            "roll calls: {} classes each morning, {} teachers at a time",
            classes, self.concurrency
        );
        let bar = progress::bar(work.len() as u64, "roll calls");
        let started = Instant::now();
        let signed_in: Arc<Vec<Credentials>> = Arc::new(
            district
                .classes
                .iter()
                .map(|class| class.teacher.clone())
                .collect(),
        );
        let mut teachers = Vec::with_capacity(self.concurrency);
        for worker in 0..self.concurrency {
            let (client, shared, requests, signed_in, bar) = (
                attendance[worker % CONNECTIONS].clone(),
                shared.clone(),
                requests.clone(),
                signed_in.clone(),
                bar.clone(),
            );
            teachers.push(tokio::spawn(async move {
                submit_until_done(client, &shared, &requests, &signed_in, &bar).await
            }));
        }
        let timer = match self.length {
            Length::Duration(duration) => {
                let shared = shared.clone();
                Some(tokio::spawn(async move {
                    tokio::time::sleep(duration).await;
                    shared.stop_submitting.store(true, Ordering::Relaxed);
                }))
            }
            Length::Sessions(_) => None,
        };
        for teacher in teachers {
            teacher.await.context("a teacher's task")??;
        }
        // The mornings may run out before the duration.
        if let Some(timer) = timer {
            timer.abort();
            let _ = timer.await;
        }
        let finished = Instant::now();
        bar.finish_and_clear();
        shared.done_submitting.store(true, Ordering::Relaxed);
        let last_answer = shared
            .last_answer
            .lock()
            .map_err(|_| anyhow::anyhow!("a teacher's task panicked"))?
            .unwrap_or(started);

        // Every accepted roll call counted in the district's summaries.
        let mornings_used = self
            .mornings
            .iter()
            .enumerate()
            .filter(|(index, _)| shared.accepted[*index].load(Ordering::Relaxed) > 0)
            .count();
        for (index, morning) in self.mornings.iter().enumerate() {
            let expected = shared.accepted[index].load(Ordering::Relaxed);
            loop {
                if self.submitted_on(&reporting, *morning).await? >= expected {
                    break;
                }
                anyhow::ensure!(
                    finished.elapsed() < VISIBLE_TIMEOUT,
                    "reporting still does not show every roll call of {morning} {} s after the last was sent",
                    VISIBLE_TIMEOUT.as_secs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let visible_after = started.elapsed();
        for watcher in watchers {
            watcher.await.context("a watcher's task")??;
        }
        let shared = Arc::into_inner(shared).context("the waves' state is still shared")?;
        let poisoned = || anyhow::anyhow!("a task panicked while recording");
        Ok(Outcome {
            mornings: mornings_used,
            accepted: shared
                .accepted
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .sum(),
            marks: shared.marks.load(Ordering::Relaxed),
            submitting: last_answer.duration_since(started),
            latencies: shared.latencies.into_inner().map_err(|_| poisoned())?,
            lags: shared.lags.into_inner().map_err(|_| poisoned())?,
            visible_after,
            errors: shared.errors.into_inner().map_err(|_| poisoned())?,
        })
    }

    /// Each roll call as its teacher sends it: everyone present but about one
    /// student in thirty absent, with or without leave, and a few late.
    fn requests(&self, work: &[(usize, usize)], watched_schools: usize) -> Vec<Submission> {
        work.iter()
            .map(|&(morning, index)| {
                let class = &self.district.classes[index];
                let date = self.mornings[morning];
                let marks = exceptions(&class.students, &format!("{}:{date}", self.seed), 60);
                Submission {
                    morning,
                    class: index,
                    students: class.students.len() as u64,
                    watched: class.school < watched_schools,
                    request: att::SubmitRollCallRequest {
                        request_id: uuid::Uuid::now_v7().to_string(),
                        class_id: class.id.clone(),
                        date: date.to_string(),
                        session: att::Session::Morning as i32,
                        marks,
                        taken_at: String::new(),
                    },
                }
            })
            .collect()
    }

    /// Morning roll calls the district's summary counts on `date`.
    /// The morning roll calls of `date` every district's summary counts.
    async fn submitted_on(
        &self,
        reporting: &ReportingServiceClient<Channel>,
        date: time::Date,
    ) -> anyhow::Result<u64> {
        let counts: Vec<u64> = futures::stream::iter(&self.district.readers)
            .map(|reader| async move {
                let summary = reporting
                    .clone()
                    .get_district_daily_summary(session::authorised(
                        rep::GetDistrictDailySummaryRequest {
                            district_id: reader.district_id.clone(),
                            date: date.to_string(),
                        },
                        &reader.credentials,
                    )?)
                    .await
                    .context("reading a district's daily summary")?
                    .into_inner();
                anyhow::Ok(morning_submitted(&summary.totals))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }
}

struct Submission {
    morning: usize,
    class: usize,
    students: u64,
    /// Its school is watched for the lag.
    watched: bool,
    request: att::SubmitRollCallRequest,
}

/// One teacher at a time after another: takes the next roll call of the list
/// until it is done or the duration is over.
async fn submit_until_done(
    mut client: AttendanceServiceClient<Channel>,
    shared: &Shared,
    requests: &[Submission],
    signed_in: &[Credentials],
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    while !shared.stop_submitting.load(Ordering::Relaxed) {
        let Some(submission) = requests.get(shared.next.fetch_add(1, Ordering::Relaxed)) else {
            return Ok(());
        };
        let teacher = &signed_in[submission.class];
        let mut request = session::authorised(submission.request.clone(), teacher)?;
        request.set_timeout(SUBMIT_DEADLINE);
        let sent = Instant::now();
        // The server is told the deadline; the client keeps it too, so that a
        // stalled connection cannot hold a teacher forever.
        let answer = tokio::time::timeout(SUBMIT_DEADLINE, client.submit_roll_call(request)).await;
        let answered = Instant::now();
        let outcome = match answer {
            Ok(Ok(_)) => Ok((sent, answered)),
            Ok(Err(status)) => Err(format!("{:?}", status.code())),
            Err(_) => Err(format!("{:?}", tonic::Code::DeadlineExceeded)),
        };
        match outcome {
            Ok((sent, answered)) => {
                shared.accepted[submission.morning].fetch_add(1, Ordering::Relaxed);
                shared
                    .marks
                    .fetch_add(submission.students, Ordering::Relaxed);
                if let Ok(mut latencies) = shared.latencies.lock() {
                    let _ = latencies.record(micros(answered - sent));
                }
                if submission.watched
                    && let Ok(mut unseen) = shared.unseen.lock()
                {
                    unseen.insert((submission.morning, submission.class), answered);
                }
                if let Ok(mut last) = shared.last_answer.lock() {
                    *last = Some(last.map_or(answered, |last| last.max(answered)));
                }
            }
            Err(code) => {
                if let Ok(mut errors) = shared.errors.lock() {
                    *errors.entry(code).or_default() += 1;
                }
            }
        }
        bar.inc(1);
    }
    Ok(())
}

/// Reads one school's summary of every morning with roll calls not yet seen,
/// and records each one's lag when its class stops being listed as missing.
async fn watch(
    mut reporting: ReportingServiceClient<Channel>,
    admin: Credentials,
    school_id: String,
    class_index: HashMap<String, usize>,
    mornings: Vec<time::Date>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let ours: HashSet<usize> = class_index.values().copied().collect();
    let mut done_at = None;
    loop {
        let done = shared.done_submitting.load(Ordering::Relaxed);
        if done && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let waiting: HashSet<usize> = shared
            .unseen
            .lock()
            .map_err(|_| anyhow::anyhow!("a teacher's task panicked"))?
            .keys()
            .filter(|(_, class)| ours.contains(class))
            .map(|(morning, _)| *morning)
            .collect();
        if waiting.is_empty() && done {
            return Ok(());
        }
        anyhow::ensure!(
            done_at.is_none_or(|at| at.elapsed() < VISIBLE_TIMEOUT),
            "a school's summary still misses roll calls {} s after the last was sent",
            VISIBLE_TIMEOUT.as_secs()
        );
        for morning in waiting {
            let summary = reporting
                .get_school_daily_summary(session::authorised(
                    rep::GetSchoolDailySummaryRequest {
                        school_id: school_id.clone(),
                        date: mornings[morning].to_string(),
                    },
                    &admin,
                )?)
                .await
                .context("reading a school's daily summary")?
                .into_inner();
            let seen_at = Instant::now();
            let missing: HashSet<usize> = summary
                .sessions
                .iter()
                .filter(|session| session.session == att::Session::Morning as i32)
                .flat_map(|session| &session.missing)
                .filter_map(|class| class_index.get(&class.class_id).copied())
                .collect();
            let mut unseen = shared
                .unseen
                .lock()
                .map_err(|_| anyhow::anyhow!("a teacher's task panicked"))?;
            let visible: Vec<((usize, usize), Instant)> = unseen
                .iter()
                .filter(|((m, class), _)| {
                    *m == morning && ours.contains(class) && !missing.contains(class)
                })
                .map(|(key, accepted)| (*key, *accepted))
                .collect();
            for (key, accepted) in visible {
                unseen.remove(&key);
                if let Ok(mut lags) = shared.lags.lock() {
                    let _ = lags.record(micros(seen_at.saturating_duration_since(accepted)));
                }
            }
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

fn morning_submitted(sessions: &[rep::SessionSummary]) -> u64 {
    sessions
        .iter()
        .filter(|session| session.session == att::Session::Morning as i32)
        .map(|session| session.classes_submitted.max(0) as u64)
        .sum()
}

fn micros(duration: Duration) -> u64 {
    duration.as_micros().min(u128::from(u64::MAX)) as u64
}

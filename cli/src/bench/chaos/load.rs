//! The roll-call load under faults: homeroom teachers submit their classes' roll
//! calls at a steady rate, each as a phone would, retrying with the same request
//! id until it is acknowledged, and every acknowledgement is recorded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::tracker::Tracker;
use crate::bench::district::District;
use crate::seed::plan::{exceptions, pick};
use crate::session;

/// Connections to attendance the teachers share.
const CONNECTIONS: usize = 8;
/// One attempt's deadline.
const ATTEMPT_DEADLINE: Duration = Duration::from_secs(10);
/// A roll call still not acknowledged after this is given up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

pub(super) struct Load<'a> {
    pub(super) attendance_url: &'a str,
    pub(super) district: &'a District,
    pub(super) mornings: &'a [time::Date],
    /// Roll calls sent a second, when the system keeps up.
    pub(super) rate: f64,
    pub(super) concurrency: usize,
    pub(super) seed: u64,
}

#[derive(Default, serde::Serialize)]
pub(super) struct Counts {
    pub(super) acknowledged: u64,
    /// Attempts answered with an error a phone retries, by code.
    pub(super) retried: BTreeMap<String, u64>,
    /// Roll calls refused for good, by code: none is expected.
    pub(super) refused: BTreeMap<String, u64>,
    /// Roll calls still unacknowledged after every retry.
    pub(super) given_up: u64,
}

/// One class's roll call of one morning.
struct Work {
    request: att::SubmitRollCallRequest,
    class: usize,
    stream_id: String,
}

impl Load<'_> {
    /// Sends roll calls until `stop` is set or every morning is taken, then
    /// waits for those in flight.
    pub(super) async fn run(
        &self,
        tracker: Arc<Tracker>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Counts> {
        anyhow::ensure!(self.rate > 0.0, "--rate must be above 0");
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let endpoint = session::endpoint(self.attendance_url)?
                .connect_timeout(Duration::from_secs(2))
                .timeout(ATTEMPT_DEADLINE);
            connections.push(AttendanceServiceClient::new(endpoint.connect_lazy()));
        }
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (sender, receiver) = mpsc::channel::<Work>(self.concurrency);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let mut teachers = Vec::with_capacity(self.concurrency);
        for worker in 0..self.concurrency {
            let (client, receiver, tracker, counts) = (
                connections[worker % CONNECTIONS].clone(),
                receiver.clone(),
                tracker.clone(),
                counts.clone(),
            );
            let teachers_of: Vec<_> = self
                .district
                .classes
                .iter()
                .map(|class| class.teacher.clone())
                .collect();
            teachers.push(tokio::spawn(async move {
                loop {
                    let Some(work) = receiver.lock().await.recv().await else {
                        return anyhow::Ok(());
                    };
                    submit(
                        client.clone(),
                        &work,
                        &teachers_of[work.class],
                        &tracker,
                        &counts,
                    )
                    .await?;
                }
            }));
        }
        // The pacer: one roll call every 1/rate seconds, waiting while every
        // teacher is busy, so that an outage does not pile up a burst.
        let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / self.rate));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        'mornings: for (morning, date) in self.mornings.iter().enumerate() {
            let mut order: Vec<usize> = (0..self.district.classes.len()).collect();
            order.sort_by_key(|class| {
                pick(&format!("chaos:{}:{morning}:{class}", self.seed), 1 << 30)
            });
            for class in order {
                if stop.load(Ordering::Relaxed) {
                    break 'mornings;
                }
                every.tick().await;
                let students = &self.district.classes[class].students;
                let class_id = self.district.classes[class].id.clone();
                let work = Work {
                    stream_id: format!("roll_call:{class_id}:{date}:SESSION_MORNING"),
                    request: att::SubmitRollCallRequest {
                        request_id: uuid::Uuid::now_v7().to_string(),
                        class_id,
                        date: date.to_string(),
                        session: att::Session::Morning as i32,
                        marks: exceptions(students, &format!("chaos:{}:{date}", self.seed), 30),
                        taken_at: String::new(),
                    },
                    class,
                };
                if sender.send(work).await.is_err() {
                    break 'mornings;
                }
            }
        }
        drop(sender);
        for teacher in teachers {
            teacher.await.context("a teacher's task")??;
        }
        let counts = Arc::into_inner(counts).context("the load's counts are still shared")?;
        Ok(counts
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Whether a phone retries a roll call answered with `code`. Unauthenticated
/// too: a replica started while identity is down cannot check tokens until it
/// has read identity's keys, and the teacher's token is valid.
pub(super) fn worth_retrying(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Internal
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Cancelled
            | Code::Unauthenticated
    )
}

/// Sends one roll call until it is acknowledged, refused or given up.
async fn submit(
    mut client: AttendanceServiceClient<Channel>,
    work: &Work,
    teacher: &crate::credentials::Credentials,
    tracker: &Tracker,
    counts: &Mutex<Counts>,
) -> anyhow::Result<()> {
    let count = |update: &dyn Fn(&mut Counts)| {
        let mut counts = counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        update(&mut counts);
    };
    let first = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let mut request = session::authorised(work.request.clone(), teacher)?;
        request.set_timeout(ATTEMPT_DEADLINE);
        let sent = Instant::now();
        let code =
            match tokio::time::timeout(ATTEMPT_DEADLINE, client.submit_roll_call(request)).await {
                Ok(Ok(_)) => {
                    tracker.acknowledged(work.stream_id.clone(), sent, Instant::now());
                    count(&|counts| counts.acknowledged += 1);
                    return Ok(());
                }
                Ok(Err(status)) => status.code(),
                Err(_) => tonic::Code::DeadlineExceeded,
            };
        let name = format!("{code:?}");
        if !worth_retrying(code) {
            count(&|counts| *counts.refused.entry(name.clone()).or_default() += 1);
            return Ok(());
        }
        count(&|counts| *counts.retried.entry(name.clone()).or_default() += 1);
        if first.elapsed() > GIVE_UP_AFTER {
            count(&|counts| counts.given_up += 1);
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::worth_retrying;
    use tonic::Code;

    #[test]
    fn a_phone_retries_what_a_fault_causes_and_not_what_it_sent_wrong() {
        for (code, retried) in [
            (Code::Unavailable, true),
            (Code::DeadlineExceeded, true),
            (Code::Unknown, true),
            (Code::Internal, true),
            (Code::Cancelled, true),
            (Code::Unauthenticated, true),
            (Code::InvalidArgument, false),
            (Code::PermissionDenied, false),
            (Code::FailedPrecondition, false),
            (Code::NotFound, false),
        ] {
            assert_eq!(worth_retrying(code), retried, "{code:?}");
        }
    }
}

//! Every figure agrees with the events: replay attendance's published events,
//! recompute the figures here, and compare with what the service answers.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt as _;
use kernel::config::{ServiceId, stream_name_in, subject_root_in};
use kernel::consumer::ReceivedEvent;
use kernel::testing::eventually;
use lienlac_proto::attendance::v1::{self as att, AttendanceStatus};
use lienlac_proto::attendance::v2 as public;
use lienlac_proto::reporting::v1 as pb;

use crate::helpers::{Stack, rid, with_token};

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    fn status(&mut self) -> AttendanceStatus {
        match self.next(10) {
            0..=5 => AttendanceStatus::Present,
            6 => AttendanceStatus::AbsentExcused,
            7 | 8 => AttendanceStatus::AbsentUnexcused,
            _ => AttendanceStatus::Late,
        }
    }
}

/// Marks by (class, date, session) and student, folded from the events.
type Marks = BTreeMap<(String, String, i32), BTreeMap<String, i32>>;

async fn replay(stack: &Stack) -> Marks {
    let jetstream = stack.world.jetstream().await;
    let stream = jetstream
        .get_stream(stream_name_in(
            &stack.world.namespace,
            ServiceId::ATTENDANCE,
        ))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            filter_subject: format!(
                "{}.>",
                subject_root_in(&stack.world.namespace, ServiceId::ATTENDANCE)
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut marks = Marks::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), messages.next()).await
    {
        let message = message.unwrap();
        let event = ReceivedEvent::parse(
            &message.subject,
            message.headers.as_ref(),
            message.payload.clone(),
        )
        .unwrap();
        match event.event_type.rsplit('.').next().unwrap() {
            "RollCallSubmitted" => {
                let submitted: public::RollCallSubmitted = event.decode().unwrap();
                let key = (submitted.class_id, submitted.date, submitted.session);
                let roll_call = marks.entry(key).or_default();
                for mark in submitted.marks {
                    roll_call.insert(mark.student_id, mark.status);
                }
            }
            "MarkCorrected" => {
                let corrected: public::MarkCorrected = event.decode().unwrap();
                let key = (corrected.class_id, corrected.date, corrected.session);
                marks
                    .entry(key)
                    .or_default()
                    .insert(corrected.student_id, corrected.to);
            }
            _ => {}
        }
    }
    marks
}

fn counts(statuses: impl Iterator<Item = i32>) -> pb::StatusCounts {
    let mut counts = pb::StatusCounts::default();
    for status in statuses {
        match AttendanceStatus::try_from(status).unwrap() {
            AttendanceStatus::Present => counts.present += 1,
            AttendanceStatus::AbsentExcused => counts.absent_excused += 1,
            AttendanceStatus::AbsentUnexcused => counts.absent_unexcused += 1,
            AttendanceStatus::Late => counts.late += 1,
            AttendanceStatus::Unspecified => panic!("unspecified mark"),
        }
    }
    counts
}

/// What the service shows that the events do not say, for every session summary
/// and every student's absences over `days`.
async fn mismatches(stack: &Stack, days: &[String], expected_marks: &Marks) -> Vec<String> {
    let mut mismatches = Vec::new();
    for day in days {
        let summary = stack.school_summary(&stack.principal, day).await.unwrap();
        for (index, session) in [att::Session::Morning, att::Session::Afternoon]
            .into_iter()
            .enumerate()
        {
            let taken: Vec<&BTreeMap<String, i32>> = expected_marks
                .iter()
                .filter(|((_, date, s), _)| date == day && *s == session as i32)
                .map(|(_, marks)| marks)
                .collect();
            let expected = counts(taken.iter().flat_map(|marks| marks.values().copied()));
            let shown = &summary.sessions[index];
            if shown.counts != Some(expected) || shown.classes_submitted != taken.len() as i32 {
                mismatches.push(format!(
                    "{day} {session:?}: shown {:?} in {} classes, events say {expected:?} in {}",
                    shown.counts,
                    shown.classes_submitted,
                    taken.len()
                ));
            }
        }
    }
    let mut per_student: HashMap<String, Vec<(String, i32, i32)>> = HashMap::new();
    for ((_, date, session), marks) in expected_marks {
        for (student, status) in marks {
            if *status != AttendanceStatus::Present as i32 {
                per_student.entry(student.clone()).or_default().push((
                    date.clone(),
                    *session,
                    *status,
                ));
            }
        }
    }
    for student in stack.students.iter().chain([&stack.other_student]) {
        let shown = stack
            .reporting
            .clone()
            .get_student_absences(with_token(
                pb::GetStudentAbsencesRequest {
                    student_id: student.clone(),
                    from_date: days[0].clone(),
                    to_date: days[days.len() - 1].clone(),
                },
                &stack.principal,
            ))
            .await
            .unwrap()
            .into_inner();
        let mut shown: Vec<(String, i32, i32)> = shown
            .sessions
            .into_iter()
            .map(|s| (s.date, s.session, s.status))
            .collect();
        let mut expected = per_student.remove(student).unwrap_or_default();
        shown.sort();
        expected.sort();
        if shown != expected {
            mismatches.push(format!(
                "student {student}: shown {shown:?}, events say {expected:?}"
            ));
        }
    }
    mismatches
}

/// Until reporting agrees with the events, or for at most 15 s.
async fn until_figures_agree(stack: &Stack, days: &[String], expected_marks: &Marks) {
    let mut mismatches = Vec::new();
    for _ in 0..60 {
        mismatches = self::mismatches(stack, days, expected_marks).await;
        if mismatches.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn every_figure_agrees_with_a_replay_of_the_events() {
    let stack = Stack::start().await;
    let mut random = Lcg(0x1ac_2025);
    let days: Vec<String> = (0..5).rev().map(|ago| stack.days_ago(ago)).collect();
    let classes = [
        (
            stack.class_id.clone(),
            stack.students.clone(),
            stack.homeroom.clone(),
        ),
        (
            stack.other_class_id.clone(),
            vec![stack.other_student.clone()],
            stack.other_homeroom.clone(),
        ),
    ];
    for day in &days {
        for (class_id, students, token) in &classes {
            for session in [att::Session::Morning, att::Session::Afternoon] {
                if random.next(5) == 0 {
                    continue; // a roll call not taken
                }
                let marks = students
                    .iter()
                    .map(|student| att::Mark {
                        student_id: student.clone(),
                        status: random.status() as i32,
                        ..Default::default()
                    })
                    .collect();
                stack
                    .attendance
                    .clone()
                    .submit_roll_call(with_token(
                        att::SubmitRollCallRequest {
                            request_id: rid(),
                            class_id: class_id.clone(),
                            date: day.clone(),
                            session: session as i32,
                            marks,
                            taken_at: String::new(),
                        },
                        token,
                    ))
                    .await
                    .unwrap();
                // Some marks are corrected afterwards, some more than once.
                for _ in 0..random.next(3) {
                    let student = &students[random.next(students.len() as u64) as usize];
                    let _ = stack
                        .attendance
                        .clone()
                        .correct_mark(with_token(
                            att::CorrectMarkRequest {
                                request_id: rid(),
                                class_id: class_id.clone(),
                                date: day.clone(),
                                session: session as i32,
                                student_id: student.clone(),
                                status: random.status() as i32,
                                reason: "Sửa lại".into(),
                                note: String::new(),
                            },
                            token,
                        ))
                        .await;
                }
            }
        }
    }

    // Reporting catches up; then every figure must match the replay.
    let expected_marks = eventually("the replay settles", Duration::from_secs(10), || async {
        let first = replay(&stack).await;
        let total: usize = first.values().map(BTreeMap::len).sum();
        (total > 0).then_some(first)
    })
    .await;
    until_figures_agree(&stack, &days, &expected_marks).await;

    // A rebuild replays the same events (its corrections set aside until the end)
    // into the same figures.
    stack
        .reporting
        .clone()
        .rebuild_projections(with_token(
            pb::RebuildProjectionsRequest {
                name: "attendance".into(),
            },
            &stack.operator,
        ))
        .await
        .unwrap();
    eventually("the rebuild swaps", Duration::from_secs(20), || async {
        let projections = stack.projections().await;
        projections
            .iter()
            .any(|p| p.name == "attendance" && p.generation == 2)
            .then_some(())
    })
    .await;
    until_figures_agree(&stack, &days, &expected_marks).await;

    // Every event of both publishers was projected, the operator's sign-ins too.
    let dead_letters: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, error FROM dead_letters")
            .fetch_all(&stack.reporting_pool)
            .await
            .unwrap();
    assert!(dead_letters.is_empty(), "{dead_letters:#?}");
}

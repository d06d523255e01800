//! The roll call's rules as given / when / then tables.
use super::*;
use AttendanceStatus::{AbsentExcused, AbsentUnexcused, Late, Present};

const TODAY: Date = time::macros::date!(2025 - 10 - 15);

mod corrections;
mod submissions;

fn student(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn leave(n: u128) -> Uuid {
    Uuid::from_u128(1_000 + n)
}

fn mark(n: u128, status: AttendanceStatus) -> StudentMark {
    StudentMark {
        student_id: student(n),
        status,
        note: String::new(),
        leave_id: None,
    }
}

fn noted(n: u128, status: AttendanceStatus, note: &str) -> StudentMark {
    StudentMark {
        note: note.to_owned(),
        ..mark(n, status)
    }
}

/// Students 1, 2 and 3 enrolled; student 3 on approved leave.
fn context() -> Context {
    Context {
        date: TODAY,
        today: TODAY,
        correction_window_days: 7,
        calendar: Calendar::Open,
        roster: vec![
            (student(1), None),
            (student(2), None),
            (student(3), Some(leave(3))),
        ],
        corrector: Corrector::Staff,
    }
}

fn taken(marks: &[StudentMark]) -> Vec<RollCallEvent> {
    vec![RollCallEvent::Submitted {
        marks: marks.to_vec(),
    }]
}

fn first_taken() -> Vec<RollCallEvent> {
    taken(&[
        mark(1, Present),
        mark(2, Present),
        StudentMark::excused_by(student(3), leave(3)),
    ])
}

/// What taking [`first_taken`] decides: the roll call and student 3's absence.
fn first_submission() -> Vec<RollCallEvent> {
    let mut events = first_taken();
    events.push(RollCallEvent::AbsenceRecorded {
        mark: StudentMark::excused_by(student(3), leave(3)),
    });
    events
}

fn corrected(from: AttendanceStatus, to: StudentMark, reason: &str) -> RollCallEvent {
    RollCallEvent::MarkCorrected {
        from,
        to,
        reason: reason.to_owned(),
    }
}

fn submit(listed: &[StudentMark]) -> Command {
    Command::Submit {
        listed: listed.to_vec(),
    }
}

fn correct(mark: StudentMark) -> Command {
    Command::Correct {
        mark,
        reason: "came late".to_owned(),
    }
}

struct Case {
    name: &'static str,
    given: Vec<RollCallEvent>,
    context: Context,
    when: Command,
    then: Result<Vec<RollCallEvent>, RollCallError>,
}

fn days_ago(days: i64) -> Context {
    Context {
        date: TODAY - time::Duration::days(days),
        ..context()
    }
}

fn cases() -> Vec<Case> {
    let mut cases = submissions::cases();
    cases.extend(corrections::cases());
    cases
}

#[test]
fn given_the_facts_when_a_command_then_these_facts_or_this_rule() {
    let cases = cases();
    assert!(cases.len() >= 25);
    for case in cases {
        let state = case
            .given
            .iter()
            .fold(RollCall::default(), |state, event| state.evolve(event));
        assert_eq!(
            state.decide(&case.when, &case.context),
            case.then,
            "{}",
            case.name
        );
    }
}

#[test]
fn what_was_decided_is_what_the_roll_call_becomes() {
    let events = RollCall::NotTaken
        .decide(&submit(&[mark(1, Late)]), &context())
        .unwrap();
    let state = events.iter().fold(RollCall::NotTaken, RollCall::evolve);
    let corrections = state
        .decide(&correct(mark(1, Present)), &context())
        .unwrap();
    let state = corrections.iter().fold(state, RollCall::evolve);
    let RollCall::Taken { marks } = state else {
        panic!("taken");
    };
    assert_eq!(marks[&student(1)], mark(1, Present));
    assert_eq!(
        marks[&student(3)],
        StudentMark::excused_by(student(3), leave(3))
    );
}

#[test]
fn every_rule_speaks_vietnamese_too() {
    for error in [
        RollCallError::FutureDate,
        RollCallError::NotTaken,
        RollCallError::CorrectionWindowPassed,
        RollCallError::NotACorrector,
        RollCallError::NoMark {
            student: student(1),
        },
        RollCallError::MonthClosed {
            month: "2025-10".to_owned(),
        },
    ] {
        assert!(!error.vietnamese().is_empty());
        assert_ne!(error.vietnamese(), error.to_string());
    }
}

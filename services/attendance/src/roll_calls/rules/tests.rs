//! The roll call's rules as given / when / then tables.
use super::*;
use AttendanceStatus::{AbsentExcused, AbsentUnexcused, Late, Present};

const TODAY: Date = time::macros::date!(2025 - 10 - 15);

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
    vec![
        Case {
            name: "students not listed are present; a leave excuses its student",
            given: vec![],
            context: context(),
            when: submit(&[]),
            then: Ok(first_submission()),
        },
        Case {
            name: "each absence of a first submission is recorded",
            given: vec![],
            context: context(),
            when: submit(&[mark(1, AbsentUnexcused), mark(2, Late)]),
            then: Ok(vec![
                RollCallEvent::Submitted {
                    marks: vec![
                        mark(1, AbsentUnexcused),
                        mark(2, Late),
                        StudentMark::excused_by(student(3), leave(3)),
                    ],
                },
                RollCallEvent::AbsenceRecorded {
                    mark: mark(1, AbsentUnexcused),
                },
                RollCallEvent::AbsenceRecorded {
                    mark: StudentMark::excused_by(student(3), leave(3)),
                },
            ]),
        },
        Case {
            name: "a student listed beats the leave",
            given: vec![],
            context: context(),
            when: submit(&[mark(3, Present)]),
            then: Ok(taken(&[
                mark(1, Present),
                mark(2, Present),
                mark(3, Present),
            ])),
        },
        Case {
            name: "a student not enrolled that day is refused",
            given: vec![],
            context: context(),
            when: submit(&[mark(9, Late)]),
            then: Err(RollCallError::NotEnrolled {
                student: student(9),
                date: TODAY,
            }),
        },
        Case {
            name: "a date in the future is refused",
            given: vec![],
            context: Context {
                date: TODAY.next_day().unwrap(),
                ..context()
            },
            when: submit(&[]),
            then: Err(RollCallError::FutureDate),
        },
        Case {
            name: "no roll call on a closure day",
            given: vec![],
            context: Context {
                calendar: Calendar::ClosureDay {
                    reason: "Tết".to_owned(),
                },
                ..context()
            },
            when: submit(&[]),
            then: Err(RollCallError::ClosureDay {
                date: TODAY,
                reason: "Tết".to_owned(),
            }),
        },
        Case {
            name: "no roll call in a closed month",
            given: vec![],
            context: Context {
                calendar: Calendar::MonthClosed,
                ..context()
            },
            when: submit(&[]),
            then: Err(RollCallError::MonthClosed {
                month: "2025-10".to_owned(),
            }),
        },
        Case {
            name: "an empty class takes an empty roll call",
            given: vec![],
            context: Context {
                roster: vec![],
                ..context()
            },
            when: submit(&[]),
            then: Ok(taken(&[])),
        },
        Case {
            name: "submitting the same marks again changes nothing",
            given: first_taken(),
            context: context(),
            when: submit(&[]),
            then: Ok(vec![]),
        },
        Case {
            name: "a new submission corrects what changed, and only that",
            given: first_taken(),
            context: context(),
            when: submit(&[mark(1, Late), mark(2, Present)]),
            then: Ok(vec![corrected(Present, mark(1, Late), RESUBMITTED)]),
        },
        Case {
            name: "a changed note alone is a correction",
            given: first_taken(),
            context: context(),
            when: submit(&[noted(2, Present, "đến muộn 5 phút")]),
            then: Ok(vec![corrected(
                Present,
                noted(2, Present, "đến muộn 5 phút"),
                RESUBMITTED,
            )]),
        },
        Case {
            name: "a student enrolled since the first submission is corrected from present",
            given: taken(&[mark(1, Present), mark(2, Present)]),
            context: Context {
                roster: vec![(student(1), None), (student(2), None), (student(4), None)],
                ..context()
            },
            when: submit(&[mark(4, AbsentUnexcused)]),
            then: Ok(vec![corrected(
                Present,
                mark(4, AbsentUnexcused),
                RESUBMITTED,
            )]),
        },
        Case {
            name: "a leave approved since corrects the unlisted student",
            given: taken(&[mark(1, Present), mark(2, Present), mark(3, Present)]),
            context: context(),
            when: submit(&[]),
            then: Ok(vec![corrected(
                Present,
                StudentMark::excused_by(student(3), leave(3)),
                RESUBMITTED,
            )]),
        },
        Case {
            name: "staff resubmit within the window",
            given: first_taken(),
            context: days_ago(7),
            when: submit(&[mark(1, Late)]),
            then: Ok(vec![corrected(Present, mark(1, Late), RESUBMITTED)]),
        },
        Case {
            name: "staff cannot resubmit after the window, even unchanged",
            given: first_taken(),
            context: days_ago(8),
            when: submit(&[]),
            then: Err(RollCallError::CorrectionWindowPassed),
        },
        Case {
            name: "the principal resubmits after the window",
            given: first_taken(),
            context: Context {
                corrector: Corrector::Principal,
                ..days_ago(30)
            },
            when: submit(&[mark(2, AbsentExcused)]),
            then: Ok(vec![corrected(
                Present,
                mark(2, AbsentExcused),
                RESUBMITTED,
            )]),
        },
        Case {
            name: "a first submission after the window is no correction",
            given: vec![],
            context: days_ago(30),
            when: submit(&[]),
            then: Ok(first_submission()),
        },
        Case {
            name: "a resubmission in a closed month is refused",
            given: first_taken(),
            context: Context {
                calendar: Calendar::MonthClosed,
                ..context()
            },
            when: submit(&[mark(1, Late)]),
            then: Err(RollCallError::MonthClosed {
                month: "2025-10".to_owned(),
            }),
        },
        Case {
            name: "a correction changes one mark, with its reason",
            given: first_taken(),
            context: context(),
            when: correct(mark(2, Late)),
            then: Ok(vec![corrected(Present, mark(2, Late), "came late")]),
        },
        Case {
            name: "a correction to the same mark changes nothing",
            given: first_taken(),
            context: context(),
            when: correct(mark(2, Present)),
            then: Ok(vec![]),
        },
        Case {
            name: "a correction of the note alone is a correction",
            given: first_taken(),
            context: context(),
            when: correct(noted(1, Present, "về sớm")),
            then: Ok(vec![corrected(
                Present,
                noted(1, Present, "về sớm"),
                "came late",
            )]),
        },
        Case {
            name: "a correction follows the corrections before it",
            given: [
                first_taken(),
                vec![corrected(Present, mark(2, Late), "came late")],
            ]
            .concat(),
            context: context(),
            when: correct(mark(2, AbsentUnexcused)),
            then: Ok(vec![corrected(Late, mark(2, AbsentUnexcused), "came late")]),
        },
        Case {
            name: "a roll call not taken cannot be corrected",
            given: vec![],
            context: context(),
            when: correct(mark(1, Late)),
            then: Err(RollCallError::NotTaken),
        },
        Case {
            name: "a student without a mark cannot be corrected",
            given: first_taken(),
            context: context(),
            when: correct(mark(9, Late)),
            then: Err(RollCallError::NoMark {
                student: student(9),
            }),
        },
        Case {
            name: "staff correct within the window only",
            given: first_taken(),
            context: days_ago(8),
            when: correct(mark(1, Late)),
            then: Err(RollCallError::CorrectionWindowPassed),
        },
        Case {
            name: "the principal corrects at any time",
            given: first_taken(),
            context: Context {
                corrector: Corrector::Principal,
                ..days_ago(60)
            },
            when: correct(mark(1, Late)),
            then: Ok(vec![corrected(Present, mark(1, Late), "came late")]),
        },
        Case {
            name: "someone who corrects nothing is told who does",
            given: first_taken(),
            context: Context {
                corrector: Corrector::Nobody,
                ..context()
            },
            when: correct(mark(1, Late)),
            then: Err(RollCallError::NotACorrector),
        },
        Case {
            name: "not even the principal corrects in a closed month",
            given: first_taken(),
            context: Context {
                corrector: Corrector::Principal,
                calendar: Calendar::MonthClosed,
                ..context()
            },
            when: correct(mark(1, Late)),
            then: Err(RollCallError::MonthClosed {
                month: "2025-10".to_owned(),
            }),
        },
        Case {
            name: "an approved leave excuses a mark taken, keeping its note",
            given: taken(&[noted(1, AbsentUnexcused, "ốm"), mark(2, Present)]),
            context: days_ago(30),
            when: Command::Excuse {
                student: student(1),
                leave: leave(1),
            },
            then: Ok(vec![corrected(
                AbsentUnexcused,
                StudentMark {
                    status: AbsentExcused,
                    leave_id: Some(leave(1)),
                    ..noted(1, AbsentUnexcused, "ốm")
                },
                LEAVE_APPROVED,
            )]),
        },
        Case {
            name: "a mark already excused stays as it is, even in a closed month",
            given: taken(&[mark(1, AbsentExcused)]),
            context: Context {
                calendar: Calendar::MonthClosed,
                ..context()
            },
            when: Command::Excuse {
                student: student(1),
                leave: leave(1),
            },
            then: Ok(vec![]),
        },
        Case {
            name: "a leave over a closed month changes none of its marks",
            given: taken(&[mark(1, Present)]),
            context: Context {
                calendar: Calendar::MonthClosed,
                ..context()
            },
            when: Command::Excuse {
                student: student(1),
                leave: leave(1),
            },
            then: Err(RollCallError::MonthClosed {
                month: "2025-10".to_owned(),
            }),
        },
        Case {
            name: "the window is checked before the calendar",
            given: first_taken(),
            context: Context {
                calendar: Calendar::MonthClosed,
                ..days_ago(40)
            },
            when: correct(mark(1, Late)),
            then: Err(RollCallError::CorrectionWindowPassed),
        },
    ]
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

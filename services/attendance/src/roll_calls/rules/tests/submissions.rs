//! Submitting a roll call: first submissions and resubmissions.

use super::*;

pub(super) fn cases() -> Vec<Case> {
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
    ]
}

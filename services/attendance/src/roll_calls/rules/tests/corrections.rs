//! Correcting marks of a roll call taken, and excusing them for a leave.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
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

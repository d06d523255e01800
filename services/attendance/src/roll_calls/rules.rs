//! The rules of one roll call, as a decider without I/O and without a clock:
//! [`RollCall::decide`] answers a command with the facts it causes or the rule it
//! breaks, given what the handler found ([`Context`]: the date, today's school
//! date, the calendar, the class's roster, who asks); [`RollCall::evolve`] folds a
//! fact into the roll call, so that the roll call is its events.

use std::collections::{BTreeMap, HashMap};

use kernel::error::AppError;
use kernel::event_store::{Aggregate, DomainEvent};
use kernel::grpc::{Violation, invalid_argument, rule_broken};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus;
use time::Date;
use uuid::Uuid;

use super::{StudentMark, is_absence};
use crate::calendar::Calendar;

/// A roll call as its rules see it: not taken yet, or each student's mark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum RollCall {
    #[default]
    NotTaken,
    Taken {
        marks: BTreeMap<Uuid, StudentMark>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// The marks of the students listed; every other enrolled student is present,
    /// or absent with leave where an approved leave covers the session. On a roll
    /// call already taken, it corrects what changed.
    Submit { listed: Vec<StudentMark> },
    /// One student's mark changed, for a reason.
    Correct { mark: StudentMark, reason: String },
    /// A leave approved after the roll call was taken excuses the student.
    Excuse { student: Uuid, leave: Uuid },
}

/// Who asks to change marks already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Corrector {
    /// The principal: at any time while the month is open.
    Principal,
    /// The homeroom teacher, a vice principal or the IT officer: within the
    /// correction window.
    Staff,
    /// Nobody who corrects this class's marks.
    Nobody,
}

/// What the handler found for the rules to decide on.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) date: Date,
    pub(crate) today: Date,
    pub(crate) correction_window_days: i64,
    pub(crate) calendar: Calendar,
    /// Each student enrolled in the class on the date, by id, with the approved
    /// leave covering the roll call, if any.
    pub(crate) roster: Vec<(Uuid, Option<Uuid>)>,
    pub(crate) corrector: Corrector,
}

/// The facts of a roll call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RollCallEvent {
    /// Taken, with every enrolled student's mark.
    Submitted { marks: Vec<StudentMark> },
    /// A student absent in the roll call just taken.
    AbsenceRecorded { mark: StudentMark },
    /// A student's mark changed after the roll call was taken.
    MarkCorrected {
        from: AttendanceStatus,
        to: StudentMark,
        reason: String,
    },
}

/// The rule a command breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RollCallError {
    #[error("the date must not be in the future")]
    FutureDate,
    #[error("the school is closed on {date} ({reason}); no roll call is taken")]
    ClosureDay { date: Date, reason: String },
    #[error("{month} is closed for this class; the principal reopens it before any change")]
    MonthClosed { month: String },
    #[error("student {student} is not enrolled in this class on {date}")]
    NotEnrolled { student: Uuid, date: Date },
    #[error("roll call not found")]
    NotTaken,
    #[error("the student has no mark in this roll call")]
    NoMark { student: Uuid },
    #[error(
        "this roll call was taken more than the correction window ago; ask the principal to correct it"
    )]
    CorrectionWindowPassed,
    #[error("only the class's homeroom teacher or the school's leaders correct its marks")]
    NotACorrector,
}

impl RollCallError {
    /// The same rule in Vietnamese, for the people who read it.
    pub(crate) fn vietnamese(&self) -> String {
        match self {
            Self::FutureDate => "ngày điểm danh không được ở tương lai".to_owned(),
            Self::ClosureDay { date, reason } => {
                format!("trường nghỉ ngày {date} ({reason}); không điểm danh")
            }
            Self::MonthClosed { month } => {
                format!("tháng {month} của lớp đã khoá sổ; hiệu trưởng mở lại trước khi sửa")
            }
            Self::NotEnrolled { student, date } => {
                format!("học sinh {student} không học lớp này vào ngày {date}")
            }
            Self::NotTaken => "lớp chưa điểm danh buổi này".to_owned(),
            Self::NoMark { .. } => "học sinh không có trong buổi điểm danh này".to_owned(),
            Self::CorrectionWindowPassed => {
                "đã quá hạn sửa điểm danh; xin hiệu trưởng sửa".to_owned()
            }
            Self::NotACorrector => {
                "chỉ giáo viên chủ nhiệm hoặc ban giám hiệu được sửa điểm danh của lớp".to_owned()
            }
        }
    }
}

impl From<RollCallError> for AppError {
    /// The one place a broken rule becomes an answer: its code, the English message
    /// and the Vietnamese one (`google.rpc.LocalizedMessage`, vi-VN).
    fn from(error: RollCallError) -> Self {
        let code = match &error {
            RollCallError::FutureDate => {
                return AppError::Status(invalid_argument(&[Violation::new(
                    "date",
                    "must not be in the future",
                    "không được là ngày trong tương lai",
                )]));
            }
            RollCallError::NotTaken => tonic::Code::NotFound,
            RollCallError::CorrectionWindowPassed | RollCallError::NotACorrector => {
                tonic::Code::PermissionDenied
            }
            RollCallError::ClosureDay { .. }
            | RollCallError::MonthClosed { .. }
            | RollCallError::NotEnrolled { .. }
            | RollCallError::NoMark { .. } => tonic::Code::FailedPrecondition,
        };
        AppError::Status(rule_broken(code, error.to_string(), error.vietnamese()))
    }
}

impl Context {
    fn open(&self) -> Result<(), RollCallError> {
        match &self.calendar {
            Calendar::Open => Ok(()),
            Calendar::ClosureDay { reason } => Err(RollCallError::ClosureDay {
                date: self.date,
                reason: reason.clone(),
            }),
            Calendar::MonthClosed => Err(RollCallError::MonthClosed {
                month: kernel::dates::month_of(self.date),
            }),
        }
    }

    /// Marks already taken may change: the principal's, or staff's within the window.
    fn may_correct(&self) -> Result<(), RollCallError> {
        let window_start = self.today - time::Duration::days(self.correction_window_days);
        match self.corrector {
            Corrector::Principal => Ok(()),
            Corrector::Staff if self.date >= window_start => Ok(()),
            Corrector::Staff => Err(RollCallError::CorrectionWindowPassed),
            Corrector::Nobody => Err(RollCallError::NotACorrector),
        }
    }
}

/// The reason written on the corrections a new submission makes.
pub(crate) const RESUBMITTED: &str = "resubmitted";
/// The reason written on the corrections an approved leave makes.
pub(crate) const LEAVE_APPROVED: &str = "leave approved";

impl RollCall {
    fn submit(
        &self,
        listed: &[StudentMark],
        context: &Context,
    ) -> Result<Vec<RollCallEvent>, RollCallError> {
        if context.date > context.today {
            return Err(RollCallError::FutureDate);
        }
        context.open()?;
        if let Some(stranger) = listed.iter().find(|mark| {
            context
                .roster
                .binary_search_by_key(&mark.student_id, |(student, _)| *student)
                .is_err()
        }) {
            return Err(RollCallError::NotEnrolled {
                student: stranger.student_id,
                date: context.date,
            });
        }
        let listed: HashMap<Uuid, &StudentMark> =
            listed.iter().map(|mark| (mark.student_id, mark)).collect();
        let marks: Vec<StudentMark> = context
            .roster
            .iter()
            .map(|(student, leave)| match (listed.get(student), leave) {
                (Some(mark), _) => (*mark).clone(),
                (None, Some(leave)) => StudentMark::excused_by(*student, *leave),
                (None, None) => StudentMark::present(*student),
            })
            .collect();
        let before = match self {
            Self::NotTaken => {
                let absences = marks
                    .iter()
                    .filter(|mark| is_absence(mark.status))
                    .map(|mark| RollCallEvent::AbsenceRecorded { mark: mark.clone() })
                    .collect::<Vec<_>>();
                let mut events = vec![RollCallEvent::Submitted { marks }];
                events.extend(absences);
                return Ok(events);
            }
            Self::Taken { marks } => marks,
        };
        context.may_correct()?;
        Ok(marks
            .into_iter()
            .filter_map(|mark| {
                let previous = before.get(&mark.student_id);
                let from = previous.map_or(AttendanceStatus::Present, |m| m.status);
                let note_changed = previous.is_some_and(|m| m.note != mark.note);
                (from != mark.status || note_changed).then(|| RollCallEvent::MarkCorrected {
                    from,
                    to: mark,
                    reason: RESUBMITTED.to_owned(),
                })
            })
            .collect())
    }

    fn correct(
        &self,
        mark: &StudentMark,
        reason: &str,
        context: &Context,
    ) -> Result<Vec<RollCallEvent>, RollCallError> {
        context.may_correct()?;
        context.open()?;
        let Self::Taken { marks } = self else {
            return Err(RollCallError::NotTaken);
        };
        let current = marks.get(&mark.student_id).ok_or(RollCallError::NoMark {
            student: mark.student_id,
        })?;
        if current.status == mark.status && current.note == mark.note {
            return Ok(Vec::new());
        }
        Ok(vec![RollCallEvent::MarkCorrected {
            from: current.status,
            to: mark.clone(),
            reason: reason.to_owned(),
        }])
    }
}

impl RollCall {
    fn excuse(
        &self,
        student: Uuid,
        leave: Uuid,
        context: &Context,
    ) -> Result<Vec<RollCallEvent>, RollCallError> {
        let Self::Taken { marks } = self else {
            return Ok(Vec::new());
        };
        match marks.get(&student) {
            Some(mark) if mark.status != AttendanceStatus::AbsentExcused => {
                context.open()?;
                Ok(vec![RollCallEvent::MarkCorrected {
                    from: mark.status,
                    to: StudentMark {
                        status: AttendanceStatus::AbsentExcused,
                        leave_id: Some(leave),
                        ..mark.clone()
                    },
                    reason: LEAVE_APPROVED.to_owned(),
                }])
            }
            _ => Ok(Vec::new()),
        }
    }
}

impl Aggregate for RollCall {
    const TYPE: &'static str = "roll call";
    type Command = Command;
    type Context = Context;
    type Event = RollCallEvent;
    type Error = RollCallError;

    fn decide(
        &self,
        command: &Command,
        context: &Context,
    ) -> Result<Vec<RollCallEvent>, RollCallError> {
        match command {
            Command::Submit { listed } => self.submit(listed, context),
            Command::Correct { mark, reason } => self.correct(mark, reason, context),
            Command::Excuse { student, leave } => self.excuse(*student, *leave, context),
        }
    }

    fn evolve(self, event: &RollCallEvent) -> Self {
        match (self, event) {
            (_, RollCallEvent::Submitted { marks }) => Self::Taken {
                marks: marks
                    .iter()
                    .map(|mark| (mark.student_id, mark.clone()))
                    .collect(),
            },
            (Self::Taken { mut marks }, RollCallEvent::MarkCorrected { to, .. }) => {
                marks.insert(to.student_id, to.clone());
                Self::Taken { marks }
            }
            (state, _) => state,
        }
    }
}

impl DomainEvent for RollCallEvent {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>> {
        Ok(Some(match event_type {
            "RollCallSubmitted" => {
                let submitted: pb::RollCallSubmitted = serde_json::from_value(data)?;
                Self::Submitted {
                    marks: submitted
                        .marks
                        .iter()
                        .map(StudentMark::from_proto)
                        .collect::<anyhow::Result<_>>()?,
                }
            }
            "MarkCorrected" => {
                let corrected: pb::MarkCorrected = serde_json::from_value(data)?;
                Self::MarkCorrected {
                    from: AttendanceStatus::try_from(corrected.from)?,
                    to: StudentMark {
                        student_id: corrected.student_id.parse()?,
                        status: AttendanceStatus::try_from(corrected.to)?,
                        note: corrected.note,
                        leave_id: school::enrolments::optional_uuid(
                            "leave_id",
                            &corrected.leave_id,
                        )?,
                    },
                    reason: corrected.reason,
                }
            }
            // Absences repeat what the submission holds.
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests;

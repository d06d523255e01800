//! The rules of a school's calendar, as a decider without I/O: the principal
//! closes days on which no roll call has been taken (a closure day has none).
//! [`SchoolCalendar::evolve`] folds the calendar's own events.

use kernel::error::AppError;
use kernel::event_store::{Aggregate, DomainEvent};
use kernel::grpc::rule_broken;
use time::Date;

/// A school's closure days, as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SchoolCalendar {
    pub(crate) closures: Vec<(Date, Date)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalendarCommand {
    DeclareClosure {
        from: Date,
        to: Date,
        reason: String,
    },
}

/// What the rules need to know: the first day of the range with a roll call taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CalendarContext {
    pub(crate) first_roll_call: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalendarEvent {
    ClosureDeclared {
        from: Date,
        to: Date,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CalendarError {
    #[error("to_date must not be before from_date")]
    EndsBeforeItStarts,
    #[error("roll calls were already taken on {day}; a closure day has none")]
    RollCallsTaken { day: Date },
}

impl From<CalendarError> for AppError {
    /// The one place a broken rule of a school's calendar becomes an answer.
    fn from(error: CalendarError) -> Self {
        let (code, vietnamese) = match error {
            CalendarError::EndsBeforeItStarts => (
                tonic::Code::InvalidArgument,
                "ngày kết thúc không được trước ngày bắt đầu".to_owned(),
            ),
            CalendarError::RollCallsTaken { day } => (
                tonic::Code::FailedPrecondition,
                format!("đã điểm danh ngày {day}; ngày nghỉ không có điểm danh"),
            ),
        };
        AppError::Status(rule_broken(code, error.to_string(), vietnamese))
    }
}

impl Aggregate for SchoolCalendar {
    const TYPE: &'static str = "school calendar";
    type Command = CalendarCommand;
    type Context = CalendarContext;
    type Event = CalendarEvent;
    type Error = CalendarError;

    fn decide(
        &self,
        command: &CalendarCommand,
        context: &CalendarContext,
    ) -> Result<Vec<CalendarEvent>, CalendarError> {
        let CalendarCommand::DeclareClosure { from, to, reason } = command;
        if to < from {
            return Err(CalendarError::EndsBeforeItStarts);
        }
        if let Some(day) = context.first_roll_call {
            return Err(CalendarError::RollCallsTaken { day });
        }
        Ok(vec![CalendarEvent::ClosureDeclared {
            from: *from,
            to: *to,
            reason: reason.clone(),
        }])
    }

    fn evolve(mut self, event: &CalendarEvent) -> Self {
        let CalendarEvent::ClosureDeclared { from, to, .. } = event;
        self.closures.push((*from, *to));
        self
    }
}

impl DomainEvent for CalendarEvent {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>> {
        if event_type != "SchoolClosureDeclared" {
            return Ok(None);
        }
        let declared: lienlac_proto::attendance::v1::SchoolClosureDeclared =
            serde_json::from_value(data)?;
        let date = |text: &str| {
            kernel::dates::parse(text).ok_or_else(|| anyhow::anyhow!("{text:?} is not a date"))
        };
        Ok(Some(Self::ClosureDeclared {
            from: date(&declared.from_date)?,
            to: date(&declared.to_date)?,
            reason: declared.reason,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn declare(from: Date, to: Date) -> CalendarCommand {
        CalendarCommand::DeclareClosure {
            from,
            to,
            reason: "Tết".into(),
        }
    }

    fn declared(from: Date, to: Date) -> CalendarEvent {
        CalendarEvent::ClosureDeclared {
            from,
            to,
            reason: "Tết".into(),
        }
    }

    /// A case's name, the calendar given, the command, the context, and what follows.
    type Case<'a> = (
        &'static str,
        &'a SchoolCalendar,
        CalendarCommand,
        CalendarContext,
        Result<Vec<CalendarEvent>, CalendarError>,
    );

    #[test]
    fn given_a_calendar_when_days_are_closed_then_these_facts_or_this_rule() {
        let (start, end) = (date!(2026 - 02 - 16), date!(2026 - 02 - 20));
        let nothing_taken = CalendarContext {
            first_roll_call: None,
        };
        let taken_on_tuesday = CalendarContext {
            first_roll_call: Some(date!(2026 - 02 - 17)),
        };
        let tet = SchoolCalendar::default().evolve(&declared(start, end));
        let cases: [Case<'_>; 5] = [
            (
                "a week with no roll call closes",
                &SchoolCalendar::default(),
                declare(start, end),
                nothing_taken,
                Ok(vec![declared(start, end)]),
            ),
            (
                "a single day closes",
                &SchoolCalendar::default(),
                declare(start, start),
                nothing_taken,
                Ok(vec![declared(start, start)]),
            ),
            (
                "a range that ends before it starts is refused",
                &SchoolCalendar::default(),
                declare(end, start),
                nothing_taken,
                Err(CalendarError::EndsBeforeItStarts),
            ),
            (
                "a day with a roll call taken is not closed",
                &SchoolCalendar::default(),
                declare(start, end),
                taken_on_tuesday,
                Err(CalendarError::RollCallsTaken {
                    day: date!(2026 - 02 - 17),
                }),
            ),
            (
                "closed days close again without harm",
                &tet,
                declare(start, end),
                nothing_taken,
                Ok(vec![declared(start, end)]),
            ),
        ];
        for (case, given, when, context, then) in cases {
            assert_eq!(given.decide(&when, &context), then, "{case}");
        }
        assert_eq!(tet.closures, vec![(start, end)]);
    }
}

//! The rules of a class's month, as a decider without I/O: a month under way or
//! past closes (publishing its totals), the principal reopens a closed one for
//! corrections, and closing it again amends the totals. [`ClassMonth::evolve`]
//! folds the month's own events.

use kernel::error::AppError;
use kernel::event_store::{Aggregate, DomainEvent};
use kernel::grpc::rule_broken;
use time::Date;

/// A class's month as its rules see it: open until closed; how often it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClassMonth {
    pub(crate) closed: bool,
    pub(crate) times_closed: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MonthCommand {
    Close,
    Reopen,
}

/// What the rules need to know: the month's first day and today's school date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MonthContext {
    pub(crate) first_day: Date,
    pub(crate) today: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MonthEvent {
    /// Closed; `amended` when it had been closed before.
    Closed {
        amended: bool,
    },
    Reopened,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MonthError {
    #[error("the month has not begun; only a month under way or past closes")]
    NotBegun,
    #[error("the month is already closed for this class")]
    AlreadyClosed,
    #[error("the month is not closed for this class")]
    NotClosed,
}

impl From<MonthError> for AppError {
    /// The one place a broken rule of a class's month becomes an answer.
    fn from(error: MonthError) -> Self {
        let vietnamese = match error {
            MonthError::NotBegun => {
                "tháng chưa bắt đầu; chỉ khoá sổ tháng đang diễn ra hoặc đã qua"
            }
            MonthError::AlreadyClosed => "tháng này của lớp đã khoá sổ",
            MonthError::NotClosed => "tháng này của lớp chưa khoá sổ",
        };
        AppError::Status(rule_broken(
            tonic::Code::FailedPrecondition,
            error.to_string(),
            vietnamese,
        ))
    }
}

impl Aggregate for ClassMonth {
    const TYPE: &'static str = "class month";
    type Command = MonthCommand;
    type Context = MonthContext;
    type Event = MonthEvent;
    type Error = MonthError;

    fn decide(
        &self,
        command: &MonthCommand,
        context: &MonthContext,
    ) -> Result<Vec<MonthEvent>, MonthError> {
        match command {
            MonthCommand::Close if context.first_day > context.today => Err(MonthError::NotBegun),
            MonthCommand::Close if self.closed => Err(MonthError::AlreadyClosed),
            MonthCommand::Close => Ok(vec![MonthEvent::Closed {
                amended: self.times_closed > 0,
            }]),
            MonthCommand::Reopen if !self.closed => Err(MonthError::NotClosed),
            MonthCommand::Reopen => Ok(vec![MonthEvent::Reopened]),
        }
    }

    fn evolve(self, event: &MonthEvent) -> Self {
        match event {
            MonthEvent::Closed { .. } => Self {
                closed: true,
                times_closed: self.times_closed + 1,
            },
            MonthEvent::Reopened => Self {
                closed: false,
                ..self
            },
        }
    }
}

impl DomainEvent for MonthEvent {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>> {
        Ok(match event_type {
            "MonthClosed" => {
                let closed: lienlac_proto::attendance::v1::MonthClosed =
                    serde_json::from_value(data)?;
                Some(Self::Closed {
                    amended: closed.amended,
                })
            }
            "MonthReopened" => Some(Self::Reopened),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MonthCommand::{Close, Reopen};
    use MonthEvent::{Closed, Reopened};

    const TODAY: Date = time::macros::date!(2025 - 10 - 15);

    fn on(first_day: Date) -> MonthContext {
        MonthContext {
            first_day,
            today: TODAY,
        }
    }

    #[test]
    fn given_a_month_when_it_is_closed_or_reopened_then_these_facts_or_this_rule() {
        let october = on(time::macros::date!(2025 - 10 - 01));
        let september = on(time::macros::date!(2025 - 09 - 01));
        let november = on(time::macros::date!(2025 - 11 - 01));
        let closed = vec![Closed { amended: false }];
        let reopened = vec![Closed { amended: false }, Reopened];
        let table = [
            (
                "the month under way closes",
                vec![],
                Close,
                october,
                Ok(vec![Closed { amended: false }]),
            ),
            (
                "a past month closes",
                vec![],
                Close,
                september,
                Ok(vec![Closed { amended: false }]),
            ),
            (
                "a month to come does not",
                vec![],
                Close,
                november,
                Err(MonthError::NotBegun),
            ),
            (
                "a closed month is not closed twice",
                closed.clone(),
                Close,
                october,
                Err(MonthError::AlreadyClosed),
            ),
            (
                "a closed month reopens",
                closed,
                Reopen,
                october,
                Ok(vec![Reopened]),
            ),
            (
                "an open month does not reopen",
                vec![],
                Reopen,
                october,
                Err(MonthError::NotClosed),
            ),
            (
                "closing again after a reopening amends",
                reopened.clone(),
                Close,
                october,
                Ok(vec![Closed { amended: true }]),
            ),
            (
                "a reopened month does not reopen again",
                reopened,
                Reopen,
                october,
                Err(MonthError::NotClosed),
            ),
        ];
        for (name, given, when, context, then) in table {
            let month = given
                .iter()
                .fold(ClassMonth::default(), |month, event| month.evolve(event));
            assert_eq!(month.decide(&when, &context), then, "{name}");
        }
    }
}

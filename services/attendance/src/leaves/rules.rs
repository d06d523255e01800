//! The rules of one leave request, as a decider without I/O: a request is decided
//! once, approved or rejected. [`Leave::evolve`] folds the request's own events.

use kernel::error::AppError;
use kernel::event_store::{Aggregate, DomainEvent};
use kernel::grpc::rule_broken;
use lienlac_proto::attendance::v1 as pb;

/// A leave request as its rules see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Leave {
    #[default]
    NotRequested,
    Pending,
    Decided {
        approved: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaveCommand {
    Decide { approve: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaveEvent {
    Requested,
    Decided { approved: bool },
}

fn decision(approved: bool) -> &'static str {
    if approved { "approved" } else { "rejected" }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LeaveError {
    #[error("leave request not found")]
    NotRequested,
    #[error("this leave request was already {}", decision(*.approved))]
    AlreadyDecided { approved: bool },
}

impl From<LeaveError> for AppError {
    /// The one place a broken rule of a leave request becomes an answer.
    fn from(error: LeaveError) -> Self {
        match error {
            LeaveError::NotRequested => AppError::NotFound("leave request"),
            LeaveError::AlreadyDecided { approved } => AppError::Status(rule_broken(
                tonic::Code::FailedPrecondition,
                error.to_string(),
                if approved {
                    "đơn xin phép này đã được duyệt"
                } else {
                    "đơn xin phép này đã bị từ chối"
                },
            )),
        }
    }
}

impl Aggregate for Leave {
    const TYPE: &'static str = "leave request";
    type Command = LeaveCommand;
    type Context = ();
    type Event = LeaveEvent;
    type Error = LeaveError;

    fn decide(&self, command: &LeaveCommand, _: &()) -> Result<Vec<LeaveEvent>, LeaveError> {
        let LeaveCommand::Decide { approve } = *command;
        match *self {
            Self::NotRequested => Err(LeaveError::NotRequested),
            Self::Pending => Ok(vec![LeaveEvent::Decided { approved: approve }]),
            Self::Decided { approved } => Err(LeaveError::AlreadyDecided { approved }),
        }
    }

    fn evolve(self, event: &LeaveEvent) -> Self {
        match *event {
            LeaveEvent::Requested => Self::Pending,
            LeaveEvent::Decided { approved } => Self::Decided { approved },
        }
    }
}

impl DomainEvent for LeaveEvent {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>> {
        Ok(match event_type {
            "LeaveRequested" => Some(Self::Requested),
            "LeaveDecided" => {
                let decided: pb::LeaveDecided = serde_json::from_value(data)?;
                Some(Self::Decided {
                    approved: decided.approved,
                })
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_request_when_it_is_decided_then_once_only() {
        let approve = LeaveCommand::Decide { approve: true };
        let reject = LeaveCommand::Decide { approve: false };
        let requested = vec![LeaveEvent::Requested];
        let approved = vec![
            LeaveEvent::Requested,
            LeaveEvent::Decided { approved: true },
        ];
        let rejected = vec![
            LeaveEvent::Requested,
            LeaveEvent::Decided { approved: false },
        ];
        let table = [
            (
                "nothing to decide",
                vec![],
                approve,
                Err(LeaveError::NotRequested),
            ),
            (
                "a pending request is approved",
                requested.clone(),
                approve,
                Ok(vec![LeaveEvent::Decided { approved: true }]),
            ),
            (
                "or rejected",
                requested,
                reject,
                Ok(vec![LeaveEvent::Decided { approved: false }]),
            ),
            (
                "an approved request stays approved",
                approved.clone(),
                reject,
                Err(LeaveError::AlreadyDecided { approved: true }),
            ),
            (
                "and is not approved twice",
                approved,
                approve,
                Err(LeaveError::AlreadyDecided { approved: true }),
            ),
            (
                "a rejected request stays rejected",
                rejected,
                approve,
                Err(LeaveError::AlreadyDecided { approved: false }),
            ),
        ];
        for (name, given, when, then) in table {
            let leave = given
                .iter()
                .fold(Leave::default(), |leave, event| leave.evolve(event));
            assert_eq!(leave.decide(&when, &()), then, "{name}");
        }
    }

    #[test]
    fn a_decided_request_says_how_it_was_decided() {
        assert_eq!(
            LeaveError::AlreadyDecided { approved: true }.to_string(),
            "this leave request was already approved"
        );
    }
}

//! The rules of administering an account, as a decider without I/O: an
//! administrator locks it (once), unlocks it when it is locked for any reason, and
//! resets it to a new activation code. [`Account::evolve`] folds the account's own
//! events. Who may administer which account is `authority.rs`; signing in is
//! `sign_in_rules.rs`.

use kernel::error::AppError;
use kernel::event_store::{Aggregate, DomainEvent};
use lienlac_proto::identity::v2 as pb;

use crate::account_state::{AccountStatus, LOCKED_BY_ADMINISTRATOR, locked_by_administrator};
use crate::events::internal;

/// An account as its events made it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Account {
    /// `None` before it is issued.
    pub(crate) status: Option<AccountStatus>,
    pub(crate) locked_by_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccountCommand {
    Lock { reason: String },
    Unlock,
    Reset,
}

/// What the rules need to know beyond the account's events: whether failed
/// sign-ins lock it now (that lock lives with the credentials).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AccountContext {
    pub(crate) locked_by_sign_ins: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccountEvent {
    Issued {
        status: AccountStatus,
    },
    Activated,
    /// Back to issued, with a new activation code.
    Reissued,
    Locked {
        by_admin: bool,
        reason: String,
    },
    Unlocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AccountError {
    #[error("account not found")]
    NotIssued,
}

impl From<AccountError> for AppError {
    /// The one place a broken rule of an account becomes an answer.
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::NotIssued => AppError::NotFound("account"),
        }
    }
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Context = AccountContext;
    type Event = AccountEvent;
    type Error = AccountError;

    fn decide(
        &self,
        command: &AccountCommand,
        context: &AccountContext,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        if self.status.is_none() {
            return Err(AccountError::NotIssued);
        }
        Ok(match command {
            AccountCommand::Lock { .. } if self.locked_by_admin => vec![],
            AccountCommand::Lock { reason } => vec![AccountEvent::Locked {
                by_admin: true,
                reason: reason.clone(),
            }],
            AccountCommand::Unlock if self.locked_by_admin || context.locked_by_sign_ins => {
                vec![AccountEvent::Unlocked]
            }
            AccountCommand::Unlock => vec![],
            AccountCommand::Reset => vec![AccountEvent::Reissued],
        })
    }

    fn evolve(self, event: &AccountEvent) -> Self {
        match event {
            AccountEvent::Issued { status } => Self {
                status: Some(*status),
                ..self
            },
            AccountEvent::Activated => Self {
                status: Some(AccountStatus::Active),
                ..self
            },
            AccountEvent::Reissued => Self {
                status: Some(AccountStatus::Issued),
                ..self
            },
            AccountEvent::Locked { by_admin, .. } => Self {
                locked_by_admin: self.locked_by_admin || *by_admin,
                ..self
            },
            AccountEvent::Unlocked => Self {
                locked_by_admin: false,
                ..self
            },
        }
    }
}

impl DomainEvent for AccountEvent {
    fn from_stored(event_type: &str, data: serde_json::Value) -> anyhow::Result<Option<Self>> {
        Ok(Some(match event_type {
            "AccountIssued" => Self::Issued {
                status: AccountStatus::Issued,
            },
            internal::OPERATOR_ACCOUNT_CREATED => Self::Issued {
                status: AccountStatus::Active,
            },
            "AccountActivated" => Self::Activated,
            internal::ACTIVATION_REISSUED => Self::Reissued,
            "AccountLocked" => {
                let locked: pb::AccountLocked = serde_json::from_value(data)?;
                Self::Locked {
                    by_admin: locked_by_administrator(&locked.reason),
                    reason: locked.reason,
                }
            }
            "AccountUnlocked" => Self::Unlocked,
            _ => return Ok(None),
        }))
    }
}

/// The reason an administrator's lock publishes.
pub(crate) fn lock_reason(given: &str) -> String {
    if given.is_empty() {
        LOCKED_BY_ADMINISTRATOR.to_owned()
    } else {
        format!("{LOCKED_BY_ADMINISTRATOR}: {given}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountCommand::{Lock, Reset, Unlock};

    fn lock(reason: &str) -> AccountCommand {
        Lock {
            reason: reason.into(),
        }
    }

    fn locked_by_admin(reason: &str) -> AccountEvent {
        AccountEvent::Locked {
            by_admin: true,
            reason: reason.into(),
        }
    }

    fn issued() -> AccountEvent {
        AccountEvent::Issued {
            status: AccountStatus::Issued,
        }
    }

    fn failures_lock() -> AccountEvent {
        AccountEvent::Locked {
            by_admin: false,
            reason: crate::account_state::LOCKED_BY_SIGN_INS.into(),
        }
    }

    /// A case's name, the events given, the command and context, and what follows.
    type Case = (
        &'static str,
        Vec<AccountEvent>,
        AccountCommand,
        AccountContext,
        Result<Vec<AccountEvent>, AccountError>,
    );

    #[test]
    fn given_an_account_when_an_administrator_acts_then_these_facts_or_this_rule() {
        let quiet = AccountContext::default();
        let failing = AccountContext {
            locked_by_sign_ins: true,
        };
        let cases: Vec<Case> = vec![
            (
                "nobody administers an account never issued",
                vec![],
                lock(""),
                quiet,
                Err(AccountError::NotIssued),
            ),
            (
                "an issued account is locked",
                vec![issued()],
                lock("mất điện thoại"),
                quiet,
                Ok(vec![locked_by_admin("mất điện thoại")]),
            ),
            (
                "an active account is locked",
                vec![issued(), AccountEvent::Activated],
                lock(""),
                quiet,
                Ok(vec![locked_by_admin("")]),
            ),
            (
                "a locked account is not locked twice",
                vec![issued(), locked_by_admin("a")],
                lock("b"),
                quiet,
                Ok(vec![]),
            ),
            (
                "a lock after failed sign-ins is no administrator's lock",
                vec![issued(), failures_lock()],
                lock(""),
                quiet,
                Ok(vec![locked_by_admin("")]),
            ),
            (
                "an administrator's lock is undone",
                vec![issued(), locked_by_admin("a")],
                Unlock,
                quiet,
                Ok(vec![AccountEvent::Unlocked]),
            ),
            (
                "a lock for failed sign-ins is undone",
                vec![issued()],
                Unlock,
                failing,
                Ok(vec![AccountEvent::Unlocked]),
            ),
            (
                "an account not locked has nothing to undo",
                vec![issued(), locked_by_admin("a"), AccountEvent::Unlocked],
                Unlock,
                quiet,
                Ok(vec![]),
            ),
            (
                "an active account is reset to a new code",
                vec![issued(), AccountEvent::Activated],
                Reset,
                quiet,
                Ok(vec![AccountEvent::Reissued]),
            ),
            (
                "a reset keeps an administrator's lock",
                vec![issued(), locked_by_admin("a"), AccountEvent::Reissued],
                lock(""),
                quiet,
                Ok(vec![]),
            ),
            (
                "nobody resets an account never issued",
                vec![],
                Reset,
                quiet,
                Err(AccountError::NotIssued),
            ),
        ];
        for (case, given, when, context, then) in cases {
            let account = given.iter().fold(Account::default(), |a, e| a.evolve(e));
            assert_eq!(account.decide(&when, &context), then, "{case}");
        }
    }

    #[test]
    fn an_account_is_what_its_events_made_it() {
        let account = [
            issued(),
            AccountEvent::Activated,
            locked_by_admin(""),
            AccountEvent::Reissued,
        ]
        .iter()
        .fold(Account::default(), |a, e| a.evolve(e));
        assert_eq!(
            account,
            Account {
                status: Some(AccountStatus::Issued),
                locked_by_admin: true
            }
        );
        assert_eq!(lock_reason(""), "by_administrator");
        assert_eq!(lock_reason("mất máy"), "by_administrator: mất máy");
    }
}
